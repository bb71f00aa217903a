// The README's quick tour, as a newcomer follows it: Debian's Chromium,
// driven by playwright-core, opens the page the echo example serves, and
// runs in it the JavaScript that the README's step 2 says to paste into the
// console (read from README.md, so that the two cannot drift apart).
//
//   NODE_PATH=target/browser/node_modules node quick_tour_test.js http://127.0.0.1:PORT/ README.md SCREENSHOT
//
// Passes when the page shows the same snippet as the README and the console
// shows "echo: Hello" and then "closed 1000 true". Bounded: 60 s in all.
'use strict';

const fs = require('fs');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const [pageUrl, readme, screenshot] = process.argv.slice(2);
if (!pageUrl || !readme || !screenshot) {
  console.error('usage: quick_tour_test.js http://HOST:PORT/ README.md SCREENSHOT.png');
  process.exit(2);
}

function snippetFromReadme() {
  const text = fs.readFileSync(readme, 'utf8');
  const tour = text.slice(text.indexOf('## A quick tour'));
  const match = /```js\n([\s\S]*?)```/.exec(tour);
  if (!match) throw new Error('no ```js block in the README\'s quick tour');
  // The README indents the block inside its numbered list.
  return match[1].split('\n').map((line) => line.replace(/^ {3}/, '')).join('\n').trim();
}

async function main() {
  const snippet = snippetFromReadme();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const timer = setTimeout(() => { console.log('quick tour: FAILED: over 60 s'); process.exit(1); }, 60000);
  try {
    const page = await browser.newPage();
    const lines = [];
    let resolveClosed;
    const closed = new Promise((resolve) => { resolveClosed = resolve; });
    page.on('console', (message) => {
      lines.push(message.text());
      if (message.text().startsWith('closed')) resolveClosed();
    });
    await page.goto(pageUrl);
    const shown = (await page.textContent('#snippet')).trim();
    if (shown !== snippet) {
      throw new Error(`the page shows another snippet than the README:\n--- page\n${shown}\n--- README\n${snippet}`);
    }
    // What pasting into the console does: run it as a script of the page.
    await page.addScriptTag({ content: snippet });
    await closed;
    await page.screenshot({ path: screenshot });
    const expected = ['echo: Hello', 'closed 1000 true'];
    if (JSON.stringify(lines) !== JSON.stringify(expected)) {
      throw new Error(`the console showed ${JSON.stringify(lines)}, not ${JSON.stringify(expected)}`);
    }
    console.log(`quick tour: the README's snippet ran in the echo's page: ${lines.join(' / ')}`);
  } finally {
    clearTimeout(timer);
    await browser.close();
  }
}

main().catch((e) => { console.log(`quick tour: FAILED: ${e.message}`); process.exit(1); });
