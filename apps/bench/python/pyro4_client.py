# The Pyro4 client of the bench: runs the planned scenarios against pyro4_server.py with one
# serializer and prints JSON lines (see apps/bench/src/messages.ts): "start", one "run" per timed
# run, "skip" when Pyro4 cannot do a scenario, then "done"; it exits when stdin closes. The loops
# mirror apps/bench/src/harness.ts (same counts, same warm-up, same timing points) and Pyro4's 2011
# benchmark scripts (pyro-reference.md section 3), with two deliberate differences: transfer
# payloads are built before timing, and the batch has no printmessage() calls around it.
import json
import math
import os
import resource
import sys
import threading
import time

import Pyro4
import Pyro4.util

now = time.perf_counter
SERVER_PID = None


def server_cpu_seconds():
    # utime + stime of the whole server process, in clock ticks (fields 14 and 15 of /proc/PID/stat)
    if SERVER_PID is None:
        return None
    try:
        with open("/proc/%d/stat" % SERVER_PID) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def server_minor_faults():
    # minor page faults of the whole server process so far (field 10 of /proc/PID/stat)
    if SERVER_PID is None:
        return None
    try:
        with open("/proc/%d/stat" % SERVER_PID) as f:
            return int(f.read().rsplit(")", 1)[1].split()[7])
    except (OSError, ValueError, IndexError):
        return None


def faults_since(mark):
    # [client, server] minor page faults since mark, as harness.ts reports them
    client0, server0 = mark
    server1 = server_minor_faults()
    server = None if server0 is None or server1 is None else server1 - server0
    return [resource.getrusage(resource.RUSAGE_SELF).ru_minflt - client0, server]


def cpu_mark():
    return (time.process_time(), server_cpu_seconds())


def cpu_us(mark):
    # [client, server] CPU microseconds since mark, as harness.ts reports them
    client0, server0 = mark
    server1 = server_cpu_seconds()
    server = None if server0 is None or server1 is None else (server1 - server0) * 1e6
    return [(time.process_time() - client0) * 1e6, server]


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def nearest_rank(sorted_values, p):
    rank = min(len(sorted_values), max(1, int(math.ceil(p * len(sorted_values)))))
    return sorted_values[rank - 1]


def warm_up(step, s):
    # the scenario's warm-up count, repeated until warmupMs have passed (as harness.ts does)
    t0 = now()
    step()
    while (now() - t0) * 1000 < s["warmupMs"]:
        step()


def run_connections(uri, s, runs):
    p = Pyro4.Proxy(uri)
    p._pyroBind()

    def step():
        for _ in range(s["warmup"]):
            p._pyroRelease()
            p._pyroBind()

    warm_up(step, s)
    for run in range(runs):
        t0 = now()
        c0 = cpu_mark()
        for _ in range(s["count"]):
            p._pyroRelease()
            p._pyroBind()
        emit({"cpuUs": cpu_us(c0), "type": "run", "scenario": s["id"], "run": run, "count": s["count"], "seconds": now() - t0})
    p._pyroRelease()


def run_new_proxy_calls(uri, s, runs):
    def one():
        with Pyro4.Proxy(uri) as p:
            p.ping()

    def step():
        for _ in range(s["warmup"]):
            one()

    warm_up(step, s)
    for run in range(runs):
        t0 = now()
        c0 = cpu_mark()
        for _ in range(s["count"]):
            one()
        emit({"cpuUs": cpu_us(c0), "type": "run", "scenario": s["id"], "run": run, "count": s["count"], "seconds": now() - t0})


def run_calls(uri, s, runs):
    with Pyro4.Proxy(uri) as p:
        p._pyroBind()
        def step():
            for _ in range(s["warmup"]):
                p.ping()

        warm_up(step, s)
        count = s["count"]
        for run in range(runs):
            lat = [0.0] * count
            t0 = now()
            mark = cpu_mark()
            for i in range(count):
                c0 = now()
                p.ping()
                lat[i] = now() - c0
            seconds = now() - t0
            cpu = cpu_us(mark)
            lat.sort()
            latency_us = [nearest_rank(lat, q) * 1e6 for q in (0.5, 0.99, 0.999)]
            emit({"type": "run", "scenario": s["id"], "run": run, "count": count, "seconds": seconds,
                  "latencyUs": latency_us, "cpuUs": cpu})


def run_oneway(uri, s, runs):
    with Pyro4.Proxy(uri) as p:
        p._pyroBind()
        if "oneway" not in p._pyroOneway:
            raise RuntimeError("the server did not mark oneway() as oneway")

        def burst(n):
            for _ in range(n):
                p.oneway()
            # the barrier: the server has read (and dispatched) every oneway call before it answers
            p.ping()

        warm_up(lambda: burst(s["warmup"]), s)
        for run in range(runs):
            t0 = now()
            c0 = cpu_mark()
            burst(s["count"])
            emit({"cpuUs": cpu_us(c0), "type": "run", "scenario": s["id"], "run": run, "count": s["count"], "seconds": now() - t0})


def run_transfer(uri, s, runs):
    if Pyro4.config.SERIALIZER == "json":
        emit({"type": "skip", "scenario": s["id"], "reason": "Pyro4's json serializer cannot send bytes"})
        return
    sizes = s["sizes"]
    payloads = [b"x" * n for n in sizes]
    with Pyro4.Proxy(uri) as p:
        p._pyroBind()

        def send(data):
            got = p.transfer(data)
            if got != len(data):
                raise RuntimeError("server received %d bytes, %d were sent" % (got, len(data)))

        def step():
            # the largest sizes, so the allocators have seen the biggest buffer (see harness.ts)
            for data in payloads[-s["warmup"]:]:
                send(data)

        warm_up(step, s)
        # transfer: "count" passes over the sizes (a curve point's sizes already hold its count), as harness.ts
        passes = s["count"] if s["id"] == "transfer" else 1
        for run in range(runs):
            t0 = now()
            c0 = cpu_mark()
            f0 = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt, server_minor_faults())
            for _ in range(passes):
                for data in payloads:
                    send(data)
            emit({"cpuUs": cpu_us(c0), "type": "run", "scenario": s["id"], "run": run, "count": passes * len(payloads),
                  "seconds": now() - t0, "bytes": passes * sum(sizes), "faults": faults_since(f0)})


def batch_unsupported():
    """Why Pyro4 cannot send a batch with the configured serializer, or None if it can."""
    serializer = Pyro4.util.get_serializer(Pyro4.config.SERIALIZER)
    try:
        # what Proxy._pyroInvokeBatch sends: no keyword arguments at all (None)
        serializer.dumpsCall("bench", "<batch>", ([("add", (1, 2), {})],), None)
    except (AttributeError, TypeError) as e:
        return "Pyro4 %s cannot send a batch with %s (%s: %s)" % (
            Pyro4.__version__, Pyro4.config.SERIALIZER, type(e).__name__, e)
    return None


def run_batched(uri, s, runs):
    why = batch_unsupported()
    if why:
        emit({"type": "skip", "scenario": s["id"], "reason": why})
        return
    with Pyro4.Proxy(uri) as p:
        p._pyroBind()

        def sequential(pairs):
            total = 0
            for _ in range(pairs):
                total += p.multiply(7, 6)
                total += p.add(10, 20)
            return total

        def batched(pairs):
            batch = Pyro4.batch(p)
            for _ in range(pairs):
                batch.multiply(7, 6)
                batch.add(10, 20)
            return sum(batch())

        def check(total, pairs):
            if total != pairs * (7 * 6 + 10 + 20):
                raise RuntimeError("batch results sum to %d for %d pairs" % (total, pairs))

        def step():
            check(sequential(s["warmup"]), s["warmup"])
            check(batched(s["warmup"]), s["warmup"])

        warm_up(step, s)
        check(batched(s["count"]), s["count"])  # one untimed batch of the measured size, as harness.ts
        for run in range(runs):
            t0 = now()
            check(sequential(s["count"]), s["count"])
            seq_seconds = now() - t0
            t0 = now()
            c0 = cpu_mark()
            check(batched(s["count"]), s["count"])
            emit({"cpuUs": cpu_us(c0), "type": "run", "scenario": s["id"], "run": run, "count": 2 * s["count"],
                  "seconds": now() - t0, "seqSeconds": seq_seconds})


def run_clients(uri, s, runs):
    # n proxies, one thread each (a Pyro4 proxy is synchronous), calling ping() in a loop until the
    # scenario's count of calls over all of them is reached; mirrors manyClients in harness.ts
    n = s["clients"]
    lock = threading.Lock()
    state = {"left": 0, "error": None}
    start = [threading.Barrier(n + 1) for _ in range(2)]

    def loop(p):
        while True:
            with lock:
                if state["left"] <= 0:
                    return
                state["left"] -= 1
            p.ping()

    def client(index):
        try:
            with Pyro4.Proxy(uri) as p:
                p._pyroBind()
                while True:
                    start[0].wait()
                    if state["left"] < 0:
                        return
                    loop(p)
                    start[1].wait()
        except Exception as e:  # reported by the main thread
            state["error"] = e
            for b in start:
                b.abort()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()

    def burst(count):
        state["left"] = count
        start[0].wait()
        start[1].wait()

    try:
        warm_up(lambda: burst(max(s["warmup"], n)), s)
        for run in range(runs):
            t0 = now()
            c0 = cpu_mark()
            burst(s["count"])
            emit({"cpuUs": cpu_us(c0), "type": "run", "scenario": s["id"], "run": run, "count": s["count"],
                  "seconds": now() - t0})
        state["left"] = -1
        start[0].wait()
    except threading.BrokenBarrierError:
        raise RuntimeError("a client thread failed: %r" % (state["error"],))
    for t in threads:
        t.join()


SCENARIOS = {
    "connections": run_connections,
    "new_proxy_calls": run_new_proxy_calls,
    "calls": run_calls,
    "oneway": run_oneway,
    "transfer": run_transfer,
    "batched": run_batched,
    "clients1": run_clients,
    "clients8": run_clients,
    "clients64": run_clients,
}


def main():
    global SERVER_PID
    plan = json.loads(sys.argv[1])
    SERVER_PID = plan.get("serverPid")
    Pyro4.config.SERIALIZER = plan["serializer"]
    if plan["transport"] == "tls":
        Pyro4.config.SSL = True
        Pyro4.config.SSL_CACERTS = plan["tls"]["ca"]
    for s in plan["scenarios"]:
        fn = SCENARIOS.get(s["id"])
        if fn is None and s["id"].startswith("curve_"):
            fn = run_transfer  # a point of the transfer curve: the plan gives each call's size
        if fn is None:
            emit({"type": "skip", "scenario": s["id"], "reason": "not supported by Pyro4"})
            continue
        emit({"type": "start", "scenario": s["id"]})
        fn(plan["address"], s, plan["runs"])
    emit({"type": "done"})
    # stay alive until the bench has read our peak RSS
    sys.stdin.buffer.read()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        emit({"type": "error", "message": "%s: %s" % (type(e).__name__, e)})
        sys.stdout.flush()
        os._exit(1)
