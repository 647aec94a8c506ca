# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from setuptools import setup
setup(name='discordcmd', version='1.0.0', packages=['discordcmd'])
