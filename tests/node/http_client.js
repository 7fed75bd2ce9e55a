// One request with Node's built-in http module; prints what happened as one JSON object.
//
//   node tests/node/http_client.js URL [--method M] [--body-bytes N] [--expect-continue]
//                                     [--on-upgrade] [--timeout-ms MS]
//
// Events are recorded in order: "information" (each 1xx, with headers), "continue",
// "upgrade", "response", "aborted", "error" (with code and message, for the request or the
// response), "end", "close". The body is returned in base64. An 'upgrade' listener is
// attached only with --on-upgrade: without one Node destroys a switched socket silently.
// Built-in modules only.
'use strict';
const http = require('http');

const args = process.argv.slice(2);
const url = new URL(args[0]);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const method = option('--method', 'GET');
const bodyBytes = Number(option('--body-bytes', '0'));
const expectContinue = args.includes('--expect-continue');
const timeoutMs = Number(option('--timeout-ms', '5000'));
const onUpgrade = args.includes('--on-upgrade');

const events = [];
const chunks = [];
let response = null;
let printed = false;

function finish(reason) {
  if (printed) return;
  printed = true;
  const body = Buffer.concat(chunks);
  process.stdout.write(JSON.stringify({
    reason,
    events,
    status: response ? response.statusCode : null,
    complete: response ? response.complete : null,
    received: body.length,
    body: body.toString('base64'),
  }) + '\n');
  process.exit(0);
}

const headers = {};
if (bodyBytes) headers['Content-Length'] = String(bodyBytes);
if (expectContinue) headers['Expect'] = '100-continue';
const body = Buffer.alloc(bodyBytes, 'u');

const req = http.request({
  host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers,
  agent: false,
});
req.on('information', (info) => {
  events.push({ event: 'information', status: info.statusCode, headers: info.headers });
});
req.on('continue', () => {
  events.push({ event: 'continue' });
  req.end(body);
});
if (onUpgrade) {
  req.on('upgrade', (res, socket) => {
    events.push({ event: 'upgrade', status: res.statusCode });
    socket.destroy();
  });
}
req.on('response', (res) => {
  response = res;
  events.push({ event: 'response', status: res.statusCode, headers: res.headers });
  res.on('data', (chunk) => chunks.push(chunk));
  res.on('aborted', () => events.push({ event: 'aborted' }));
  res.on('error', (err) => events.push({ event: 'error', on: 'response', code: err.code, message: err.message }));
  res.on('end', () => events.push({ event: 'end' }));
  res.on('close', () => {
    events.push({ event: 'close', on: 'response' });
    finish('response closed');
  });
});
req.on('error', (err) => {
  events.push({ event: 'error', on: 'request', code: err.code, message: err.message });
});
req.on('close', () => {
  events.push({ event: 'close', on: 'request' });
  // A response, if any, reports its own close; without one the request's close is the end.
  setImmediate(() => { if (!response || response.destroyed) finish('request closed'); });
});
setTimeout(() => finish('timeout'), timeoutMs).unref();
if (expectContinue) req.flushHeaders();
else req.end(body);
