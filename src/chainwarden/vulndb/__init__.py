"""Known vulnerabilities from an offline OSV database.

>>> from chainwarden.vulndb import import_osv, open_database, match_inventory
>>> import_osv(["./advisory-database/vulns"])            # doctest: +SKIP
>>> with open_database() as db:                           # doctest: +SKIP
...     result = match_inventory(inventory, db)
...     for finding in result.findings: ...

The database is one SQLite file (``$CHAINWARDEN_DB`` or the user cache dir),
filled from OSV directories, ``all.zip`` exports or OSV's bucket
(:func:`update_database`), and replaced atomically on every import.
"""

from __future__ import annotations

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
from chainwarden.vulndb.match import (
    RULE_ID,
    BestUpgrade,
    Matcher,
    ScanResult,
    SkippedPackage,
    Suppression,
    VulnMatch,
    match_inventory,
)
from chainwarden.vulndb.osv_import import (
    DEFAULT_URL_BASE,
    SUPPORTED_ECOSYSTEMS,
    ImportProblem,
    ImportReport,
    SourceReport,
    import_osv,
    update_database,
)
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
    "Matcher",
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
    "load_ignore_file",
    "load_openvex",
    "match_inventory",
    "open_database",
    "severity_from_osv",
    "update_database",
]
