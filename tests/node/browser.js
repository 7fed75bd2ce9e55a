// Drives Debian's Chromium (headless) for the browser tests of the live view
// (tests/clients/test_browser_view.py): one browser for a whole test module, commands in.
//
//   node browser.js
//
// Reads one JSON command per line on standard input and answers each with one JSON line,
// {"ok": true, "value": ...} or {"ok": false, "error": "..."}:
//
//   {"op": "context", "ignoreHTTPSErrors": false}  a fresh context (no cookies) and page
//   {"op": "goto", "url": URL}                     load a page; value: the URL it ended on
//   {"op": "wait", "expression": JS}               until JS (in the page) is truthy; its value
//   {"op": "eval", "expression": JS}               JS's value in the page
//   {"op": "fill", "selector": S, "value": V}      type into an input (fires 'input')
//   {"op": "select", "selector": S, "value": V}    choose an option
//   {"op": "click", "selector": S}
//   {"op": "frames"}                               the URL of every frame of the page
//   {"op": "cookies"}                              the context's cookies
//   {"op": "dialogs"}                              every alert/confirm/prompt the pages opened
//   {"op": "console"}                              the console's errors (CSP refusals among them)
//   {"op": "screenshot", "path": P}
'use strict';

const readline = require('node:readline');
const { chromium } = require('playwright-core');

const TIMEOUT_MS = 10000;
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let browser;
let context;
let page;
const dialogs = [];
const consoleErrors = [];

async function fresh(ignoreHTTPSErrors) {
  if (context) await context.close();
  context = await browser.newContext({ ignoreHTTPSErrors, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(TIMEOUT_MS);
  page = await context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
}

const OPS = {
  context: async (c) => fresh(Boolean(c.ignoreHTTPSErrors)),
  goto: async (c) => {
    await page.goto(c.url, { waitUntil: 'load' });
    return page.url();
  },
  wait: async (c) => {
    // Polled from here: waitForFunction evaluates a string with eval() in the page, which the
    // live view's Content-Security-Policy refuses (as it should).
    const deadline = Date.now() + (c.timeout || TIMEOUT_MS);
    for (;;) {
      const value = await page.evaluate(c.expression);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`still false after ${c.timeout || TIMEOUT_MS} ms: ${c.expression}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  },
  eval: async (c) => page.evaluate(c.expression),
  fill: async (c) => page.fill(c.selector, c.value),
  select: async (c) => page.selectOption(c.selector, c.value),
  click: async (c) => page.click(c.selector),
  frames: async () => page.frames().map((f) => f.url()),
  cookies: async () => context.cookies(),
  dialogs: async () => dialogs,
  console: async () => consoleErrors,
  screenshot: async (c) => page.screenshot({ path: c.path, fullPage: Boolean(c.fullPage) }),
};

async function main() {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  await fresh(false);
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    let answer;
    try {
      const command = JSON.parse(line);
      const op = OPS[command.op];
      if (!op) throw new Error(`no op ${command.op}`);
      const value = await op(command);
      answer = { ok: true, value: value === undefined ? null : value };
    } catch (error) {
      answer = { ok: false, error: String(error && error.message ? error.message : error) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
  await browser.close();
}

main().catch((error) => {
  process.stderr.write(`browser.js: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
