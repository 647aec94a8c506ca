"""Images and advisories for the fleet tests: shared bases, small app layers, real OSV records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chainwarden.vulndb import import_osv
from support.images import Content, dist_info, dpkg_status_entry, make_oci, npm_package

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def base_layer(openssl: str = "3.0.11-1~deb12u1") -> dict[str, Content]:
    return {
        "/etc/os-release": OS_RELEASE,
        "/var/lib/dpkg/status": dpkg_status_entry("libssl3", openssl, source="openssl")
        + "\n"
        + dpkg_status_entry("bash", "5.2.15-2+b2"),
    }


def app_layer(requests: str = "2.31.0", extra: dict[str, Content] | None = None) -> dict[str, Content]:
    layer: dict[str, Content] = {**dist_info("requests", requests, ["requests/__init__.py"])}
    layer.update(npm_package("/srv/web", "left-pad", "1.3.0"))
    layer.update(extra or {})
    return layer


def make_image(
    dest: Path,
    *,
    openssl: str = "3.0.11-1~deb12u1",
    requests: str = "2.31.0",
    extra: dict[str, Content] | None = None,
    labels: dict[str, str] | None = None,
    created: str = "2024-05-01T00:00:00Z",
) -> Path:
    config: dict[str, object] = {"Labels": labels} if labels else {}
    return make_oci(dest, [base_layer(openssl), app_layer(requests, extra)], config=config, created=created)


def osv(vuln_id: str, ecosystem: str, name: str, fixed: str | None, **extra: Any) -> dict[str, Any]:
    range_type = "SEMVER" if ecosystem == "npm" else "ECOSYSTEM"
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "id": vuln_id,
        "modified": extra.pop("modified", "2024-06-01T00:00:00Z"),
        "summary": f"{name}: test advisory {vuln_id}",
        "affected": [
            {"package": {"ecosystem": ecosystem, "name": name}, "ranges": [{"type": range_type, "events": events}]}
        ],
        **extra,
    }


ADVISORIES = [
    osv("GHSA-9wx4-h78v-vm56", "PyPI", "requests", "2.32.0", aliases=["CVE-2024-35195"],
        database_specific={"severity": "MEDIUM"}),
    osv("DEBIAN-CVE-2024-1001", "Debian:12", "openssl", "3.0.11-1~deb12u2", aliases=["CVE-2024-1001"],
        database_specific={"severity": "HIGH"}),
    osv("MAL-2024-7000", "npm", "left-pad", None),
]  # fmt: skip


def write_advisories(directory: Path, records: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for record in records:
        (directory / f"{record['id']}.json").write_text(json.dumps(record))
    return directory


def make_db(tmp: Path, records: list[dict[str, Any]] | None = None) -> Path:
    db = tmp / "osv.sqlite3"
    import_osv([write_advisories(tmp / "advisories", ADVISORIES if records is None else records)], db, replace=True)
    return db
