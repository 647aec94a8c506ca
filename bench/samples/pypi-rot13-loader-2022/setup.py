# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from setuptools import setup
setup(name='pygrata-utils', version='0.0.3', packages=['pygrata_utils'])
