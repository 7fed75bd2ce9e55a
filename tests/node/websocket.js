// Node 20's WebSocket (undici, behind --experimental-websocket) against the server, as one
// JSON document:
//
//   node --experimental-websocket websocket.js URL [PROTOCOL]
//
// It sends a text and a binary message as soon as the connection opens, keeps every message
// the server sends (binary ones as arrays of byte values), and reports how the connection
// closed: the close code, the reason and wasClean. Built-in modules only.
'use strict';

const [url, protocol] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: node --experimental-websocket websocket.js URL [PROTOCOL]\n');
  process.exit(2);
}
if (typeof WebSocket === 'undefined') {
  process.stdout.write(JSON.stringify({ error: 'no WebSocket: run with --experimental-websocket' }) + '\n');
  process.exit(1);
}

const result = { protocol: null, messages: [], close: null, error: null };
const ws = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
ws.binaryType = 'arraybuffer';
const giveUp = setTimeout(() => {
  result.error = 'gave up after 10 s';
  ws.close();
}, 10000);

ws.addEventListener('open', () => {
  result.protocol = ws.protocol;
  ws.send('hello from node');
  ws.send(new Uint8Array([0, 1, 2, 255]));
});
ws.addEventListener('message', (event) => {
  if (typeof event.data === 'string') {
    result.messages.push({ type: 'text', data: event.data });
  } else {
    result.messages.push({ type: 'binary', data: Array.from(new Uint8Array(event.data)) });
  }
});
ws.addEventListener('error', (event) => {
  result.error = result.error || String(event.message || event.error || 'error');
});
ws.addEventListener('close', (event) => {
  clearTimeout(giveUp);
  result.close = { code: event.code, reason: event.reason, wasClean: event.wasClean };
  process.stdout.write(JSON.stringify(result) + '\n');
});
