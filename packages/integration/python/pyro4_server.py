"""A Python Pyro4 daemon for Cinder's interop tests (the Cinder proxy is the client).

Serves `test.thing` (a Thing like the wire vectors' one, plus members for values, callbacks and
streams) and `test.other` (a registered object handed out by autoproxy). Prints one line
`URI = <uri of test.thing>` when ready and serves until it is terminated.

Options: --host H, --unix PATH, --hmac-key KEY, --serializers serpent,json,marshal,msgpack,
--compression.
"""

import argparse
import sys
import time

import Pyro4

from interop_errors import CustomError

STATE = {"closed_streams": [], "hmac": None}

# Values `value_of` may build: only plain constructors, no builtins beyond these.
VALUE_NAMES = {"__builtins__": {}, "float": float, "bytearray": bytearray, "complex": complex}


@Pyro4.expose
class Other(object):
    def who(self):
        return "other"


class Thing(object):
    def __init__(self):
        self._value = 42
        self._last = None

    @Pyro4.expose
    def add(self, a, b):
        return a + b

    @Pyro4.expose
    def kw(self, a, b=2, **kwargs):
        return {"a": a, "b": b, "kwargs": kwargs}

    @Pyro4.expose
    def echo(self, value):
        return value

    @Pyro4.expose
    def describe(self, value):
        """The Python type and repr of what arrived (how the Cinder side's value was decoded)."""
        if isinstance(value, Pyro4.Proxy):
            return {"type": "Pyro4.core.Proxy", "repr": str(value._pyroUri)}
        if isinstance(value, Pyro4.URI):  # its repr shows a memory address
            return {"type": "Pyro4.core.URI", "repr": str(value)}
        return {"type": type(value).__module__ + "." + type(value).__qualname__, "repr": repr(value)}

    @Pyro4.expose
    def value_of(self, expression):
        """A value built on the server from a Python expression (constants and containers)."""
        return eval(expression, dict(VALUE_NAMES))

    @Pyro4.expose
    def fail(self):
        raise ValueError("bad value")

    @Pyro4.expose
    def fail_custom(self):
        raise CustomError("custom failure", 42)

    @Pyro4.expose
    def fail_pyro(self):
        raise Pyro4.errors.NamingError("no such name")

    @Pyro4.expose
    @Pyro4.oneway
    def ow(self, value):
        time.sleep(0.05)  # the caller must not wait for this
        self._last = value

    @Pyro4.expose
    def last_oneway(self):
        return self._last

    @Pyro4.expose
    def gen(self, n):
        for i in range(1, n + 1):
            yield i

    @Pyro4.expose
    def gen_tracked(self, n):
        """A generator that records when it is closed (early close from the client)."""
        try:
            for i in range(1, n + 1):
                yield i
        finally:
            STATE["closed_streams"].append(n)

    @Pyro4.expose
    def closed_streams(self):
        return STATE["closed_streams"]

    @Pyro4.expose
    def ann(self):
        ctx = Pyro4.current_context
        ctx.response_annotations["XRSP"] = b"response-annotation"
        value = ctx.annotations.get("XREQ")
        return None if value is None else bytes(value).decode()

    @Pyro4.expose
    def corr(self):
        return str(Pyro4.current_context.correlation_id)

    @Pyro4.expose
    def big(self, n):
        return "x" * n

    @Pyro4.expose
    def slow(self, seconds):
        time.sleep(seconds)
        return "done"

    @Pyro4.expose
    def call_back(self, callback, *args):
        """Calls `hello(*args)` on a proxy the client passed (a Cinder object autoproxied)."""
        if STATE["hmac"]:
            callback._pyroHmacKey = STATE["hmac"]
        return "python got %r" % (callback.hello(*args),)

    @Pyro4.expose
    def other(self):
        return OTHER

    @Pyro4.expose
    def make_uri(self, text):
        return Pyro4.URI(text)

    @Pyro4.expose
    def make_proxy(self, text):
        return Pyro4.Proxy(text)

    @Pyro4.expose
    def exception_value(self):
        return KeyError("as a value")

    @Pyro4.expose
    @property
    def value(self):
        return self._value

    @Pyro4.expose
    @value.setter
    def value(self, v):
        self._value = v

    def hidden(self):
        return "not exposed"

    def _private(self):
        return "private"


OTHER = Other()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--unix")
    parser.add_argument("--hmac-key")
    parser.add_argument("--serializers", default="serpent,json,marshal,msgpack")
    parser.add_argument("--compression", action="store_true")
    args = parser.parse_args()
    Pyro4.config.SERIALIZERS_ACCEPTED = set(args.serializers.split(","))
    Pyro4.config.COMPRESSION = args.compression
    if args.unix:
        daemon = Pyro4.Daemon(unixsocket=args.unix)
    else:
        daemon = Pyro4.Daemon(host=args.host, port=0)
    if args.hmac_key:
        STATE["hmac"] = args.hmac_key.encode()
        daemon._pyroHmacKey = STATE["hmac"]
    daemon.register(OTHER, "test.other")
    uri = daemon.register(Thing, "test.thing")
    print("URI = %s" % uri, flush=True)
    try:
        daemon.requestLoop()
    finally:
        daemon.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
