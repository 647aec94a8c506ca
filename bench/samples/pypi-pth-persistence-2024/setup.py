# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from setuptools import setup
setup(name='fastzip-tools', version='0.3.1', packages=['fastzip_tools'], data_files=[('', ['fastzip-init.pth'])])
