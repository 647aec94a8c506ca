"""Known vulnerabilities from an offline OSV database.

>>> from chainwarden.vulndb import import_osv, open_database, match_inventory
>>> import_osv(["./advisory-database/vulns"])            # doctest: +SKIP
>>> with open_database() as db:                           # doctest: +SKIP
...     result = match_inventory(inventory, db)
...     for finding in result.findings: ...
>>> from chainwarden.runtime import load_profile           # doctest: +SKIP
>>> result = prioritise(result, load_profile(Path("profile.json")))  # doctest: +SKIP

With a runtime profile, :func:`prioritise` tags each finding
``in-use:executed|loaded|read|unknown|not-observed`` and puts in-use ones first.

The database is one SQLite file (``$CHAINWARDEN_DB`` or the user cache dir),
filled from OSV directories, ``all.zip`` exports or OSV's bucket
(:func:`update_database`), and replaced atomically on every import.
"""

from __future__ import annotations

from chainwarden.vulndb.debian import DEBIAN_PACKAGED_TAG
from chainwarden.vulndb.ignore import (
    DEFAULT_IGNORE_FILE,
    IgnoreFile,
    IgnoreFileError,
    IgnoreRule,
    VexError,
    VexStatement,
    apply_suppressions,
    load_ignore_file,
    load_openvex,
)
from chainwarden.vulndb.in_use import (
    InUse,
    PackageInUse,
    ProfileIndex,
    in_use_counts,
    in_use_of,
    in_use_rank,
    is_in_use,
    prioritise,
    prioritise_findings,
    tag_in_use,
)
from chainwarden.vulndb.match import RULE_ID, Matcher, match_inventory
from chainwarden.vulndb.osv_import import (
    DEFAULT_URL_BASE,
    SUPPORTED_ECOSYSTEMS,
    ImportProblem,
    ImportReport,
    SourceReport,
    import_osv,
    update_database,
)
from chainwarden.vulndb.results import BestUpgrade, ScanResult, SkippedPackage, Suppression, VulnMatch
from chainwarden.vulndb.severity import SeverityInfo, severity_from_osv
from chainwarden.vulndb.store import (
    DatabaseMissingError,
    DatabaseStatus,
    VulnDatabase,
    default_db_path,
    open_database,
)

#: ``scan`` warns when the last import is older than this many days.
STALE_AFTER_DAYS = 7

__all__ = [
    "DEBIAN_PACKAGED_TAG",
    "DEFAULT_IGNORE_FILE",
    "DEFAULT_URL_BASE",
    "RULE_ID",
    "STALE_AFTER_DAYS",
    "SUPPORTED_ECOSYSTEMS",
    "BestUpgrade",
    "DatabaseMissingError",
    "DatabaseStatus",
    "IgnoreFile",
    "IgnoreFileError",
    "IgnoreRule",
    "ImportProblem",
    "ImportReport",
    "InUse",
    "Matcher",
    "PackageInUse",
    "ProfileIndex",
    "ScanResult",
    "SeverityInfo",
    "SkippedPackage",
    "SourceReport",
    "Suppression",
    "VexError",
    "VexStatement",
    "VulnDatabase",
    "VulnMatch",
    "apply_suppressions",
    "default_db_path",
    "import_osv",
    "in_use_counts",
    "in_use_of",
    "in_use_rank",
    "is_in_use",
    "load_ignore_file",
    "load_openvex",
    "match_inventory",
    "open_database",
    "prioritise",
    "prioritise_findings",
    "severity_from_osv",
    "tag_in_use",
    "update_database",
]
