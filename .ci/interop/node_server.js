// An echo server on the Node `ws` library, for stdws's client.
//
//   NODE_PATH=target/interop/node_modules node node_server.js [PORT]   (default 0: ephemeral)
//
// Prints "listening on ws://127.0.0.1:PORT/" on standard output once it
// listens, then one line per event on standard error:
//
//   connect #N PATH EXT             a client completed the opening handshake;
//                                   EXT: the extensions agreed (or 'none')
//   pong #N ok                      the client answered the server's first ping
//   pong #N MISSING                 ... or did not, within 5 s
//   closed #N code=C rcvd=R sent=S  the end of a connection: the close event's
//                                   code, and whether close frames crossed
//
// Every text and binary message goes back unchanged, except the text
// "close-please": the server then closes the connection with 1000, so that
// the client's handling of a close started by the server is tested too. It
// runs until killed.
'use strict';

const { WebSocketServer } = require('ws');

const PONG_WAIT_MS = 5000;
const port = Number(process.argv[2] || 0);
const log = (line) => process.stderr.write(`${line}\n`);
let ids = 0;

const server = new WebSocketServer({ host: '127.0.0.1', port, maxPayload: 64 << 20, perMessageDeflate: true });
server.on('listening', () => {
  console.log(`listening on ws://127.0.0.1:${server.address().port}/`);
});
server.on('error', (e) => {
  log(`server error: ${e.message}`);
  process.exit(1);
});
server.on('connection', (ws, request) => {
  const n = ++ids;
  log(`connect #${n} ${request.url} ${ws.extensions || 'none'}`);
  const payload = Buffer.from('from-node-server');
  let ponged = false;
  const timer = setTimeout(() => log(`pong #${n} MISSING`), PONG_WAIT_MS);
  ws.on('pong', (data) => {
    if (!ponged && payload.equals(data)) {
      ponged = true;
      clearTimeout(timer);
      log(`pong #${n} ok`);
    }
  });
  ws.ping(payload);
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.toString() === 'close-please') {
      ws.close(1000, 'asked to close');
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on('error', (e) => log(`error #${n}: ${e.message}`));
  ws.on('close', (code) => {
    if (!ponged) {
      clearTimeout(timer);
      log(`pong #${n} MISSING (closed first)`);
    }
    log(`closed #${n} code=${code} rcvd=${ws._closeFrameReceived} sent=${ws._closeFrameSent}`);
  });
});
