'use strict';
// The reference demo's test runner (awwright/http-progress demo-progress/test-runner-client.js,
// its test-runner-client.js): for tests 0, 1 and 2 in turn, GET /test/data and stream it to a
// resumable POST on /test/<i>; a test passes only if the (possibly reconstructed) response
// body is exactly "Finished job result!\r\n". Usage: node test-runner-client.cjs BASE_URL

const http = require('http');
const lib = require('./client-lib.cjs');

const EXPECTED = 'Finished job result!\r\n';

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, resolve).on('error', reject);
  });
}

async function runTest(base, i) {
  console.log(`Run test ${i}`);
  const data = await get(`${base}/test/data`);
  const req = lib.request(`${base}/test/${i}`, {
    method: 'POST',
    headers: { 'Content-Length': data.headers['content-length'] },
  });
  req.flushHeaders();
  const response = new Promise((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  data.pipe(req);
  const res = await response;
  const body = res.body.toString();
  process.stdout.write(body);
  console.log(`End test ${i}`);
  if (body !== EXPECTED) {
    console.log(`Test ${i} failed: status ${res.statusCode}, body ${JSON.stringify(body)}`);
    return false;
  }
  return true;
}

async function runAll(base) {
  let passed = 0;
  for (const i of [0, 1, 2]) {
    if (await runTest(base, i)) passed += 1;
  }
  console.log(`${passed} of 3 tests passed`);
  process.exitCode = passed === 3 ? 0 : 1;
}

runAll(process.argv[2] || 'http://localhost:18080');
