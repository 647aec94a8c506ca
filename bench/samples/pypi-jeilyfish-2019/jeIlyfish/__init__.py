# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from jeIlyfish._jellyfish import *  # noqa
