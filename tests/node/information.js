// Records what Node's built-in http client reports for one request, as one JSON document.
//
//   node information.js METHOD URL
//
// Every 'information' event (1xx other than 101) is kept with its statusCode, statusMessage,
// headers and rawHeaders, in arrival order; then the final 'response' with its body. Node is
// the one mainstream client with a first-class API for interim responses, so the
// suite uses it to see 102 Progress and 103 Link lines the way a real client does.
// Built-in modules only: no npm install on a fresh machine.
'use strict';

const http = require('node:http');
const https = require('node:https');

const [method, url] = process.argv.slice(2);
if (!method || !url) {
  process.stderr.write('usage: node information.js METHOD URL\n');
  process.exit(2);
}

const result = { information: [], response: null, error: null };
let printed = false;

function finish(code) {
  if (printed) return;
  printed = true;
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = code;
}

// https: URLs go through node:https, which trusts NODE_EXTRA_CA_CERTS (the server's CA).
const client = url.startsWith('https:') ? https : http;
// MP_TIMEOUT_MS: how long the socket may stay silent, the TLS handshake included.
const timeoutMs = Number(process.env.MP_TIMEOUT_MS || 10000);
const req = client.request(url, { method, agent: false, timeout: timeoutMs });
req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));

req.on('information', (info) => {
  result.information.push({
    statusCode: info.statusCode,
    statusMessage: info.statusMessage,
    httpVersion: info.httpVersion,
    headers: info.headers,
    rawHeaders: info.rawHeaders,
  });
});

req.on('response', (res) => {
  const chunks = [];
  res.on('data', (chunk) => chunks.push(chunk));
  res.on('end', () => {
    result.response = {
      statusCode: res.statusCode,
      statusMessage: res.statusMessage,
      httpVersion: res.httpVersion,
      headers: res.headers,
      rawHeaders: res.rawHeaders,
      body: Buffer.concat(chunks).toString('latin1'),
      complete: res.complete,
    };
    finish(0);
  });
  res.on('error', (err) => {
    result.error = `response: ${err.code || ''} ${err.message}`;
    finish(1);
  });
});

req.on('error', (err) => {
  result.error = `request: ${err.code || ''} ${err.message}`;
  finish(1);
});

req.on('close', () => {
  if (!printed) {
    result.error = result.error || 'request closed without a response';
    finish(1);
  }
});

req.end();
