"""Python side of test/formats/differential.test.ts: what CPython, json and serpent make of our values.

Reads one JSON batch on stdin, writes one JSON answer on stdout. Values travel in the golden
vectors' $-rendering (see tooling/test-utils/vectors/README.md). For every case it builds the value,
encodes it with Python's own library, and decodes the bytes our encoder produced.
"""
import base64
import json
import marshal
import math
import struct
import sys
import unicodedata

import serpent


def build(r, mode):
    if r is None or isinstance(r, (bool, str, int, float)):
        return r
    if isinstance(r, list):
        return [build(x, mode) for x in r]
    if len(r) == 1:
        (k, v), = r.items()
        if k == "$int":
            return int(v)
        if k == "$float":
            return float(v)
        if k == "$bytes":
            b = bytes.fromhex(v)
            if mode == "json":
                return {"data": base64.b64encode(b).decode("ascii"), "encoding": "base64"}
            return b
        if k == "$tuple":
            return tuple(build(x, mode) for x in v)
        if k == "$set":
            items = [build(x, mode) for x in v]
            return items if mode == "json" else set(items)
        if k == "$dict":
            return {build(a, mode): build(b, mode) for a, b in v}
        if k == "$complex":
            return complex(build(v[0], mode), build(v[1], mode))
    return {k: build(v, mode) for k, v in r.items()}


def render_float(f):
    if math.isnan(f):
        return {"$float": "nan"}
    if math.isinf(f):
        return {"$float": "inf" if f > 0 else "-inf"}
    if f == int(f):
        return {"$float": repr(f)}
    return f


def render(v, mode):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else {"$int": str(v)}
    if isinstance(v, float):
        return render_float(v)
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": bytes(v).hex()}
    if isinstance(v, tuple):
        return {"$tuple": [render(x, mode) for x in v]}
    if isinstance(v, list):
        return [render(x, mode) for x in v]
    if isinstance(v, (set, frozenset)):
        return {"$set": [render(x, mode) for x in v]}
    if isinstance(v, complex):
        return {"$complex": [render_float(v.real), render_float(v.imag)]}
    if isinstance(v, dict):
        if mode.startswith("serpent") and v.get("__class__") == "float" and isinstance(v.get("value"), str):
            return render_float(float(v["value"]))  # what Pyro makes of serpent's NaN dict
        if all(isinstance(k, str) and not k.startswith("$") for k in v):
            return {k: render(x, mode) for k, x in v.items()}
        return {"$dict": [[render(k, mode), render(x, mode)] for k, x in v.items()]}
    raise TypeError("cannot render %r" % type(v))


def has_multi_set(v):
    if isinstance(v, (set, frozenset)):
        return len(v) > 1 or any(has_multi_set(x) for x in v)
    if isinstance(v, (list, tuple)):
        return any(has_multi_set(x) for x in v)
    if isinstance(v, dict):
        return any(has_multi_set(k) or has_multi_set(x) for k, x in v.items())
    return False


def dumps(v, fmt):
    if fmt == "json":
        return json.dumps(v, ensure_ascii=False).encode("utf-8")
    if fmt.startswith("serpent"):
        return serpent.dumps(v, module_in_classname=True, bytes_repr=(fmt == "serpent-bytesrepr"))
    return marshal.dumps(v)


def loads(b, fmt):
    if fmt == "json":
        return json.loads(b.decode("utf-8"))
    if fmt.startswith("serpent"):
        return serpent.loads(b)
    return marshal.loads(b)


def run_case(case):
    fmt = case["format"]
    out = {}
    value = build(case["value"], "json" if fmt == "json" else "python")
    out["ordered"] = not has_multi_set(value)
    try:
        out["python"] = dumps(value, fmt).hex()
    except Exception as e:  # noqa: BLE001 - reported back to the test
        out["pyerror"] = "%s: %s" % (type(e).__name__, e)
    try:
        out["decoded"] = render(loads(bytes.fromhex(case["ours"]), fmt), fmt)
    except Exception as e:  # noqa: BLE001
        out["decerror"] = "%s: %s" % (type(e).__name__, e)
    return out


def printable_toggles():
    out, prev, last = [], False, 0
    for cp in range(0x110000):
        p = chr(cp).isprintable()
        if p != prev:
            out.append(cp - last)
            last = cp
            prev = p
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"

    def b36(n):
        s = ""
        while True:
            s = digits[n % 36] + s
            n //= 36
            if n == 0:
                return s

    return ",".join(b36(d) for d in out)


def main():
    batch = json.load(sys.stdin)
    answer = {
        "cases": [run_case(c) for c in batch["cases"]],
        "floats": [repr(struct.unpack("<d", bytes.fromhex(h))[0]) for h in batch["floats"]],
        "strs": [repr(s) for s in batch["strs"]],
        "bytes": [repr(bytes.fromhex(h)) for h in batch["bytes"]],
        "unicode": unicodedata.unidata_version,
        "toggles": printable_toggles(),
    }
    json.dump(answer, sys.stdout)


main()
