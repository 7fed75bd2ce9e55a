// Records what Node's built-in http2 client reports for one request, as one JSON document.
//
//   node http2.js METHOD URL [BODY]
//
// Every 'headers' event of the stream (a 1xx: informational HEADERS) is kept with its
// headers, in arrival order; then the final 'response' headers, the body bytes that came,
// its trailers, the stream's close code (rstCode: 8 for a RST_STREAM CANCEL) and any GOAWAY the session
// got. https: URLs trust the CA file in MP_CA_FILE. Built-in modules only.
'use strict';

const http2 = require('node:http2');
const fs = require('node:fs');

const [method, url, body] = process.argv.slice(2);
if (!method || !url) {
  process.stderr.write('usage: node http2.js METHOD URL [BODY]\n');
  process.exit(2);
}

const result = {
  information: [], response: null, body: '', bodyBytes: 0, trailers: null, rstCode: null,
  goaway: null, error: null,
};
let printed = false;

function finish() {
  if (printed) return;
  printed = true;
  process.stdout.write(JSON.stringify(result) + '\n');
  session.destroy();
}

const target = new URL(url);
const options = {};
if (process.env.MP_CA_FILE) options.ca = fs.readFileSync(process.env.MP_CA_FILE);
const session = http2.connect(target.origin, options);
session.on('error', (err) => { result.error = result.error || String(err.code || err); });
session.on('goaway', (errorCode, lastStreamID) => {
  result.goaway = { errorCode, lastStreamID };
});

const timeoutMs = Number(process.env.MP_TIMEOUT_MS || 10000);
const timer = setTimeout(() => { result.error = `timed out after ${timeoutMs} ms`; finish(); }, timeoutMs);

const req = session.request({ ':method': method, ':path': target.pathname + target.search });
req.on('headers', (headers) => {
  result.information.push({ status: headers[':status'], headers });
});
req.on('response', (headers) => { result.response = { status: headers[':status'], headers }; });
req.on('trailers', (headers) => { result.trailers = headers; });
req.on('data', (chunk) => {
  result.bodyBytes += chunk.length;
  result.body += chunk.toString('latin1');
});
req.on('error', (err) => { result.error = result.error || String(err.code || err); });
req.on('close', () => {
  result.rstCode = req.rstCode;
  clearTimeout(timer);
  // A GOAWAY may come just after the stream's end: give it a moment.
  setTimeout(finish, 50);
});
if (body) req.end(body); else req.end();
