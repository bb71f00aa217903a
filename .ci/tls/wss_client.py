"""Python websockets over wss:// through the TLS proxies of .ci/tls.sh.

    wss_client.py exchange CA_FILE NAME=URL...
        For each URL: verify the proxy's certificate against CA_FILE, then
        text (non-ASCII), binary, and a 1 MiB message (binary, byte-exact)
        echoed back, and a clean close (1000 both ways).

    wss_client.py idle CA_FILE SECONDS KEPT=URL... --cut NAME=URL...
        Opens every connection with the client's own pings off, stays idle
        for SECONDS, then sends a message. The KEPT ones (the server pings
        them) must echo it; the --cut ones (a server that does not ping,
        behind the same short proxy timeouts) must have been closed by the
        proxy: the test of the pings is only worth something if its control
        fails.

    wss_client.py drain CA_FILE URL COUNT FIFO DONE_FILE
        COUNT clients connect to URL (a balancer in front of two nodes) with
        websockets' reconnecting loop (`async for ws in connect(...)`) and
        exchange a message; then "drain" is written to FIFO (the standard
        input of one node, started with --drain-on-stdin), the clients of
        that node get close 1012 and reconnect through the balancer, which
        now finds only the other node. Once DONE_FILE exists (the drained
        node has exited), every client must echo on its current connection.
        Prints how many saw 1012.

One line per check; exit status 1 if any failed.
"""

import asyncio
import os
import ssl
import sys

import websockets

TIMEOUT = 15  # every step


def context(ca_file):
    ctx = ssl.create_default_context(cafile=ca_file)
    return ctx  # hostname checking on: the certificate names 127.0.0.1


async def exchange(name, url, ca_file):
    async with asyncio.timeout(TIMEOUT):
        async with websockets.connect(
            url, ssl=context(ca_file), max_size=4 * 1024 * 1024, compression=None
        ) as ws:
            text = "héllo over TLS ✓"
            await ws.send(text)
            assert await ws.recv() == text, "text echo"
            binary = bytes(range(256)) * 4
            await ws.send(binary)
            assert await ws.recv() == binary, "binary echo"
            big = os.urandom(1024 * 1024)
            await ws.send(big)
            back = await ws.recv()
            assert back == big, f"1 MiB echo: {len(back)} bytes back, equal: {back == big}"
            await ws.close(1000, "done")
            assert ws.close_code == 1000, f"close code {ws.close_code}"
            rcvd = ws.protocol.close_rcvd
            assert rcvd is not None and rcvd.code == 1000, f"the server's close: {rcvd}"
    return f"{name}: text, binary, 1 MiB and a clean close over wss:// OK"


async def idle(name, url, ca_file, seconds, kept):
    ws = await asyncio.wait_for(
        websockets.connect(url, ssl=context(ca_file), ping_interval=None), TIMEOUT
    )
    try:
        await asyncio.sleep(seconds)  # idle: this is the test, not a wait for something
        try:
            async with asyncio.timeout(TIMEOUT):
                await ws.send("still here")
                back = await ws.recv()
        except websockets.ConnectionClosed as e:
            if kept:
                raise AssertionError(f"closed after {seconds} s idle: {e}") from None
            return f"{name}: control: without the server's pings the proxy closed the idle connection ({e.rcvd.code if e.rcvd else 1006}) OK"
        if not kept:
            raise AssertionError(f"alive after {seconds} s idle without pings: the proxy's timeout is not short")
        assert back == "still here", back
        return f"{name}: idle {seconds} s past the proxy's 5 s timeout, kept alive by the server's pings OK"
    finally:
        await ws.close()


async def drain(url, ca_file, count, fifo, done_file):
    ready = asyncio.Barrier(count + 1)
    drained = asyncio.Event()
    restarts = [0] * count

    async def client(i):
        first = True
        async for ws in websockets.connect(url, ssl=context(ca_file), open_timeout=TIMEOUT):
            try:
                await ws.send(f"client {i}")
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == f"client {i}"
                if first:
                    first = False
                    await ready.wait()
                while not drained.is_set():
                    try:
                        # Waits for the close (a 1012 raises ConnectionClosed).
                        await asyncio.wait_for(ws.recv(), 0.1)
                    except TimeoutError:
                        pass
                await ws.send("after the drain")
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "after the drain"
                await ws.close()
                return
            except websockets.ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd else None
                if code != 1012:
                    raise AssertionError(f"client {i} closed with {code}, not 1012") from None
                restarts[i] += 1  # and the loop reconnects

    async def conductor():
        await ready.wait()
        with open(fifo, "w") as f:
            f.write("drain\n")
        async with asyncio.timeout(30):
            while not os.path.exists(done_file):
                await asyncio.sleep(0.05)  # the other node's exit, seen through the file
        drained.set()

    async with asyncio.timeout(60):
        await asyncio.gather(conductor(), *(client(i) for i in range(count)))
    moved = sum(1 for r in restarts if r)
    assert moved > 0 and all(r <= 1 for r in restarts), f"restarts per client: {restarts}"
    return f"drain: {moved} of {count} clients got 1012, reconnected through the balancer, and all {count} echo after the drain OK (moved={moved})"


async def main(argv):
    mode, ca_file, rest = argv[0], argv[1], argv[2:]
    jobs = []
    if mode == "exchange":
        for arg in rest:
            name, url = arg.split("=", 1)
            jobs.append((name, exchange(name, url, ca_file)))
    elif mode == "idle":
        seconds, kept = float(rest[0]), True
        for arg in rest[1:]:
            if arg == "--cut":
                kept = False
                continue
            name, url = arg.split("=", 1)
            jobs.append((name, idle(name, url, ca_file, seconds, kept)))
    elif mode == "drain":
        url, count, fifo, done_file = rest
        jobs.append(("drain", drain(url, ca_file, int(count), fifo, done_file)))
    else:
        print(__doc__)
        return 2
    results = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
    failed = 0
    for (name, _), result in zip(jobs, results):
        if isinstance(result, BaseException):
            failed += 1
            print(f"tls: {name}: FAILED: {type(result).__name__}: {result}")
        else:
            print(f"tls: {result}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
