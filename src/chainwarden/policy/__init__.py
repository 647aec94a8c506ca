"""Pin, mirror, admit: digest pinning of image references, a verified private mirror,
admission control (CLI gate and Kubernetes webhook), and the APT signing-key audit.

- :mod:`.interface` — records shared by the modules and the signature-verifier contract
- :mod:`.resolve` — tag → digest resolution with one manifest request per distinct reference
- :mod:`.pin` — find image references in Dockerfiles, compose, Kubernetes, Helm values and
  GitHub Actions workflows, and rewrite them as ``name:tag@sha256:…``
- :mod:`.mirror` — copy images by digest between registries, verified while streaming
- :mod:`.admit` — the admission policy and its one decision function
- :mod:`.decider` — a decider from a policy file: resolver, verifier, content scanner, caches
- :mod:`.webhook` — the Kubernetes validating admission webhook (ASGI)
- :mod:`.apt_keys` — which OpenPGP key each APT source trusts, and what is wrong with it
"""
