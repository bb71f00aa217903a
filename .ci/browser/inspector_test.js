// Debian's Chromium, driven by playwright-core, uses the inspector example's
// page and checks, from the page's DOM, that it shows its own connection.
//
//   NODE_PATH=target/browser/node_modules node inspector_test.js http://127.0.0.1:PORT/ SCREENSHOT
//
// Steps, each bounded: the page loads and its connection opens; the
// handshake panel shows the key the browser sent (as the browser's own
// network log, read over the DevTools protocol, reports it) and the accept
// value, which this test computes again with node's crypto; a text the page
// sends shows as a frame diagram with opcode 0x1, MASK=1, the 7-bit length 5,
// a masking key, and "Hello" unmasked (the masked bytes checked against the
// key); the echo shows unmasked; a ping and its pong appear; the server's
// three fragments show under one message; a close with 1000 shows both close
// frames and the TCP end; on a new connection, "server sends a masked frame"
// makes the browser fail the connection (1006 in the page), and the page
// shows the raw frame; the same for invalid UTF-8; a message over the
// server's limit shows as a violation with its rule, section and code 1009.
// A screenshot is saved. Prints one line per step; on
// failure, the page's text and the browser's console, and exits 1.
'use strict';

const crypto = require('crypto');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const STEP_MS = 10000;
const TOTAL_MS = 50000;

const [pageUrl, screenshot] = process.argv.slice(2);
if (!pageUrl || !screenshot) {
  console.error('usage: inspector_test.js http://HOST:PORT/ SCREENSHOT.png');
  process.exit(2);
}

const consoleLines = [];
const handshakes = []; // what Chromium's network stack says it sent and got
let browser = null;
let page = null;
const say = (line) => console.log(`inspector: ${line}`);

let failing = false;
async function fail(problem) {
  if (failing) return;
  failing = true;
  console.log(`inspector: FAILED: ${problem}`);
  console.log('inspector: the page:');
  try {
    console.log((await page.innerText('body')).replace(/^/gm, '    '));
  } catch (e) {
    console.log(`    (the page cannot be read: ${e.message})`);
  }
  console.log('inspector: the browser console and page errors:');
  console.log(consoleLines.length ? consoleLines.map((l) => `    ${l}`).join('\n') : '    (none)');
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  process.exit(1);
}

setTimeout(() => fail(`the test took more than ${TOTAL_MS / 1000} s`), TOTAL_MS).unref();

async function until(what, check) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) await fail(`${what}: not within ${STEP_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function expect(what, got, want) {
  if (got !== want) return fail(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  return Promise.resolve();
}

const text = (id) => page.textContent(`#${id}`);

// Everything the test reads from one frame card.
function frameCards(selector) {
  return page.$$eval(selector, (cards) => cards.map((c) => {
    // A field may span two rows of the diagram: its bits are all its cells'.
    const cell = (cls) => {
      const cells = Array.from(c.querySelectorAll(`table.bits td.f-${cls} .bits`));
      return cells.length ? cells.map((e) => e.textContent).join('') : null;
    };
    const code = (cls) => { const e = c.querySelector(`.payload .${cls}`); return e ? e.textContent : null; };
    return {
      dir: c.dataset.dir, opcode: c.dataset.opcode, mask: c.dataset.mask, len: c.dataset.len, fin: c.dataset.fin,
      raw: c.classList.contains('raw'), title: c.querySelector('.title').textContent,
      fin_bit: cell('fin'), opcode_bits: cell('opcode'), mask_bit: cell('mask'), len_bits: cell('len'),
      key_bits: cell('key'), extlen_bits: cell('extlen'),
      wire: code('payload-wire'), unmasked: code('payload-unmasked'), text: code('payload-text'),
    };
  }));
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
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('console', (m) => consoleLines.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[page error] ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) consoleLines.push(`[http ${r.status()}] ${r.url()}`);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => handshakes.push(e.response));

  const response = await page.goto(pageUrl, { waitUntil: 'load' });
  if (!response || response.status() !== 200) await fail(`GET ${pageUrl} answered ${response && response.status()}`);
  say(`Chromium ${browser.version()} loaded ${pageUrl}`);
  await until('#state "open"', async () => (await text('state')) === 'open');

  // ---- the handshake panel
  await until('the handshake panel filled in', async () => (await text('hs-accept-response')) !== '' && (await text('hs-key')) !== '');
  const key = await text('hs-key');
  const want = crypto.createHash('sha1').update(key + GUID).digest('base64');
  const wantHex = crypto.createHash('sha1').update(key + GUID).digest('hex').match(/../g).join(' ');
  await expect('step 2, key + GUID', await text('hs-joined'), key + GUID);
  await expect('step 3, SHA-1 in hex', await text('hs-sha1'), wantHex);
  await expect('step 4, base64', await text('hs-accept'), want);
  await expect("the response's Sec-WebSocket-Accept", await text('hs-accept-response'), want);
  await until("the page's own crypto.subtle check", async () => (await text('hs-browser')) === want);
  if (!(await text('hs-request')).includes(`Sec-WebSocket-Key: ${key}`)) await fail('the request panel lacks the key');
  const inspected = handshakes.find((h) => JSON.stringify(h).includes(want));
  const header = (h, name) => {
    const all = { ...(h.requestHeaders || {}), ...(h.headers || {}) };
    const k = Object.keys(all).find((n) => n.toLowerCase() === name);
    return k && all[k];
  };
  if (!inspected) await fail(`Chromium's network log has no handshake answered with ${want}: ${JSON.stringify(handshakes)}`);
  const sentKey = header(inspected, 'sec-websocket-key');
  if (sentKey !== undefined) await expect("the key in Chromium's network log", sentKey, key);
  say(`handshake panel: key ${key}, accept ${want} (node's crypto agrees${sentKey ? ', and Chromium sent this key' : ', and Chromium received this accept'})`);

  // ---- a text, as the RFC's diagram
  await page.fill('#text', 'Hello');
  await page.click('#send-text');
  await until('the frame of "Hello" from the browser', async () =>
    (await frameCards('.frame[data-dir=received][data-opcode="1"]')).some((f) => f.text === 'Hello'));
  const hello = (await frameCards('.frame[data-dir=received][data-opcode="1"]')).find((f) => f.text === 'Hello');
  await expect('FIN bit', hello.fin_bit, '1');
  await expect('opcode bits', hello.opcode_bits, '0001');
  await expect('MASK bit', hello.mask_bit, '1');
  await expect('7-bit length', hello.len_bits, '0000101');
  await expect('data-len', hello.len, '5');
  await expect('unmasked payload', hello.unmasked, '48 65 6c 6c 6f');
  if (!hello.key_bits || hello.key_bits.length !== 32) await fail(`masking key bits: ${hello.key_bits}`);
  const keyBytes = hello.key_bits.match(/.{8}/g).map((b) => parseInt(b, 2));
  const masked = Buffer.from('Hello').map((b, i) => b ^ keyBytes[i % 4]);
  await expect('masked payload on the wire', hello.wire, Array.from(masked, (b) => b.toString(16).padStart(2, '0')).join(' '));
  await until('the echo from the server, unmasked', async () =>
    (await frameCards('.frame[data-dir=sent][data-opcode="1"]')).some((f) => f.text === 'Hello' && f.mask_bit === '0' && f.key_bits === null));
  say('"Hello": FIN=1 opcode=0001 MASK=1 len=0000101, key and masked bytes agree, "Hello" unmasked; the echo is unmasked');

  await page.click('#send-200');
  await until('a 200-byte frame with the 16-bit length', async () =>
    (await frameCards('.frame[data-dir=received][data-len="200"]')).some((f) => f.len_bits === '1111110' && f.extlen_bits === '0000000011001000'));
  say('200 bytes: payload len 126, then 16 bits of 200');

  // ---- ping, pong, fragments
  await page.click('#ping');
  await until('the server\'s ping', async () => (await frameCards('.frame[data-dir=sent][data-opcode="9"]')).length === 1);
  await until('the browser\'s pong', async () => (await frameCards('.frame[data-dir=received][data-opcode="10"]')).some((f) => f.mask === '1'));
  say('a ping from the server and the browser\'s pong appear');
  await page.click('#fragments');
  await until('three fragments under one message', async () => page.$$eval('.message', (ms) => ms.some((m) =>
    m.querySelectorAll('.frame').length === 3 && m.querySelector('.summary').textContent.includes('complete'))));
  say('three fragments grouped under one message');

  // ---- the closing handshake
  await page.fill('#close-code', '1000');
  await page.click('#close');
  await until('both close frames', async () =>
    (await frameCards('.frame[data-dir=received][data-opcode="8"]')).length === 1 &&
    (await frameCards('.frame[data-dir=sent][data-opcode="8"]')).length === 1);
  await until('the browser\'s close event with 1000', async () => (await page.getAttribute('#browser-close', 'data-code')) === '1000');
  await until('the TCP end in the closing panel', async () => (await page.getAttribute('#close-log', 'data-tcp-first')) !== null);
  const closeLog = await page.innerText('#close-log');
  if (!closeLog.includes('code 1000')) await fail(`the closing panel lacks code 1000: ${closeLog}`);
  say(`close 1000: both close frames, the browser's close event, and "${await page.getAttribute('#close-log', 'data-tcp-first')}" closed TCP first`);

  // ---- a frame the browser must refuse
  await page.click('#reconnect');
  await until('#state "open" again', async () => (await text('state')) === 'open');
  await page.click('#masked');
  await until('the browser failing the connection (1006)', async () => (await page.getAttribute('#browser-close', 'data-code')) === '1006');
  const raw = await frameCards('.frame.raw[data-dir=sent]');
  if (!raw.some((f) => f.mask_bit === '1' && f.key_bits !== null)) await fail(`no raw masked frame shown: ${JSON.stringify(raw)}`);
  say('the server\'s masked frame is shown and the browser failed the connection: 1006 in the page');

  await page.click('#reconnect');
  await until('#state "open" for invalid UTF-8', async () => (await text('state')) === 'open');
  await page.click('#bad-utf8');
  await until('the browser failing the connection on invalid UTF-8 (1006)', async () => (await page.getAttribute('#browser-close', 'data-code')) === '1006');
  say('invalid UTF-8 from the server: the browser failed the connection, 1006 in the page');

  await page.click('#reconnect');
  await until('#state "open" for a message over the limit', async () => (await text('state')) === 'open');
  await page.click('#send-too-big');
  await until('the server failing the connection with 1009', async () => (await page.getAttribute('#browser-close', 'data-code')) === '1009');
  const violation = await page.$$eval('.event.violation', (vs) => vs.map((v) => v.textContent));
  if (!violation.some((v) => v.includes('section 10.4') && v.includes('close 1009'))) await fail(`no violation with its rule and code: ${JSON.stringify(violation)}`);
  say(`a message over the server's limit: "${violation[0]}"`);

  await page.screenshot({ path: screenshot, fullPage: true });
  // Chromium reports the masked frame on the console; nothing else may be an error.
  // The page has no icon: the GET /favicon.ico gets a 404, whose console
  // error names no URL; it is forgiven when it is the only failed load.
  const failedLoads = consoleLines.filter((l) => l.startsWith('[http ') && !l.endsWith('/favicon.ico'));
  const errors = consoleLines.filter((l) => l.startsWith('[page error]') ||
    (l.startsWith('[console.error]') && !/must not mask|UTF-8|1009/.test(l) &&
      !(l.includes('Failed to load resource') && failedLoads.length === 0)));
  errors.push(...failedLoads);
  if (errors.length) await fail(`the page logged errors: ${errors.join('; ')}`);
  await browser.close();
  say(`screenshot in ${screenshot}`);
  process.exit(0);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
