"""The Python `websockets` library as a client of an stdws echo server.

    python py_client.py ws://127.0.0.1:PORT/

Checks, in order: the handshake (the permessage-deflate offer accepted), a
text round trip (non-ASCII), a binary round trip (every byte value), a text
message sent in several frames (websockets fragments an iterable), a 1 MiB
binary round trip (byte-exact), a ping answered by a pong with the same
payload, and a clean close (code 1000, the server's close frame received).
Prints one OK line and exits 0, or prints what failed and exits 1. The whole
run is bounded by TIMEOUT seconds, and each step by STEP seconds.
"""

import asyncio
import os
import sys

import websockets
from websockets.asyncio.client import connect
from websockets.protocol import State

TIMEOUT = 30.0
STEP = 10.0
NAME = "python websockets %s client" % websockets.__version__


class Failure(Exception):
    pass


def describe(data):
    if isinstance(data, str):
        return "text of %d characters: %r" % (len(data), data[:60])
    return "binary of %d bytes: %r" % (len(data), bytes(data[:24]))


async def round_trip(ws, what, sent):
    try:
        if isinstance(sent, list):
            await asyncio.wait_for(ws.send(sent), STEP)  # an iterable goes out fragmented
            sent = sent[0][:0].join(sent)
        else:
            await asyncio.wait_for(ws.send(sent), STEP)
        received = await asyncio.wait_for(ws.recv(), STEP)
    except asyncio.TimeoutError:
        raise Failure("%s: no echo within %g s" % (what, STEP))
    if type(received) is not type(sent):
        raise Failure("%s: sent %s, received %s" % (what, describe(sent), describe(received)))
    if received != sent:
        first = next((i for i, (a, b) in enumerate(zip(sent, received)) if a != b),
                     min(len(sent), len(received)))
        raise Failure("%s: the echo differs (sent %d, received %d, first difference at %d): %s"
                      % (what, len(sent), len(received), first, describe(received)))


async def run(url):
    try:
        # max_size=None: the 1 MiB echo is exactly at the library's default limit.
        ws = await connect(url, max_size=None, open_timeout=STEP, close_timeout=STEP,
                           ping_interval=None)
    except Exception as e:
        raise Failure("cannot connect to %s: %s: %s" % (url, type(e).__name__, e))
    done = []
    # websockets offers permessage-deflate; the echo example accepts it.
    accepted = ws.response.headers.get("Sec-WebSocket-Extensions")
    if accepted is None or not accepted.startswith("permessage-deflate"):
        raise Failure("handshake: permessage-deflate was not negotiated: %r" % accepted)
    done.append("handshake (deflate negotiated: %s)" % accepted)

    await round_trip(ws, "text", "héllo wörld ✓ — ünïcødé 日本語 😀")
    await round_trip(ws, "empty text", "")
    done.append("text")

    await round_trip(ws, "binary", bytes(range(256)) * 4)
    done.append("binary")

    await round_trip(ws, "fragmented text", ["frag", "mënted ", "message ✓"])
    done.append("fragmented")

    await round_trip(ws, "1 MiB binary", os.urandom(1 << 20))
    done.append("1 MiB")

    payload = b"stdws-interop-ping"
    try:
        pong = await asyncio.wait_for(ws.ping(payload), STEP)
        latency = await asyncio.wait_for(pong, STEP)
    except asyncio.TimeoutError:
        raise Failure("ping: no pong within %g s" % STEP)
    done.append("ping (pong in %.1f ms)" % (latency * 1000))

    try:
        await asyncio.wait_for(ws.close(1000, "interop done"), STEP)
        await asyncio.wait_for(ws.wait_closed(), STEP)
    except asyncio.TimeoutError:
        raise Failure("close: the closing handshake did not finish within %g s" % STEP)
    rcvd = ws.protocol.close_rcvd
    if ws.state is not State.CLOSED:
        raise Failure("close: the connection is %s, not CLOSED" % ws.state.name)
    if rcvd is None:
        raise Failure("close: the server sent no close frame (close_code %s)" % ws.close_code)
    if ws.close_code != 1000 or rcvd.code != 1000:
        raise Failure("close: the server answered with code %s (%r), not 1000"
                      % (rcvd.code, rcvd.reason))
    if ws.protocol.close_rcvd_then_sent is not False:
        raise Failure("close: the server did not answer our close (it closed first)")
    done.append("close")
    return done


def main():
    if len(sys.argv) != 2:
        print("usage: py_client.py ws://HOST:PORT/", file=sys.stderr)
        return 2
    url = sys.argv[1]
    try:
        done = asyncio.run(asyncio.wait_for(run(url), TIMEOUT))
    except Failure as e:
        print("interop: %s -> %s: FAILED: %s" % (NAME, url, e))
        return 1
    except asyncio.TimeoutError:
        print("interop: %s -> %s: FAILED: the run took more than %g s" % (NAME, url, TIMEOUT))
        return 1
    except Exception as e:  # a connection closed early, a protocol error, ...
        print("interop: %s -> %s: FAILED: %s: %s" % (NAME, url, type(e).__name__, e))
        return 1
    print("interop: %s -> stdws echo: %s OK" % (NAME, ", ".join(done)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
