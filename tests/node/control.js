// Scripts a running `mockprogress serve` through its control API, the way a JavaScript test
// suite would between its tests, and prints what happened as one JSON document:
//
//   node control.js BASE_URL
//
// 1. POST an expectation (a scenario document in JSON) to /__mockprogress/expectations;
// 2. send the request it expects, keeping every 'information' event (1xx) and the response;
// 3. read the journal back from /__mockprogress/journal.
// Built-in modules only: no npm install on a fresh machine.
'use strict';

const http = require('node:http');

const base = process.argv[2];
if (!base) {
  process.stderr.write('usage: node control.js BASE_URL\n');
  process.exit(2);
}

function send(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers, agent: false });
    const information = [];
    req.setTimeout(10000, () => req.destroy(new Error('timed out after 10 s')));
    req.on('information', (info) => {
      information.push({ statusCode: info.statusCode, statusMessage: info.statusMessage, headers: info.headers });
    });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        resolve({
          information,
          statusCode: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  const scenario = {
    expect: [
      {
        method: 'POST',
        path: '/greetings',
        match: { json: { name: 'node' } },
        steps: [
          { processing: { progress: '0/1 "Warming up"' } },
          { respond: { status: 201, json: { greeting: 'hello, node' } } },
        ],
      },
    ],
  };
  const added = await send('POST', '/__mockprogress/expectations', JSON.stringify(scenario), {
    'Content-Type': 'application/json',
  });
  const greeting = await send('POST', '/greetings', JSON.stringify({ name: 'node' }), {
    'Content-Type': 'application/json',
  });
  const journal = await send('GET', '/__mockprogress/journal');
  return {
    added: { statusCode: added.statusCode, body: JSON.parse(added.body) },
    greeting: { ...greeting, body: JSON.parse(greeting.body) },
    journal: { statusCode: journal.statusCode, body: JSON.parse(journal.body) },
  };
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result) + '\n'),
  (err) => {
    process.stdout.write(JSON.stringify({ error: `${err.code || ''} ${err.message}` }) + '\n');
    process.exitCode = 1;
  },
);
