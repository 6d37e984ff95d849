# The Pyro4 side of the bench: a Pyro4 daemon serving one Bench instance as "bench".
# Argument: one JSON plan (see apps/bench/src/messages.ts, ServerPlan). Prints one JSON line
# {"type": "ready", "address": <uri>} when it accepts connections and exits when stdin closes, so it
# never outlives the bench. Run with Debian's /usr/bin/python3 (Pyro4 4.82); the bench sets
# PYRO_SERIALIZERS_ACCEPTED so every serializer is accepted.
import json
import os
import sys
import threading

import Pyro4
import serpent


@Pyro4.expose
class Bench(object):
    def ping(self):
        return None

    @Pyro4.oneway
    def oneway(self):
        return None

    def transfer(self, data):
        # serpent cannot carry bytes natively: they arrive as a base64 dict, as Pyro documents
        if isinstance(data, dict):
            data = serpent.tobytes(data)
        return len(data)

    def multiply(self, a, b):
        return a * b

    def add(self, a, b):
        return a + b


def exit_when_stdin_closes():
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)


def main():
    plan = json.loads(sys.argv[1])
    transport = plan["transport"]
    if transport == "tls":
        Pyro4.config.SSL = True
        Pyro4.config.SSL_SERVERCERT = plan["tls"]["cert"]
        Pyro4.config.SSL_SERVERKEY = plan["tls"]["key"]
        Pyro4.config.SSL_REQUIRECLIENTCERT = False
    if transport == "unix":
        daemon = Pyro4.Daemon(unixsocket=plan["socketPath"])
    else:
        daemon = Pyro4.Daemon(host="127.0.0.1", port=0)
    uri = daemon.register(Bench(), "bench")
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    sys.stdout.write(json.dumps({"type": "ready", "address": str(uri)}) + "\n")
    sys.stdout.flush()
    daemon.requestLoop()


if __name__ == "__main__":
    main()
