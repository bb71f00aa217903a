"""python-socketio's client against examples/socketio_suite.rs, one line per
check ("ok ..." or "FAIL ..."), exit status 1 if any failed.

Usage: python py_client.py URL
"""

import sys
import threading

import socketio

URL = sys.argv[1]
failed = 0

EVERY_TYPE = [None, True, False, 0, -1, 3.25, "", "héllo wörld ✓ 日本語 😀", [], [1, [2, [3]]],
              {"a": {"b": [None, "x"]}, "ключ": "значение"}]


def check(name, fn):
    global failed
    try:
        fn()
        print(f"ok   python: {name}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        failed += 1
        print(f"FAIL python: {name}: {e!r}", flush=True)


def expect(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: got {actual!r}, expected {expected!r}")


def client(transports, namespaces=None, auth=None):
    sio = socketio.Client(reconnection=False)
    got = {}
    events = {}

    def on(name):
        events[name] = threading.Event()

        def handler(*args):
            got[name] = list(args)
            events[name].set()
        return handler

    for name in ["auth", "message-back", "question-answered"]:
        sio.on(name, on(name))
    sio.connect(URL, transports=transports, namespaces=namespaces or ["/"], auth=auth,
                wait_timeout=5)
    return sio, got, events


def round_trip(transport):
    def run():
        sio, got, events = client([transport])
        try:
            events["auth"].wait(5)
            expect(got.get("auth"), [{}], "auth")
            sio.emit("message", tuple(EVERY_TYPE))
            if not events["message-back"].wait(5):
                raise AssertionError("no message-back")
            expect(got["message-back"], EVERY_TYPE, "message-back")
            expect(sio.call("message-with-ack", ("a", 1), timeout=5), ("a", 1), "ack")
            who = sio.call("whoami", timeout=5)
            expect(who["transport"], transport, "transport")
            expect(sio.transport(), transport, "client transport")
            # Binary both ways, nested.
            back = sio.call("message-with-ack", ({"bin": b"\x01\x02", "list": [b"", b"xyz"]},), timeout=5)
            expect(back, {"bin": b"\x01\x02", "list": [b"", b"xyz"]}, "binary ack")
        finally:
            sio.disconnect()
    return run


def upgrade():
    sio, got, events = client(["polling", "websocket"])
    try:
        for _ in range(50):
            if sio.transport() == "websocket":
                break
            threading.Event().wait(0.1)
        expect(sio.transport(), "websocket", "transport after the upgrade")
        expect(sio.call("whoami", timeout=5)["transport"], "websocket", "server's view")
    finally:
        sio.disconnect()


def server_asks():
    sio = socketio.Client(reconnection=False)
    answered = threading.Event()
    answers = []
    sio.on("question", lambda q: f"answer to {q}")
    sio.on("answer", lambda *a: (answers.append(list(a)), answered.set()))
    sio.connect(URL, transports=["websocket"], wait_timeout=5)
    try:
        expect(sio.call("ask", "why", timeout=5), True, "ask acked")
        if not answered.wait(5):
            raise AssertionError("no answer came back")
        expect(answers[0], ["answer to why"], "answer")
    finally:
        sio.disconnect()


def namespaces():
    sio = socketio.Client(reconnection=False)
    refusals = []
    sio.on("connect_error", lambda data: refusals.append(data), namespace="/admin")
    try:
        sio.connect(URL, namespaces=["/admin"], auth={"token": "nope"}, wait_timeout=5)
        sio.disconnect()
        raise AssertionError("a wrong token was accepted")
    except socketio.exceptions.ConnectionError:
        pass
    expect(refusals, [{"message": "unauthorized"}], "the refusal")
    sio = socketio.Client(reconnection=False)
    sio.connect(URL, namespaces=["/admin"], auth={"token": "s3cret-token"}, wait_timeout=5)
    try:
        expect(sio.call("whoami", namespace="/admin", timeout=5)["nsp"], "/admin", "nsp")
    finally:
        sio.disconnect()


def disconnects():
    sio = socketio.Client(reconnection=False)
    gone = threading.Event()
    sio.on("disconnect", lambda *reason: gone.set())
    sio.connect(URL, transports=["polling"], wait_timeout=5)
    sio.emit("disconnect-me")
    if not gone.wait(5):
        raise AssertionError("not disconnected by the server")


check("polling: every JSON type, non-ASCII, acks, binary", round_trip("polling"))
check("websocket: every JSON type, non-ASCII, acks, binary", round_trip("websocket"))
check("default transports: the upgrade to websocket", upgrade)
check("server asks, client acks", server_asks)
check("namespaces: auth refused and accepted", namespaces)
check("server disconnect", disconnects)
sys.exit(1 if failed else 0)
