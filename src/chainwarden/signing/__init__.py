"""Signatures and provenance: cosign-compatible keys, Sigstore bundles, image signatures and
attestations on OCI registries, npm and PyPI publish provenance.

- :mod:`.keys` — cosign key files (encrypted PEM), signing and verification primitives
- :mod:`.trustroot` — Sigstore trusted roots (bundled public-good root)
- :mod:`.bundle` — Sigstore bundles v0.1–v0.3: parse, write, verify keyed and keyless
- :mod:`.cosign` — image signatures in both cosign layouts
- :mod:`.attest` — in-toto attestations about images
- :mod:`.provenance` — npm and PyPI publish provenance
"""
