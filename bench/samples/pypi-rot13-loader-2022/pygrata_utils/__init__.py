# ruff: noqa
# fmt: off
# Inert benchmark sample (see bench/samples/INCIDENTS.md); every host is under example.invalid.
import codecs
exec(codecs.decode("cevag('vareg orapu fnzcyr')", 'rot13'))
