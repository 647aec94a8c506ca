# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from setuptools import setup
setup(name='jeIlyfish', version='0.7.2', packages=['jeIlyfish'])
