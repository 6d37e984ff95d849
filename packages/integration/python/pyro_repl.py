"""A line-oriented driver for Python Pyro4, used by Cinder's interop tests.

The test process writes one JSON request per line on stdin: {"id": n, "op": "exec" | "eval",
"code": "..."}; the code runs in one persistent namespace (Pyro4 imported, helpers below). Each
request gets one JSON answer per line on stdout: the value's repr, type and (when it is plain JSON)
the value itself, or the exception raised with its Pyro traceback. Anything the code prints goes to
stderr, so stdout carries answers only.
"""

import json
import sys
import threading
import traceback

import Pyro4
import Pyro4.util

_answers = sys.stdout
sys.stdout = sys.stderr


def type_name(value):
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else t.__module__ + "." + t.__qualname__


def as_json(value):
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return None


def proxy(uri, serializer="serpent", hmac=None, timeout=10.0):
    """A Pyro4 proxy using `serializer` (and an HMAC key), with a call timeout."""
    p = Pyro4.Proxy(uri)
    p._pyroSerializer = serializer
    p._pyroTimeout = timeout
    if hmac is not None:
        p._pyroHmacKey = hmac.encode() if isinstance(hmac, str) else hmac
    return p


def start_daemon(*objects, hmac=None, serializer=None):
    """A Pyro4 daemon on 127.0.0.1 serving `objects` from a background thread; returns it and the URIs."""
    daemon = Pyro4.Daemon(host="127.0.0.1", port=0)
    if hmac is not None:
        daemon._pyroHmacKey = hmac.encode() if isinstance(hmac, str) else hmac
    uris = [daemon.register(obj) for obj in objects]
    threading.Thread(target=daemon.requestLoop, daemon=True).start()
    return daemon, uris


def roundtrip(value, serializer):
    """What a Python Pyro4 daemon would give back for echo(value): the call encoded and decoded the
    way Pyro4 does, then the result encoded and decoded. The oracle for Cinder's echo."""
    s = Pyro4.util.get_serializer(serializer)
    _, _, args, _ = s.loadsCall(s.dumpsCall("test.thing", "echo", (value,), {}))
    return s.loads(s.dumps(args[0]))


def received(value, serializer):
    """What a Python Pyro4 daemon receives when a Python Pyro4 client passes `value`: the oracle for
    what it receives from Cinder."""
    s = Pyro4.util.get_serializer(serializer)
    _, _, args, _ = s.loadsCall(s.dumpsCall("test.thing", "describe", (value,), {}))
    return args[0]


def remote_traceback(exc):
    return "".join(Pyro4.util.getPyroTraceback(type(exc), exc, exc.__traceback__))


namespace = {
    "Pyro4": Pyro4,
    "proxy": proxy,
    "received": received,
    "roundtrip": roundtrip,
    "start_daemon": start_daemon,
    "threading": threading,
}


def answer(request):
    op = request.get("op")
    code = request.get("code", "")
    try:
        if op == "exec":
            exec(compile(code, "<test>", "exec"), namespace)
            value = None
        elif op == "eval":
            value = eval(compile(code, "<test>", "eval"), namespace)
        else:
            raise ValueError("unknown op %r" % (op,))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the test
        return {
            "ok": False,
            "type": type_name(exc),
            "message": str(exc),
            "args": repr(exc.args),
            "attributes": repr({k: v for k, v in vars(exc).items() if k != "_pyroTraceback"}),
            "traceback": remote_traceback(exc) if hasattr(exc, "_pyroTraceback") else None,
            "local_traceback": traceback.format_exc(),
        }
    return {"ok": True, "repr": repr(value), "type": type_name(value), "value": as_json(value)}


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        request = json.loads(line)
        reply = answer(request)
        reply["id"] = request.get("id")
        _answers.write(json.dumps(reply) + "\n")
        _answers.flush()


if __name__ == "__main__":
    main()
