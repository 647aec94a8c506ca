"""A :class:`~chainwarden.policy.admit.Decider` from a policy file: the policy and everything its
rules need (tag resolver, signature verifier, content scanner, decision cache).

Shared by ``chainwarden admit`` (CI) and ``admit serve`` (each webhook worker process builds its own).
"""

from __future__ import annotations

from pathlib import Path

from chainwarden._internal.http import RetryPolicy
from chainwarden.policy.admit import Decider, DecisionCache, Policy, load_policy
from chainwarden.policy.content import ImageContentScanner
from chainwarden.policy.resolve import Resolver
from chainwarden.policy.verifier import default_verifier


def build_decider(
    policy: Path | Policy, *, insecure_registry: bool = False, cache: bool = False, one_attempt: bool = False
) -> Decider:
    """The decider for ``policy`` (a file, or an already loaded policy).

    ``cache`` keeps decisions and tag resolutions for the policy's ``cacheTTL``; ``one_attempt``
    makes one registry attempt per call, for a webhook that must answer within the API
    server's timeout (retries would outlast it).
    """
    if isinstance(policy, Path):
        policy = load_policy(policy)
    verifier = (
        default_verifier(insecure_registry=insecure_registry, timeout=policy.registry_timeout)
        if policy.needs_verifier()
        else None
    )
    scanner = None
    if policy.gates.vulnerabilities is not None or policy.gates.malicious:
        scanner = ImageContentScanner(insecure_registry=insecure_registry, timeout=max(policy.registry_timeout, 30))
    resolver = Resolver(
        timeout=policy.registry_timeout,
        insecure=insecure_registry,
        ttl=policy.cache_ttl if cache else None,
        retry=RetryPolicy(attempts=1, base_delay=0.0, max_delay=0.0) if one_attempt else None,
    )
    return Decider(policy, resolver, verifier, scanner, DecisionCache(policy.cache_ttl) if cache else None)
