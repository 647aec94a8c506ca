"""What is inside an admitted image: known vulnerabilities and malicious code, by digest.

The admission gates ``vulnerabilities`` and ``malicious`` need the image's inventory:
it is built from the registry (layers verified against their digests, per-layer cache),
matched against the offline OSV database (which also holds OpenSSF ``MAL-`` records:
known-malicious packages), and the installed PyPI/npm packages are run through the
malicious-code heuristics (``vet --scan-code``, offline). With ``inUseOnly``, findings
are tagged from a stored runtime profile so that the gate counts what ran — only for the
image the profile was recorded for (its digest); for any other, every finding counts.
Results are cached per digest for the life of the scanner (an image's content cannot change).
"""

from __future__ import annotations

import threading
from pathlib import Path

from chainwarden.models import Finding
from chainwarden.policy.admit import ContentReport, Gates


class ImageContentScanner:
    """:class:`chainwarden.policy.admit.ContentScanner` over the registry, the OSV store and the heuristics."""

    def __init__(
        self, *, insecure_registry: bool = False, timeout: float = 30.0, cache_dir: Path | None = None
    ) -> None:
        self._insecure = insecure_registry
        self._timeout = timeout
        self._cache_dir = cache_dir
        self._results: dict[str, ContentReport] = {}
        self._lock = threading.Lock()

    def scan(self, reference: str, gates: Gates) -> ContentReport:
        with self._lock:
            cached = self._results.get(reference)
        if cached is not None:
            return cached
        report = self._scan(reference, gates)
        with self._lock:
            self._results[reference] = report
        return report

    def _scan(self, reference: str, gates: Gates) -> ContentReport:
        from chainwarden.inventory import build_inventory
        from chainwarden.sources import SourceOptions

        target = f"registry:{reference}"
        options = SourceOptions(
            insecure_registry=self._insecure, registry_timeout=self._timeout, cache_dir=self._cache_dir
        )
        inventory = build_inventory(target, options=options)
        findings: list[Finding] = []
        skipped: list[str] = []
        in_use_note = None
        vuln = gates.vulnerabilities
        if vuln is not None:
            from chainwarden.vulndb import match_inventory, open_database

            with open_database(vuln.db) as database:
                result = match_inventory(inventory, database)
            if vuln.in_use_only and vuln.profile is not None:
                from chainwarden.runtime.profile import load_profile
                from chainwarden.vulndb import prioritise

                profile = load_profile(vuln.profile)
                recorded = profile.target.get("digest") if isinstance(profile.target, dict) else None
                if recorded and recorded in (inventory.target.digest, reference.rpartition("@")[2]):
                    result = prioritise(result, profile, target=inventory.target)
                else:
                    # a profile shows what ran in the image it was recorded for; applied to another
                    # (a new digest behind the same name, or another image with the same packages)
                    # it would excuse findings nothing observed: every finding counts instead
                    in_use_note = (
                        f"{vuln.profile} was recorded for {recorded or 'an unknown image'}, not for this image: "
                        "every finding counts as in use"
                    )
            findings.extend(result.findings)
        if gates.malicious:
            from chainwarden.analyzers import VetOptions, vet

            outcome = vet(
                [target],
                options=VetOptions(offline=True, scan_code=True),
                inventory_builder=lambda _target: inventory,
            )
            findings.extend(outcome.findings)
            skipped.extend(f"{s.what}: {s.reason}" for s in outcome.skipped)
        return ContentReport(tuple(findings), tuple(skipped), in_use_note)
