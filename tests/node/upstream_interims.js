// A real upstream for proxy mode: Node's own http server, sending interim responses itself.
//
//   node upstream_interims.js
//
// Prints `listening PORT` once it listens on 127.0.0.1 (an ephemeral port), then answers every
// request with `102 Processing` (res.writeProcessing()), `103 Early Hints` with a Link
// (res.writeEarlyHints()), then `200 OK` whose body is the method, the path and the body it
// read. It runs until killed. Built-in modules only.
'use strict';

const http = require('node:http');

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    res.writeProcessing();
    res.writeEarlyHints({ link: '</node.css>; rel=preload; as=style' });
    const body = `${req.method} ${req.url} ${Buffer.concat(chunks).length} via ${req.headers.via}\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'node' });
    res.end(body);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
