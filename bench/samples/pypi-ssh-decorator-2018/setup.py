# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from setuptools import setup
setup(name='ssh-decorator', version='0.28', py_modules=['ssh_decorator'])
