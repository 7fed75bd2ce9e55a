// The workflow of draft-wright-http-progress, as a Node application would follow it with the
// built-in http client, printed as one JSON document:
//
//   node lro_workflow.js ORIGIN PATH WAIT_SECONDS
//
//   1. POST PATH with "Prefer: processing, respond-async, wait=WAIT_SECONDS": every 102 arrives
//      as an 'information' event, then the 202 Accepted names the status document;
//   2. GET the status document with "Prefer: processing": more 102s, then 200 with Status-URI;
//   3. DELETE the status document;
//   4. GET it again: 404.
//
// Times are milliseconds since the POST was sent. Built-in modules only.
'use strict';

const http = require('node:http');

const [origin, path, wait] = process.argv.slice(2);
if (!origin || !path || wait === undefined) {
  process.stderr.write('usage: node lro_workflow.js ORIGIN PATH WAIT_SECONDS\n');
  process.exit(2);
}

const started = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - started) / 1e6;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function exchange(method, target, headers) {
  return new Promise((resolve, reject) => {
    const step = { method, target, information: [], response: null };
    const req = http.request(new URL(target, origin), { method, headers, agent });
    req.setTimeout(10000, () => req.destroy(new Error('timed out after 10 s')));
    req.on('information', (info) => {
      step.information.push({
        statusCode: info.statusCode,
        statusMessage: info.statusMessage,
        rawHeaders: info.rawHeaders,
        at: now(),
      });
    });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        step.response = {
          statusCode: res.statusCode,
          statusMessage: res.statusMessage,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: now(),
        };
        resolve(step);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  const steps = [];
  const post = await exchange('POST', path, {
    Prefer: `processing, respond-async, wait=${wait}`,
    'Content-Length': '0',
  });
  steps.push(post);
  const status = post.response.headers.location;
  steps.push(await exchange('GET', status, { Prefer: 'processing' }));
  steps.push(await exchange('DELETE', status, {}));
  steps.push(await exchange('GET', status, {}));
  return steps;
}

main().then(
  (steps) => {
    process.stdout.write(JSON.stringify({ steps, error: null }) + '\n');
    agent.destroy();
  },
  (err) => {
    process.stdout.write(JSON.stringify({ steps: [], error: `${err.code || ''} ${err.message}` }) + '\n');
    agent.destroy();
    process.exitCode = 1;
  },
);
