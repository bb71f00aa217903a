// Debian's Chromium, driven by playwright-core, uses the socketio_chat
// example's page (the official browser client, served by the example) while
// a socket.io-client in Node watches the room. One line per step; exit 1 on
// the first failure, with the browser's console.
//
//   NODE_PATH=target/browser/node_modules:target/socketio/node_modules \
//     node chat_page.js http://127.0.0.1:PORT/
'use strict';

const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 15000;
const url = process.argv[2];
const consoleLines = [];
let browser = null;

function step(name, promise) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${STEP_MS} ms`)), STEP_MS)),
  ]).then((value) => { console.log(`ok   chromium: ${name}`); return value; });
}

function next(socket, event, test = () => true) {
  return new Promise((resolve) => {
    const handler = (value) => {
      if (test(value)) { socket.off(event, handler); resolve(value); }
    };
    socket.on(event, handler);
  });
}

async function main() {
  const observer = io(url, { forceNew: true, transports: ['websocket'] });
  await step('the observer connects', next(observer, 'connect'));
  await step('the observer joins #lobby', new Promise((resolve) =>
    observer.emit('join', { nick: 'observer', room: 'lobby' }, resolve)));

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  page.on('console', (m) => consoleLines.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`page error: ${e.message}`));
  await page.goto(url);
  await step('the page connects and upgrades to websocket',
    page.waitForFunction(() => document.getElementById('status').textContent === 'connected (websocket)'));

  const joined = next(observer, 'notice', (t) => t === 'chromium joined #lobby');
  await page.fill('#nick', 'chromium');
  await page.click('#join');
  await step('the page joins as chromium; the observer is told', joined);

  const typing = next(observer, 'typing', (t) => t.nick === 'chromium' && t.typing);
  await page.type('#text', 'héllo ✓ <b>');
  await step('the observer sees the typing notice', typing);
  const said = next(observer, 'said');
  await page.press('#text', 'Enter');
  const message = await step('the observer receives the message', said);
  if (message.nick !== 'chromium' || message.text !== 'héllo ✓ <b>') {
    throw new Error(`unexpected message ${JSON.stringify(message)}`);
  }
  await step('the page shows the delivery ack', page.waitForFunction(() =>
    [...document.querySelectorAll('#log .mine')].some((d) => d.textContent.endsWith('✓'))));

  observer.emit('typing', true);
  await step('the page shows the observer typing', page.waitForFunction(() =>
    document.getElementById('typing').textContent.includes('observer typing')));
  observer.emit('say', 'hi from node', () => {});
  await step('the page shows the observer\'s message', page.waitForFunction(() =>
    document.getElementById('log').textContent.includes('<observer> hi from node')));

  observer.close();
  await step('the page is told the observer left', page.waitForFunction(() =>
    document.getElementById('log').textContent.includes('observer left')));
  await browser.close();
  process.exit(0);
}

main().catch(async (e) => {
  console.log(`FAIL chromium: ${e.message}`);
  for (const line of consoleLines) console.log(`    ${line}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
});
