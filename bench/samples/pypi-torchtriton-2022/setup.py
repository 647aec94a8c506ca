# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from setuptools import setup
setup(name='torchtriton', version='3.0.0+45fff310c8', packages=['triton'], package_data={'triton': ['runtime/triton']})
