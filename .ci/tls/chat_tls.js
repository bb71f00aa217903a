// Chromium over https:// and wss:// through the TLS proxies of .ci/tls.sh:
// for each proxy, two tabs load the chat example's page (the test's
// self-signed certificate accepted with --ignore-certificate-errors), both
// connect over wss://, one says something the other must show, and it
// leaves with a clean close.
//
//   NODE_PATH=target/browser/node_modules node chat_tls.js NAME=https://HOST:PORT/ ...
//
// One line per proxy; on failure, the browser's console and both pages'
// logs, and exit status 1.
'use strict';

const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 15000;

const targets = process.argv.slice(2).map((arg) => {
  const at = arg.indexOf('=');
  return { name: arg.slice(0, at), url: arg.slice(at + 1) };
});
if (targets.length === 0) {
  console.error('usage: chat_tls.js NAME=https://HOST:PORT/ ...');
  process.exit(2);
}

const lines = [];

async function until(what, page, predicate, arg = null) {
  try {
    await page.waitForFunction(predicate, arg, { timeout: STEP_MS, polling: 50 });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}`);
  }
}

async function openTab(context, url, nick) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('console', (m) => lines.push(`[${nick} console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`[${nick} page error] ${e.message}`));
  page.on('websocket', (ws) => lines.push(`[${nick} websocket] open ${ws.url()}`));
  const response = await page.goto(`${url}?autoconnect&nick=${nick}`, { waitUntil: 'load' });
  if (!response || response.status() !== 200) {
    throw new Error(`GET ${url} answered ${response && response.status()}`);
  }
  await until(`${nick}'s #status "open"`, page, () => document.getElementById('status').textContent === 'open');
  return page;
}

async function chat(browser, { name, url }) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const pages = [];
  try {
    const alice = await openTab(context, url, `alice_${name}`);
    pages.push(alice);
    const bob = await openTab(context, url, `bob_${name}`);
    pages.push(bob);
    const scheme = await alice.evaluate(() => ws.url.split(':')[0]);
    if (scheme !== 'wss') throw new Error(`the page connected with ${scheme}://, not wss://`);
    const text = `hello through ${name} ✓`;
    await alice.fill('#text', text);
    await alice.press('#text', 'Enter');
    const said = `<alice_${name}> ${text}`;
    await until(`bob seeing ${JSON.stringify(said)}`, bob,
      (line) => document.getElementById('log').innerText.includes(line), said);
    await alice.click('#leave');
    await until('alice\'s clean close', alice,
      () => document.getElementById('status').textContent === 'closed code=1000 clean=true');
    console.log(`tls: Chromium ${browser.version()}: the chat over https:// and wss:// through ${name} OK`);
  } catch (e) {
    console.log(`tls: Chromium through ${name}: FAILED: ${e.message}`);
    for (const page of pages) {
      try {
        const log = await page.evaluate(() =>
          `#status ${document.getElementById('status').textContent}\n${document.getElementById('log').innerText}`);
        console.log(log.replace(/^/gm, '    '));
      } catch (_) { /* the page is gone */ }
    }
    return false;
  } finally {
    await context.close();
  }
  return true;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--ignore-certificate-errors'],
  });
  let ok = true;
  for (const target of targets) ok = (await chat(browser, target)) && ok;
  await browser.close();
  if (!ok) {
    console.log('tls: the browser\'s console:');
    for (const line of lines) console.log(`    ${line}`);
  }
  process.exit(ok ? 0 : 1);
})().catch((e) => {
  console.log(`tls: Chromium: FAILED: ${e.stack || e}`);
  process.exit(1);
});
