// What Node's built-in http client does with Expect: 100-continue, as one JSON document.
//
//   node continue.js URL BODY_BYTES FALLBACK_MS GIVE_UP_MS
//
// Node never sends the body by itself: the application sends it from the 'continue' event
// (tests/clients/test_clients_continue.py). This script does what a careful application would: it sends the
// body on 'continue', or after FALLBACK_MS without one (0: never, as most code is written),
// and gives up after GIVE_UP_MS. Times are milliseconds since the request was sent.
// Built-in modules only: no npm install on a fresh machine.
'use strict';

const http = require('node:http');

const [url, size, fallbackArg, giveUpArg] = process.argv.slice(2);
if (!url || size === undefined) {
  process.stderr.write('usage: node continue.js URL BODY_BYTES FALLBACK_MS GIVE_UP_MS\n');
  process.exit(2);
}
const body = Buffer.alloc(Number(size), 'x');
const fallbackMs = Number(fallbackArg || 0);
const giveUpMs = Number(giveUpArg || 5000);

const started = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - started) / 1e6;
const result = {
  continueAt: null, // when 'continue' fired
  bodySentAt: null, // when the body went out
  sentWithoutContinue: false, // the fallback timer sent it
  information: [], // every 'information' event (100 included)
  response: null,
  error: null,
};
const timers = [];
let printed = false;
let sent = false;

const req = http.request(url, {
  method: 'POST',
  agent: false,
  headers: { Expect: '100-continue', 'Content-Length': String(body.length) },
});

function finish() {
  if (printed) return;
  printed = true;
  timers.forEach(clearTimeout);
  process.stdout.write(JSON.stringify(result) + '\n');
  req.destroy();
}

function sendBody() {
  if (sent) return;
  sent = true;
  result.bodySentAt = now();
  req.end(body);
}

req.on('information', (info) => {
  result.information.push({
    statusCode: info.statusCode,
    statusMessage: info.statusMessage,
    rawHeaders: info.rawHeaders,
    at: now(),
  });
});

req.on('continue', () => {
  result.continueAt = now();
  sendBody();
});

req.on('response', (res) => {
  const chunks = [];
  res.on('data', (chunk) => chunks.push(chunk));
  res.on('end', () => {
    result.response = {
      statusCode: res.statusCode,
      headers: res.headers,
      body: Buffer.concat(chunks).toString('latin1'),
      at: now(),
    };
    finish();
  });
});

req.on('error', (err) => {
  if (!printed) {
    result.error = `${err.code || ''} ${err.message}`.trim();
    finish();
  }
});

if (fallbackMs > 0) {
  timers.push(
    setTimeout(() => {
      if (!sent) {
        result.sentWithoutContinue = true;
        sendBody();
      }
    }, fallbackMs),
  );
}
timers.push(
  setTimeout(() => {
    result.error = result.error || `gave up after ${giveUpMs} ms`;
    finish();
  }, giveUpMs),
);

req.flushHeaders();
