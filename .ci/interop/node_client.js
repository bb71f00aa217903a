// The Node `ws` library as a client of an stdws echo server.
//
//   NODE_PATH=target/interop/node_modules node node_client.js ws://127.0.0.1:PORT/
//
// Checks, in order: the handshake (the permessage-deflate offer accepted), a
// text round trip (non-ASCII), a binary round trip (every byte value), a text
// message sent as three fragments cut inside UTF-8 characters, a 1 MiB binary
// round trip (byte-exact), a ping answered by a pong with the same payload
// (ws.ping() and the 'pong' event), and a clean close (the 'close' event with
// code 1000, after the server's close frame). Prints one OK line and exits 0,
// or prints what failed and exits 1. The whole run is bounded by TIMEOUT_MS
// and each step by STEP_MS.
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');
const version = require('ws/package.json').version;

const TIMEOUT_MS = 30000;
const STEP_MS = 10000;
const url = process.argv[2];
const name = `node ws ${version} client`;

function fail(problem) {
  console.log(`interop: ${name} -> ${url}: FAILED: ${problem}`);
  process.exit(1);
}

if (!url) {
  console.error('usage: node_client.js ws://HOST:PORT/');
  process.exit(2);
}
setTimeout(() => fail(`the run took more than ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS).unref();

// Every event of the socket goes into one queue, read in order by next().
const events = [];
let wake = null;
function push(event) {
  events.push(event);
  if (wake) { const w = wake; wake = null; w(); }
}
async function next(what) {
  const deadline = Date.now() + STEP_MS;
  while (events.length === 0) {
    const left = deadline - Date.now();
    if (left <= 0) fail(`${what}: nothing within ${STEP_MS / 1000} s`);
    await new Promise((resolve) => {
      wake = resolve;
      setTimeout(resolve, left);
    });
  }
  return events.shift();
}

function describe(data, isBinary) {
  return isBinary
    ? `binary of ${data.length} bytes: ${data.subarray(0, 24).toString('hex')}`
    : `text of ${data.length} bytes: ${JSON.stringify(data.toString('utf8').slice(0, 60))}`;
}

async function roundTrip(ws, what, sent, isBinary, fragments) {
  const bytes = Buffer.isBuffer(sent) ? sent : Buffer.from(sent, 'utf8');
  if (fragments) {
    // ws sends a message as several frames with fin: false on all but the last.
    const cuts = [0, ...fragments, bytes.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      ws.send(bytes.subarray(cuts[i], cuts[i + 1]), { binary: isBinary, fin: i + 2 === cuts.length });
    }
  } else {
    ws.send(sent, { binary: isBinary });
  }
  const event = await next(`${what}: waiting for the echo`);
  if (event.type !== 'message') fail(`${what}: expected the echo, got ${event.type} ${event.detail || ''}`);
  if (event.isBinary !== isBinary) {
    fail(`${what}: sent ${describe(bytes, isBinary)}, received ${describe(event.data, event.isBinary)}`);
  }
  if (!bytes.equals(event.data)) {
    let first = 0;
    while (first < bytes.length && bytes[first] === event.data[first]) first++;
    fail(`${what}: the echo differs (sent ${bytes.length} bytes, received ${event.data.length}, ` +
      `first difference at ${first}): ${describe(event.data, event.isBinary)}`);
  }
}

async function main() {
  const ws = new WebSocket(url, { handshakeTimeout: STEP_MS, maxPayload: 64 << 20 });
  ws.on('open', () => push({ type: 'open' }));
  ws.on('message', (data, isBinary) => push({ type: 'message', data, isBinary }));
  ws.on('pong', (data) => push({ type: 'pong', data }));
  ws.on('ping', (data) => push({ type: 'ping', data }));
  ws.on('close', (code, reason) => push({ type: 'close', code, reason: reason.toString(), detail: `code ${code}` }));
  ws.on('error', (e) => push({ type: 'error', detail: e.message }));

  const opened = await next('connect');
  if (opened.type !== 'open') fail(`cannot connect: ${opened.type} ${opened.detail || ''}`);
  const done = [];
  // ws offers permessage-deflate; the echo example accepts it.
  if (!ws.extensions.startsWith('permessage-deflate')) fail(`handshake: permessage-deflate was not negotiated: '${ws.extensions}'`);
  done.push(`handshake (deflate negotiated: ${ws.extensions})`);

  await roundTrip(ws, 'text', 'héllo wörld ✓ — ünïcødé 日本語 😀', false);
  await roundTrip(ws, 'empty text', '', false);
  done.push('text');

  const everyByte = Buffer.alloc(1024);
  for (let i = 0; i < everyByte.length; i++) everyByte[i] = i & 0xff;
  await roundTrip(ws, 'binary', everyByte, true);
  done.push('binary');

  // The cuts fall inside multi-byte characters: only the whole message is UTF-8.
  await roundTrip(ws, 'fragmented text', 'frag✓mënted message 😀 end', false, [5, 13]);
  done.push('fragmented');

  await roundTrip(ws, '1 MiB binary', crypto.randomBytes(1 << 20), true);
  done.push('1 MiB');

  const payload = Buffer.from('stdws-interop-ping');
  const started = process.hrtime.bigint();
  ws.ping(payload);
  const pong = await next('ping: waiting for the pong');
  if (pong.type !== 'pong') fail(`ping: expected a pong, got ${pong.type} ${pong.detail || ''}`);
  if (!payload.equals(pong.data)) fail(`ping: the pong carries ${pong.data.toString('hex')}, not the ping's payload`);
  done.push(`ping (pong in ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms)`);

  ws.close(1000, 'interop done');
  const closed = await next('close: waiting for the closing handshake');
  if (closed.type !== 'close') fail(`close: expected the close event, got ${closed.type} ${closed.detail || ''}`);
  // ws reports 1005 for a close frame without a code and 1006 when no close
  // frame came at all; _closeFrameReceived says which frames crossed.
  if (closed.code !== 1000) fail(`close: the close event has code ${closed.code} (${JSON.stringify(closed.reason)}), not 1000`);
  if (ws._closeFrameReceived !== true || ws._closeFrameSent !== true) {
    fail(`close: close frame received ${ws._closeFrameReceived}, sent ${ws._closeFrameSent}`);
  }
  if (ws.readyState !== WebSocket.CLOSED) fail(`close: readyState is ${ws.readyState}, not CLOSED`);
  done.push('close');

  console.log(`interop: ${name} -> stdws echo: ${done.join(', ')} OK`);
  process.exit(0);
}

main().catch((e) => fail(`${e && e.stack ? e.stack : e}`));
