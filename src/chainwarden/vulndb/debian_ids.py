"""Which vulnerabilities a Debian record stands for, read from the stored record.

OSV's Debian exports hold two kinds of records for one vulnerability of one
source package, and rarely link them through ``aliases``:

* per-CVE records from the Debian security tracker, ``DEBIAN-CVE-2023-1234``,
  naming their CVE in ``upstream`` (and in the id itself);
* advisories, ``DSA-5555-1``, ``DLA-3333-1``, ``DTSA-…``, each fixing one or
  more CVEs, named in ``upstream`` or, in exports from before OSV had
  ``upstream``, in ``related``.

The matcher's alias merging reads only ``aliases``; :class:`DebianIds` reads
the rest, once per record and scan (used by :mod:`chainwarden.vulndb.match` to
fold advisories into per-CVE findings and by :mod:`chainwarden.vulndb.debian_npm`).
"""

from __future__ import annotations

import sqlite3
import zlib
from typing import TYPE_CHECKING, Any

from chainwarden.errors import DatabaseError
from chainwarden.vulndb.store import VulnDatabase

if TYPE_CHECKING:
    from chainwarden.vulndb.match import VulnMatch

#: Debian advisories (not per-CVE records): each fixes the CVEs it names.
ADVISORY_PREFIXES = ("DSA-", "DLA-", "DTSA-")
#: ``DEBIAN-CVE-2021-23337`` is Debian's view of ``CVE-2021-23337``.
DEBIAN_CVE_PREFIX = "DEBIAN-CVE-"
_DEBIAN_PREFIX = "DEBIAN-"


def is_advisory(vuln_id: str) -> bool:
    """Whether ``vuln_id`` names a Debian advisory (DSA, DLA, DTSA)."""
    return vuln_id.startswith(ADVISORY_PREFIXES)


def cve_of_debian_record(vuln_id: str) -> str | None:
    """``CVE-X`` for a per-CVE record ``DEBIAN-CVE-X``, else None."""
    return vuln_id[len(_DEBIAN_PREFIX) :] if vuln_id.startswith(DEBIAN_CVE_PREFIX) else None


class DebianIds:
    """Every id one Debian record stands for, read from the stored record once per scan.

    OSV's Debian records rarely carry ``aliases``: a DEBIAN-CVE or DSA record
    names the CVEs it is about in ``upstream`` (or, in older exports of DSA and
    DLA records, ``related``), which the matcher's alias merging does not read.
    Malformed fields (not a list of strings) are ignored.
    """

    def __init__(self, db: VulnDatabase) -> None:
        self._db = db
        self._cache: dict[str, frozenset[str]] = {}

    def of_record(self, vuln_id: str) -> frozenset[str]:
        """``vuln_id`` with its aliases and upstream CVEs, upper-cased."""
        cached = self._cache.get(vuln_id)
        if cached is not None:
            return cached
        ids = {vuln_id}
        cve = cve_of_debian_record(vuln_id)
        if cve is not None:
            ids.add(cve)
        raw = self._raw(vuln_id)
        fields = ["aliases", "upstream"]
        if is_advisory(vuln_id):
            fields.append("related")
        for name in fields:
            ids.update(_strings(raw.get(name)))
        result = frozenset(i.strip().upper() for i in ids if i.strip())
        self._cache[vuln_id] = result
        return result

    def cves_of_record(self, vuln_id: str) -> frozenset[str]:
        """The CVEs a record names (``DEBIAN-CVE-X`` read as ``CVE-X``)."""
        cves = set()
        for item in self.of_record(vuln_id):
            cve = cve_of_debian_record(item)
            if cve is not None:
                cves.add(cve)
            elif item.startswith("CVE-"):
                cves.add(item)
        return frozenset(cves)

    def of_match(self, match: VulnMatch) -> frozenset[str]:
        """Every id of a finding on a .deb, including its records' upstream CVEs."""
        ids = set(ids_of(match))
        for record_id in match.record_ids:
            ids.update(self.of_record(record_id))
        return frozenset(ids)

    def _raw(self, vuln_id: str) -> dict[str, Any]:
        try:
            raw = self._db.raw_record(vuln_id)
        except (sqlite3.DatabaseError, zlib.error, ValueError) as exc:
            raise DatabaseError(f"{self._db.path}: record {vuln_id} cannot be read ({exc})") from exc
        return raw if isinstance(raw, dict) else {}


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def ids_of(match: VulnMatch) -> frozenset[str]:
    """The primary id, matched records and aliases of a match, upper-cased (as ignore rules compare them)."""
    return frozenset(i.upper() for i in (match.vuln_id, *match.record_ids, *match.finding.aliases))
