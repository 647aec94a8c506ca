# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from setuptools import setup
setup(name='aiohttp-helpers', version='0.1.0', packages=['aiohttp_helpers'])
