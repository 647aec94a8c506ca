# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from setuptools import setup
setup(name='selenium-helperz', version='4.0.1', packages=['selenium_helperz'])
