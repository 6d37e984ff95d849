# A Python Pyro4 daemon for python-server.mjs: serves example.thermometer and prints its URI.
# By hand: python3 examples/python-server.py, then call the printed URI from a Cinder client.
import Pyro4


@Pyro4.expose
class Thermometer(object):
    def __init__(self):
        self.readings = [21.5, 22.0, 22.5]

    def current(self):
        return self.readings[-1]

    def average(self, last=3):
        return sum(self.readings[-last:]) / last

    def history(self):
        for reading in self.readings:
            yield reading

    def calibrate(self, offset):
        raise ValueError("calibration is locked")


daemon = Pyro4.Daemon(host="127.0.0.1", port=0)
print("URI =", daemon.register(Thermometer, "example.thermometer"), flush=True)
daemon.requestLoop()
