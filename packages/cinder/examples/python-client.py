# A Python Pyro4 client calling the Cinder daemon of python-client.mjs, which runs it as
# python3 examples/python-client.py PYRO:example.shop@127.0.0.1:<port>
import sys

import Pyro4

with Pyro4.Proxy(sys.argv[1]) as shop:
    print(shop.price("tea"))  # → 2.5
    print(list(shop.items()))  # → ['tea', 'cake']
    try:
        shop.price("caviar")
    except ValueError as error:
        print("ValueError:", error)  # → ValueError: no caviar here
