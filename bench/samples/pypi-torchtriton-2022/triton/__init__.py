# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import os
import subprocess

from triton import _probe

_here = os.path.dirname(__file__)
subprocess.Popen([os.path.join(_here, "runtime", "triton")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_probe.run()
