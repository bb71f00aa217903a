// The chat page's own behaviour, beyond what chat_test.js checks (issue 13.8):
// two pages, alice and bob, in Debian's Chromium driven by playwright-core.
//
//   NODE_PATH=target/browser/node_modules node chat_page_test.js http://127.0.0.1:PORT/
//
// Checks, each bounded: "/join r2" typed in the form sets the room field to
// r2 at once and the server confirms it; editing the room field sends the
// join; lines said by the page's own nickname carry class "mine" and others'
// none; a 400-letter word wraps inside #log instead of widening it; "/nick"
// updates the nickname field and later own lines stay marked; a taken
// nickname leaves the field at the nickname in use. Exits 1 on failure.
'use strict';
const { chromium } = require('playwright-core');
const url = process.argv[2];
if (!url) { console.error('usage: chat_page_test.js http://HOST:PORT/'); process.exit(2); }
setTimeout(() => fail('the test took more than 60 s'), 60000).unref();
const fail = (m) => { console.log('FAIL: ' + m); process.exit(1); };
async function until(what, f) { const d = Date.now() + 10000; while (!(await f())) { if (Date.now() > d) fail(what); await new Promise(r => setTimeout(r, 50)); } }
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const a = await ctx.newPage(); const b = await ctx.newPage();
  for (const [p, nick] of [[a, 'alice'], [b, 'bob']]) {
    await p.goto(url); await p.fill('#nick', nick); await p.click('#connect');
    await until(nick + ' open', async () => (await p.textContent('#status')) === 'open');
  }
  await a.fill('#text', '/join r2'); await a.press('#text', 'Enter');
  await until('alice room field r2', async () => (await a.inputValue('#room')) === 'r2');
  await until('alice told she is in r2', async () => (await a.innerText('#log')).includes('* you are alice in #r2'));
  // bob changes the room field itself: the page sends /join
  await b.fill('#room', 'r2'); await b.press('#room', 'Tab');
  await until('bob in r2', async () => (await b.innerText('#log')).includes('* you are bob in #r2'));
  await a.fill('#text', 'mine ' + 'x'.repeat(400)); await a.press('#text', 'Enter');
  await b.fill('#text', 'from bob'); await b.press('#text', 'Enter');
  await until('alice sees bob', async () => (await a.innerText('#log')).includes('<bob> from bob'));
  const classes = await a.evaluate(() => [...document.querySelectorAll('#log > div')].map(d => [d.className, d.textContent.slice(0, 20)]));
  console.log(JSON.stringify(classes));
  const mine = classes.filter(([c, t]) => t.startsWith('<alice>')).every(([c]) => c === 'mine');
  const others = classes.filter(([c, t]) => t.startsWith('<bob>')).every(([c]) => c === '');
  if (!mine || !others) fail('own lines not marked');
  const wide = await a.evaluate(() => { const l = document.getElementById('log'); return [l.scrollWidth, l.clientWidth, document.documentElement.scrollWidth, window.innerWidth]; });
  console.log('widths', wide);
  if (wide[0] > wide[1] || wide[2] > wide[3]) fail('long word widens the log');
  await a.fill('#text', '/nick alicia'); await a.press('#text', 'Enter');
  await until('nick field follows', async () => (await a.inputValue('#nick')) === 'alicia');
  await a.fill('#text', 'after rename'); await a.press('#text', 'Enter');
  await until('renamed line', async () => (await a.innerText('#log')).includes('<alicia> after rename'));
  const last = await a.evaluate(() => document.querySelector('#log > div:last-child').className);
  if (last !== 'mine') fail('renamed own line not mine: ' + last);
  await b.fill('#text', '/nick alicia'); await b.press('#text', 'Enter');
  await until('bob told taken', async () => (await b.innerText('#log')).includes('* the nickname alicia is taken'));
  if ((await b.inputValue('#nick')) !== 'bob') fail('taken nick: field not restored');
    console.log('OK: room follows /join and the field, own lines marked, long words wrap, nick follows /nick');
  await browser.close();
})().catch(e => fail(e.stack));
