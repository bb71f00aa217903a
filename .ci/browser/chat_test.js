// Debian's Chromium, driven by playwright-core, uses the chat example's own
// page while a second client that is not the browser (the client example,
// its standard input on a pipe kept open) watches the room.
//
//   NODE_PATH=target/browser/node_modules node chat_test.js http://127.0.0.1:PORT/ CLIENT_BIN SCREENSHOT
//
// Steps, each bounded: the observer joins ws://HOST/chat?nick=observer; the
// browser loads the page, fills the nickname, clicks Connect and waits for
// #status "open"; it sends two messages through the page's form, which the
// observer must receive as "<chromium> ..."; the observer speaks, and the page
// must show it; a screenshot is saved; the browser clicks Leave and #status
// must read "closed code=1000 clean=true"; the observer sees the leave, and
// exits 0 after the end of its input. Prints one line per step; on failure,
// what the browser's console, its WebSocket frames, the page and the observer
// showed, and exits 1.
'use strict';

const { spawn } = require('child_process');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 15000;
const TOTAL_MS = 120000;
const NICK = 'chromium';
const MESSAGES = ['hello from chromium', 'second message: ünïcødé ✓ <b>not bold</b>'];
const REPLY = 'hi from the observer';

const [pageUrl, clientBin, screenshot] = process.argv.slice(2);
if (!pageUrl || !clientBin || !screenshot) {
  console.error('usage: chat_test.js http://HOST:PORT/ CLIENT_BIN SCREENSHOT.png');
  process.exit(2);
}
const wsUrl = `${pageUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/chat?nick=observer`;

const consoleLines = []; // the browser's console, page errors and WebSocket frames
let browser = null;
let page = null;
let observer = null;
const observed = { out: '', err: '', exit: null };

const say = (line) => console.log(`browser: ${line}`);

async function pageState() {
  if (!page) return '(no page)';
  try {
    return await page.evaluate(() =>
      `#status: ${JSON.stringify(document.getElementById('status').textContent)}\n` +
      `#log:\n${document.getElementById('log').innerText.replace(/^/gm, '      ')}`);
  } catch (e) {
    return `(the page cannot be read: ${e.message})`;
  }
}

let failing = false;
async function fail(problem) {
  if (failing) return;
  failing = true;
  console.log(`browser: FAILED: ${problem}`);
  console.log('browser: the page:');
  console.log((await pageState()).replace(/^/gm, '    '));
  console.log('browser: the browser console, page errors and WebSocket frames:');
  console.log(consoleLines.length ? consoleLines.map((l) => `    ${l}`).join('\n') : '    (none)');
  console.log(`browser: the observer (exit ${observed.exit}), standard output:`);
  console.log(observed.out.replace(/^/gm, '    ') || '    (none)');
  console.log('browser: the observer, standard error:');
  console.log(observed.err.replace(/^/gm, '    ') || '    (none)');
  if (observer && observed.exit === null) observer.kill();
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  process.exit(1);
}

setTimeout(() => fail(`the test took more than ${TOTAL_MS / 1000} s`), TOTAL_MS).unref();

// Polls check() every 50 ms until it is true; fails after STEP_MS.
async function until(what, check) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) await fail(`${what}: not within ${STEP_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const observerSaw = (line) => observed.out.split('\n').includes(line);

async function main() {
  // The observer: the client example, standard input open until we end it.
  observer = spawn(clientBin, [wsUrl], { stdio: ['pipe', 'pipe', 'pipe'] });
  observer.stdout.setEncoding('utf8').on('data', (d) => { observed.out += d; });
  observer.stderr.setEncoding('utf8').on('data', (d) => { observed.err += d; });
  observer.on('exit', (code, signal) => { observed.exit = signal || code; });
  observer.on('error', (e) => fail(`cannot start the observer: ${e.message}`));
  await until('the observer joining #lobby', () => observerSaw('* you are observer in #lobby'));
  say(`observer connected to ${wsUrl}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    // playwright gives the browser a fresh temporary user-data dir of its own.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic'],
  });
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('console', (m) => consoleLines.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[page error] ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) consoleLines.push(`[http ${r.status()}] ${r.url()}`);
  });
  page.on('websocket', (ws) => {
    consoleLines.push(`[websocket] open ${ws.url()}`);
    ws.on('framesent', (f) => consoleLines.push(`[websocket] sent ${JSON.stringify(String(f.payload))}`));
    ws.on('framereceived', (f) => consoleLines.push(`[websocket] received ${JSON.stringify(String(f.payload))}`));
    ws.on('socketerror', (e) => consoleLines.push(`[websocket] error ${e}`));
    ws.on('close', () => consoleLines.push('[websocket] closed'));
  });

  const response = await page.goto(pageUrl, { waitUntil: 'load' });
  if (!response || response.status() !== 200) await fail(`GET ${pageUrl} answered ${response && response.status()}`);
  const type = response.headers()['content-type'] || '';
  if (!type.startsWith('text/html')) await fail(`GET ${pageUrl} has Content-Type ${JSON.stringify(type)}`);
  say(`Chromium ${browser.version()} loaded ${pageUrl} (${response.status()}, ${type})`);

  await page.fill('#nick', NICK);
  await page.click('#connect');
  await until('#status "open" after Connect', async () =>
    (await page.textContent('#status')) === 'open');
  await until(`the observer seeing "* ${NICK} joined #lobby"`, () => observerSaw(`* ${NICK} joined #lobby`));
  say(`connected as ${NICK}: #status is "open", the observer saw the join`);

  // One message submitted with Enter, one with the Send button.
  await page.fill('#text', MESSAGES[0]);
  await page.press('#text', 'Enter');
  await until('the form clearing after the first message', async () => (await page.inputValue('#text')) === '');
  await page.fill('#text', MESSAGES[1]);
  await page.click('#say button');
  for (const message of MESSAGES) {
    await until(`the observer receiving "<${NICK}> ${message}"`, () => observerSaw(`<${NICK}> ${message}`));
  }
  say(`the observer received both messages sent with the page's form: ${MESSAGES.map((m) => JSON.stringify(`<${NICK}> ${m}`)).join(', ')}`);

  observer.stdin.write(`${REPLY}\n`);
  await until(`the page showing "<observer> ${REPLY}"`, async () =>
    (await page.innerText('#log')).split('\n').includes(`<observer> ${REPLY}`));
  say(`the page shows the observer's "<observer> ${REPLY}"`);

  await page.screenshot({ path: screenshot, fullPage: true });

  await page.click('#leave');
  const want = 'closed code=1000 clean=true';
  await until(`#status "${want}" after Leave`, async () => {
    const status = await page.textContent('#status');
    if (status.startsWith('closed') && status !== want) await fail(`after Leave, #status is "${status}", not "${want}"`);
    return status === want;
  });
  await until(`the observer seeing "* ${NICK} left #lobby"`, () => observerSaw(`* ${NICK} left #lobby`));
  say(`after Leave, #status is "${want}" and the observer saw the leave`);

  observer.stdin.end();
  await until('the observer exiting after the end of its input', () => observed.exit !== null);
  if (observed.exit !== 0) await fail(`the observer exited with ${observed.exit}`);
  // The page has no icon: the browser's GET /favicon.ico gets a 404, and the
  // console an error "Failed to load resource" without the URL. Only that
  // one is forgiven.
  const failedLoads = consoleLines.filter((l) => l.startsWith('[http ')).filter((l) => !l.endsWith('/favicon.ico'));
  const errors = consoleLines.filter((l) => l.startsWith('[page error]') ||
    (l.startsWith('[console.error]') && !(l.includes('Failed to load resource') && failedLoads.length === 0)));
  errors.push(...failedLoads);
  if (errors.length) await fail(`the page logged errors: ${errors.join('; ')}`);
  await browser.close();
  say(`the observer closed cleanly (exit 0); screenshot in ${screenshot}`);
  process.exit(0);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
