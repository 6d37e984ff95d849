"""Differential helper for test/msgpack.test.ts: packs values the way Pyro's msgpack serializer does
and unpacks Cinder's bytes the way Pyro reads them. Reads one JSON batch from stdin:
{"pack": [rendering, ...], "unpack": [hex, ...]} and prints {"packed": [hex, ...], "unpacked":
[rendering or {"$error": text}, ...]}. Renderings follow the wire vectors' README."""
import json
import struct
import sys

import msgpack


def from_rendering(r):
    if r is None or isinstance(r, (bool, str, int, float)):
        return r
    if isinstance(r, list):
        return [from_rendering(x) for x in r]
    if len(r) == 1:
        (key, v), = r.items()
        if key == "$int":
            return int(v)
        if key == "$float":
            return float(v)
        if key == "$bytes":
            return bytes.fromhex(v)
        if key == "$tuple":
            return tuple(from_rendering(x) for x in v)
        if key == "$set":
            return {from_rendering(x) for x in v}
        if key == "$dict":
            return {from_rendering(k): from_rendering(x) for k, x in v}
        if key == "$complex":
            return complex(from_rendering(v[0]), from_rendering(v[1]))
    return {k: from_rendering(x) for k, x in r.items()}


def render(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else {"$int": str(v)}
    if isinstance(v, float):
        if v != v:
            return {"$float": "nan"}
        if v in (float("inf"), float("-inf")):
            return {"$float": "inf" if v > 0 else "-inf"}
        if v.is_integer():
            return {"$float": repr(v)}
        return v
    if isinstance(v, bytes):
        return {"$bytes": v.hex()}
    if isinstance(v, complex):
        return {"$complex": [render(v.real), render(v.imag)]}
    if isinstance(v, (list, tuple)):
        return [render(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in v):
            return {k: render(x) for k, x in v.items()}
        return {"$dict": [[render(k), render(x)] for k, x in v.items()]}
    raise TypeError(type(v).__name__)


# Pyro5's MsgpackSerializer.default / ext_hook (serializers.py), for the types used here.
def default(obj):
    if isinstance(obj, set):
        return tuple(obj)
    if isinstance(obj, complex):
        return msgpack.ExtType(0x30, struct.pack("dd", obj.real, obj.imag))
    if isinstance(obj, int):
        return msgpack.ExtType(0x31, str(obj).encode("ascii"))
    raise TypeError(type(obj).__name__)


def ext_hook(code, data):
    if code == 0x30:
        real, imag = struct.unpack("dd", data)
        return complex(real, imag)
    if code == 0x31:
        return int(data)
    raise ValueError("invalid ext code %d" % code)


def main():
    batch = json.load(sys.stdin)
    packed = [msgpack.packb(from_rendering(r), use_bin_type=True, default=default).hex() for r in batch["pack"]]
    unpacked = []
    for h in batch["unpack"]:
        try:
            v = msgpack.unpackb(bytes.fromhex(h), raw=False, strict_map_key=False, ext_hook=ext_hook)
            unpacked.append(render(v))
        except Exception as e:  # reported to the test, which fails on it
            unpacked.append({"$error": "%s: %s" % (type(e).__name__, e)})
    json.dump({"packed": packed, "unpacked": unpacked}, sys.stdout)


if __name__ == "__main__":
    main()
