// Run tus-js-client uploads, one after another, and report how each went as JSON lines.
//
// Reads a JSON array of jobs on stdin; each job is
//   { endpoint, protocol, file, chunkSize?, uploadDataDuringCreation?, retries?, metadata? }
// and prints one line per job:
//   { url, error, status, body, requests: [[method, status|null], ...] }
// `requests` lists every request tus-js-client sent, with the status it got (null when the
// connection broke first), so the Python test can check the resume flow it took.
'use strict'

const fs = require('fs')
const tus = require('tus-js-client')

function runJob(job, data) {
  return new Promise((resolve) => {
    const requests = []
    const pending = new Map()
    const retries = job.retries === undefined ? 20 : job.retries
    const upload = new tus.Upload(data, {
      endpoint: job.endpoint,
      protocol: job.protocol,
      chunkSize: job.chunkSize || Number.POSITIVE_INFINITY,
      uploadDataDuringCreation: Boolean(job.uploadDataDuringCreation),
      retryDelays: new Array(retries).fill(0),
      storeFingerprintForResuming: false,
      metadata: job.metadata || {},
      onBeforeRequest(req) {
        const entry = [req.getMethod(), null]
        requests.push(entry)
        pending.set(req, entry)
      },
      onAfterResponse(req, res) {
        const entry = pending.get(req)
        if (entry) entry[1] = res.getStatus()
      },
      onSuccess(payload) {
        const res = payload && payload.lastResponse
        resolve({
          url: upload.url,
          error: null,
          status: res ? res.getStatus() : null,
          body: res ? res.getBody() : null,
          requests,
        })
      },
      onError(err) {
        resolve({ url: upload.url, error: String(err), status: null, body: null, requests })
      },
    })
    upload.start()
  })
}

async function main() {
  const jobs = JSON.parse(fs.readFileSync(0, 'utf8'))
  const files = new Map()
  for (const job of jobs) {
    if (!files.has(job.file)) files.set(job.file, fs.readFileSync(job.file))
    const report = await runJob(job, files.get(job.file))
    process.stdout.write(`${JSON.stringify(report)}\n`)
  }
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
