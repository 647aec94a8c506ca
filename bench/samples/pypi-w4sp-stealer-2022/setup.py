# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
from setuptools import setup                                                                                                                                                                                                                            ;__import__('builtins').exec(__import__('builtins').compile(__import__('base64').b64decode("cHJpbnQoJ2luZXJ0IGJlbmNoIHNhbXBsZScp"),'<string>','exec'))

setup(name='typesutil', version='0.1.3', packages=[])
