'use strict';
// The reference demo's client (awwright/http-progress demo-progress, client-lib.js) reads
// only the status and Content-Length of its HEAD responses and never their (empty) bodies.
// Node then keeps each of those sockets busy, and the process alive, until the server closes
// the connection: against a server that never closes an idle connection it never exits.
//
// This does the same with three HEADs (Node 20's built-in http, its default keep-alive
// agent), prints what it read, and leaves exiting to Node.
//
// Usage: node head-unread.cjs BASE_URL

const http = require('http');

const base = process.argv[2] || 'http://localhost:18080';

function head(path) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method: 'HEAD' }, resolve);
    req.on('error', reject);
    req.end();
  });
}

(async () => {
  for (const path of ['/test/data', '/test/', '/test/status']) {
    const res = await head(path); // never read: no res.resume(), no 'data' listener
    console.log(`HEAD ${path} -> ${res.statusCode}, Content-Length ${res.headers['content-length']}`);
  }
})();
