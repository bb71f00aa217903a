"""An echo server on the Python `websockets` library, for stdws's client.

    python py_server.py [PORT]      (default 0: an ephemeral port)

Prints "listening on ws://127.0.0.1:PORT/" on standard output once it listens,
then one line per event on standard error:

  connect #N PATH EXT             a client completed the opening handshake;
                                  EXT: the extensions agreed (or 'none')
  pong #N ok                      the client answered the server's first ping
  pong #N MISSING                 ... or did not, within 5 s
  closed #N code=C rcvd=R sent=S  the end of a connection: R and S are the
                                  codes of the close frames received and sent

Every text and binary message goes back unchanged, except the text
"close-please": the server then closes the connection with 1000, so that the
client's handling of a close started by the server is tested too. It runs
until killed.
"""

import asyncio
import itertools
import sys

from websockets.asyncio.server import serve

PONG_WAIT = 5.0
ids = itertools.count(1)


def log(line):
    print(line, file=sys.stderr, flush=True)


async def expect_pong(n, waiter):
    try:
        await asyncio.wait_for(waiter, PONG_WAIT)
        log("pong #%d ok" % n)
    except asyncio.TimeoutError:
        log("pong #%d MISSING" % n)
    except Exception as e:  # the connection closed before the pong
        log("pong #%d MISSING (%s)" % (n, type(e).__name__))


async def echo(ws):
    n = next(ids)
    agreed = ws.response.headers.get("Sec-WebSocket-Extensions") or "none"
    log("connect #%d %s %s" % (n, ws.request.path, agreed))
    pong = asyncio.create_task(expect_pong(n, await ws.ping(b"from-python-server")))
    try:
        async for message in ws:
            if message == "close-please":
                await ws.close(1000, "asked to close")
                break
            await ws.send(message)
    finally:
        await ws.wait_closed()
        await pong
        rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
        log("closed #%d code=%s rcvd=%s sent=%s" % (
            n, ws.close_code, rcvd.code if rcvd else None, sent.code if sent else None))


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    async with serve(echo, "127.0.0.1", port, max_size=None, ping_interval=None,
                     close_timeout=5) as server:
        port = server.sockets[0].getsockname()[1]
        print("listening on ws://127.0.0.1:%d/" % port, flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
