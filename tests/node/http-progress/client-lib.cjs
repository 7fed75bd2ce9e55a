'use strict';
// A client for draft-wright-http-resume-request that behaves as the reference demo's
// client-lib.js does (awwright/http-progress demo-progress):
//
// - request(url, {method: 'POST'}) always sends "Prefer: resume" and "Expect: 100-continue";
//   the caller writes (pipes) the upload into the returned object, which buffers all of it;
// - on the 100 it records Request-Content-Location and Response-Message-Location (resolved
//   against the URL) and starts sending; 102 and 199 interim responses are ignored;
// - when the request fails with no response and a Request-Content-Location is known, it
//   recovers: HEAD <req-loc> (offset = Content-Length; missing -> error), one PATCH of
//   message/byterange from the offset to the end ("Content-Range: <off>-<len-1>/<len>", no
//   unit), a PATCH error loops back to the HEAD; any 2xx counts as uploaded; then
//   GET <res-loc>, which must be message/http, parsed with a one-word reason phrase.
//
// It emits 'response' with {statusCode, statusMessage, headers, body} (body: a Buffer), or
// 'error'. Node 20's built-in http only.

const http = require('http');
const { Writable } = require('stream');

const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3}) ([A-Za-z-]+)$/;

function log(message) {
  process.stderr.write(`client-lib: ${message}\n`);
}

// One plain request; resolves with {res, body} or rejects on a network error.
function simple(url, options, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Parse a message/http document into a response object.
function parseMessage(buffer) {
  const text = buffer.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error('message/http without the end of its header section');
  const lines = text.slice(0, headEnd).split('\r\n');
  const match = STATUS_LINE.exec(lines[0]);
  if (!match) throw new Error(`unexpected status line ${JSON.stringify(lines[0])}`);
  const headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon < 0) throw new Error(`unexpected header line ${JSON.stringify(line)}`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    httpVersion: `${match[1]}.${match[2]}`,
    statusCode: Number(match[3]),
    statusMessage: match[4],
    headers,
    body: buffer.subarray(Buffer.byteLength(text.slice(0, headEnd + 4), 'latin1')),
  };
}

class ResumableRequest extends Writable {
  constructor(url, options) {
    super();
    this.url = url;
    this.chunks = [];
    this.started = false;
    this.finished = false;
    this.settled = false;
    this.requestContentLocation = null;
    this.responseMessageLocation = null;
    this.buffered = new Promise((resolve) => { this.resolveBuffered = resolve; });
    const headers = Object.assign({}, options.headers, {
      Prefer: 'resume',
      Expect: '100-continue',
    });
    this.req = http.request(url, Object.assign({}, options, { headers }));
    this.req.on('information', (info) => this.onInformation(info));
    this.req.on('response', (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => this.settle(null, {
        statusCode: res.statusCode,
        statusMessage: res.statusMessage,
        headers: res.headers,
        body: Buffer.concat(chunks),
      }));
      res.on('error', (err) => this.settle(err));
    });
    this.req.on('error', (err) => this.onRequestError(err));
  }

  flushHeaders() {
    this.req.flushHeaders();
  }

  onInformation(info) {
    if (info.statusCode !== 100) return; // 102 and 199 are ignored
    const headers = info.headers;
    if (headers['request-content-location']) {
      this.requestContentLocation = new URL(headers['request-content-location'], this.url).href;
    }
    if (headers['response-message-location']) {
      this.responseMessageLocation = new URL(headers['response-message-location'], this.url).href;
    }
    if (this.started) return;
    this.started = true;
    for (const chunk of this.chunks) this.req.write(chunk);
    if (this.finished) this.req.end();
  }

  _write(chunk, encoding, callback) {
    this.chunks.push(chunk);
    if (this.started && !this.failed) this.req.write(chunk);
    callback();
  }

  _final(callback) {
    this.finished = true;
    this.resolveBuffered();
    if (this.started && !this.failed) this.req.end();
    callback();
  }

  onRequestError(err) {
    this.failed = true;
    if (this.settled) return;
    if (!this.requestContentLocation) {
      this.settle(err);
      return;
    }
    log(`request failed (${err.code || err.message}); recovering`);
    this.recover().then((res) => this.settle(null, res), (error) => this.settle(error));
  }

  async recover() {
    await this.buffered;
    const data = Buffer.concat(this.chunks);
    for (;;) {
      const head = await simple(this.requestContentLocation, { method: 'HEAD' });
      const length = head.res.headers['content-length'];
      if (length === undefined) throw new Error('HEAD on the request content has no Content-Length');
      const offset = Number(length);
      log(`HEAD ${this.requestContentLocation} -> ${head.res.statusCode}, offset ${offset}`);
      const patchHead = Buffer.from(
        `Content-Range: ${offset}-${data.length - 1}/${data.length}\r\n` +
        `Content-Length: ${data.length - offset}\r\n\r\n`, 'latin1');
      const body = Buffer.concat([patchHead, data.subarray(offset)]);
      let patched;
      try {
        patched = await simple(this.requestContentLocation, {
          method: 'PATCH',
          headers: {
            'Content-Type': 'message/byterange',
            'REM-patch-range': `${offset}-${data.length - 1}/${data.length}`,
            'REM-patch-length': String(data.length - offset),
            'Content-Length': String(body.length),
          },
        }, body);
      } catch (err) {
        log(`PATCH from ${offset} failed (${err.code || err.message})`);
        continue; // back to the HEAD
      }
      const status = patched.res.statusCode;
      log(`PATCH from ${offset} -> ${status}`);
      if (status < 200 || status > 299) {
        throw new Error(`PATCH answered ${status}: ${patched.body.toString()}`);
      }
      const result = await simple(this.responseMessageLocation, { method: 'GET' });
      const type = result.res.headers['content-type'];
      if (type !== 'message/http') throw new Error(`the response message is ${type}, not message/http`);
      return parseMessage(result.body);
    }
  }

  settle(err, res) {
    if (this.settled) return;
    this.settled = true;
    if (err) this.emit('error', err);
    else this.emit('response', res);
  }
}

function request(url, options) {
  return new ResumableRequest(url, options || {});
}

module.exports = { request, parseMessage };
