// Debian's Chromium, driven by playwright-core, negotiates permessage-deflate
// (RFC 7692) with the echo example and exchanges compressed messages.
//
//   NODE_PATH=target/browser/node_modules node deflate_test.js ws://127.0.0.1:PORT/
//
// The page is the echo server's own page (a plain GET of `/`), which puts it
// at the server's own origin (the server accepts its own origin only); the
// WebSocket is the browser's real one: Chromium's offer, its
// inflater and deflater. Steps, each
// bounded: the page connects and `ws.extensions` must name
// permessage-deflate; Chromium's network log must show the server's answer
// (client_max_window_bits=12, and no server_no_context_takeover: at its
// defaults the server keeps a context); a 100 KB JSON-like text, a 64 KiB
// binary message and a short JSON message sent twice are echoed and compared
// byte for byte in the page (.ci/browser.sh checks in the server's trace that
// the second short echo referred back to the first); a close with 1000 is
// clean. Prints one line per step (the
// DevTools protocol shows payloads after inflating: .ci/browser.sh checks the
// server's trace for the compressed frames). On failure, prints the
// browser's console and the handshakes, and exits 1.
'use strict';

const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 15000;
const TOTAL_MS = 60000;

const [wsUrl] = process.argv.slice(2);
if (!wsUrl || !wsUrl.startsWith('ws://')) {
  console.error('usage: deflate_test.js ws://HOST:PORT/');
  process.exit(2);
}
const pageUrl = `${wsUrl.replace(/^ws/, 'http').replace(/\/$/, '')}/`;

const consoleLines = [];
const handshakes = [];
let browser = null;
const say = (line) => console.log(`browser deflate: ${line}`);

let failing = false;
async function fail(problem) {
  if (failing) return;
  failing = true;
  console.log(`browser deflate: FAILED: ${problem}`);
  console.log('browser deflate: the browser console, page errors and handshakes:');
  const lines = consoleLines.concat(handshakes.map((h) => `[handshake] ${JSON.stringify(h)}`));
  console.log(lines.length ? lines.map((l) => `    ${l}`).join('\n') : '    (none)');
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  process.exit(1);
}

setTimeout(() => fail(`the test took more than ${TOTAL_MS / 1000} s`), TOTAL_MS).unref();

// Runs in the page: connects, checks, echoes, closes; returns what it saw.
async function inPage({ url, stepMs }) {
  const step = (what, promise) => Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${stepMs / 1000} s`)), stepMs)),
  ]);
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const inbox = [];
  let waiting = null;
  ws.onmessage = (e) => { inbox.push(e.data); if (waiting) waiting(); };
  const next = (what) => step(what, new Promise((resolve) => {
    const take = () => { if (inbox.length) { waiting = null; resolve(inbox.shift()); } else waiting = take; };
    take();
  }));
  await step('open', new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('the connection failed before opening'));
  }));
  const extensions = ws.extensions;

  // JSON-like text: records alike but not equal, as an API's answers are.
  const records = [];
  let length = 2;
  for (let i = 0; length < 100000; i++) {
    const record = JSON.stringify({ id: i, user: `user${i % 37}`, text: `message ${i} ünïcødé ✓`, ok: i % 3 === 0, score: (i * 7919) % 1000 });
    records.push(record);
    length += new TextEncoder().encode(record).length + 1;
  }
  const text = `[${records.join(',')}]`;
  ws.send(text);
  const textEcho = await next('the echo of the text');

  // Binary: a repeating pattern with a counter in it, so it compresses but
  // not to nothing.
  const binary = new Uint8Array(65536);
  for (let i = 0; i < binary.length; i++) binary[i] = (i % 251) ^ ((i >> 10) & 0xff);
  ws.send(binary);
  const binaryEcho = await next('the echo of the binary message');
  const echoed = binaryEcho instanceof ArrayBuffer ? new Uint8Array(binaryEcho) : null;
  const binaryEqual = echoed !== null && echoed.length === binary.length && echoed.every((b, i) => b === binary[i]);

  // A short message twice: with the context kept both ways, the second
  // travels as a reference to the first.
  const short = JSON.stringify({ type: 'chat', room: 'general', user: 'ada', text: 'the second copy of this message should travel as a back-reference' });
  const shortEchoes = [];
  for (let i = 0; i < 2; i++) {
    ws.send(short);
    shortEchoes.push(await next(`the echo of short message ${i + 1}`));
  }
  const shortEqual = shortEchoes.every((e) => e === short);

  const closed = step('the close', new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, clean: e.wasClean }); }));
  ws.close(1000, 'done');
  const close = await closed;
  return {
    extensions,
    textBytes: new TextEncoder().encode(text).length,
    textEqual: textEcho === text,
    textEchoType: typeof textEcho,
    binaryBytes: binary.length,
    binaryEqual,
    shortEqual,
    close,
  };
}

async function main() {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic'],
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('console', (m) => consoleLines.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[page error] ${e.message}`));
  // The echo server's own page gives the page the server's own origin, the
  // one it accepts, and an address Chromium's local network access checks
  // allow to reach it.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => handshakes.push(e.response));

  const response = await page.goto(pageUrl, { waitUntil: 'load' });
  if (!response || response.status() !== 200) await fail(`GET ${pageUrl} answered ${response && response.status()}, not 200`);
  say(`Chromium ${browser.version()} loaded ${pageUrl} (the echo server's own page)`);
  const seen = await page.evaluate(inPage, { url: wsUrl, stepMs: STEP_MS }).catch((e) => fail(`in the page: ${e.message}`));

  if (!/^permessage-deflate(;|$)/.test(seen.extensions)) await fail(`ws.extensions is ${JSON.stringify(seen.extensions)}, not permessage-deflate`);
  say(`ws.extensions: ${JSON.stringify(seen.extensions)}`);
  const header = (h, name) => {
    const all = { ...(h.requestHeaders || {}), ...(h.headers || {}) };
    const k = Object.keys(all).find((n) => n.toLowerCase() === name);
    return k && all[k];
  };
  const hs = handshakes.find((h) => h.status === 101);
  if (!hs) await fail('Chromium reported no 101 handshake');
  const offer = header(hs, 'sec-websocket-extensions');
  say(`Chromium's offer and the answer, from its network log: ${JSON.stringify(hs.requestHeadersText ? hs.requestHeadersText.match(/Sec-WebSocket-Extensions: [^\r\n]*/i)[0] : '(no request text)')} -> ${JSON.stringify(offer)}`);
  for (const want of ['permessage-deflate', 'client_max_window_bits=12']) {
    if (!offer || !offer.includes(want)) await fail(`the server's answer ${JSON.stringify(offer)} lacks ${want}`);
  }
  if (offer.includes('server_no_context_takeover')) await fail(`the server's answer ${JSON.stringify(offer)} gives up its context`);
  if (!seen.textEqual) await fail(`the ${seen.textBytes}-byte text came back different (a ${seen.textEchoType})`);
  say(`a ${seen.textBytes}-byte JSON-like text echoed byte for byte`);
  if (!seen.binaryEqual) await fail(`the ${seen.binaryBytes}-byte binary message came back different`);
  say(`a ${seen.binaryBytes}-byte binary message echoed byte for byte`);
  if (!seen.shortEqual) await fail('a short message came back different');
  say('a short message echoed twice, byte for byte');
  if (seen.close.code !== 1000 || !seen.close.clean) await fail(`the close was ${JSON.stringify(seen.close)}, not 1000 and clean`);
  say('closed with 1000, clean');
  // The page declares no icon to load: any error on the console counts.
  const errors = consoleLines.filter((l) => l.startsWith('[page error]') || l.startsWith('[console.error]'));
  if (errors.length) await fail(`the page logged errors: ${errors.join('; ')}`);
  await browser.close();
  process.exit(0);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
