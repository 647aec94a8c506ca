"""The fleet store on SQLite and on a real PostgreSQL (throwaway cluster on 127.0.0.1)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from chainwarden.api import build_inventory
from chainwarden.errors import UsageError
from chainwarden.fleet import FleetError, FleetStore, StoreMissingError, open_store
from chainwarden.fleet.migrate import current_revision, head_revision
from chainwarden.fleet.queries import affected, image_detail, list_images, package_usage, parse_purl_range
from chainwarden.fleet.rematch import rematch
from chainwarden.fleet.store import image_packages, layers, packages, tag_events
from chainwarden.fleet.sync import add_targets, match_pending
from chainwarden.sources import SourceOptions
from chainwarden.vulndb import match_inventory, open_database
from support.fleet import OS_RELEASE, make_db, make_image, osv
from support.images import dpkg_status_entry, make_oci, npm_package
from support.postgres import PostgresCluster


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FleetStore]:
    if request.param == "sqlite":
        url = str(tmp_path / "fleet.sqlite3")
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        url = cluster.create_database(f"fleet_{uuid.uuid4().hex[:12]}")
    with open_store(url) as opened:
        yield opened


def options(tmp_path: Path) -> SourceOptions:
    return SourceOptions(cache_dir=tmp_path / "cache")


def test_migrations_bring_an_empty_store_to_head(store: FleetStore) -> None:
    assert current_revision(store.engine) == head_revision()
    with store.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    assert {"images", "layers", "packages", "image_packages", "tags", "tag_events", "findings"} <= names


def test_a_store_from_before_match_keys_is_upgraded(tmp_path: Path) -> None:
    """Revision 0003 gives existing .deb placements their release as match key: their findings still show."""
    from alembic import command

    from chainwarden.fleet.migrate import alembic_config

    url = "sqlite:///" + str(tmp_path / "old.sqlite3")
    engine = sa.create_engine(url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(
            sa.text(
                "INSERT INTO images (id, digest, reference, scanned_at, profiled, distro) "
                "VALUES (1, 'sha256:1', 'r', 'now', 0, 'debian:12')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO packages (id, ecosystem, name, version, purl) VALUES "
                "(1, 'deb', 'libssl3', '3.0.11-1', 'pkg:deb/debian/libssl3@3.0.11-1'), "
                "(2, 'npm', 'left-pad', '1.3.0', 'pkg:npm/left-pad@1.3.0')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO image_packages (image_id, package_id, path) VALUES "
                "(1, 1, '/var/lib/dpkg/status'), (1, 2, '/srv/node_modules/left-pad/package.json')"
            )
        )
    engine.dispose()
    with open_store(url) as store:
        assert current_revision(store.engine) == head_revision()
        with store.connect() as conn:
            keys: dict[int, str] = dict(
                conn.execute(sa.select(image_packages.c.package_id, image_packages.c.match_key)).all()
            )
    assert keys == {1: "debian:12", 2: ""}


def test_shared_layers_and_package_versions_are_stored_once(store: FleetStore, tmp_path: Path) -> None:
    one = make_image(tmp_path / "one", requests="2.31.0")
    two = make_image(tmp_path / "two", requests="2.32.3")
    summary = add_targets(store, [f"oci:{one}", f"oci:{two}", f"oci:{one}"], options(tmp_path), db=None)
    assert len(summary.new) == 2 and len(summary.unchanged) == 1 and not summary.failed
    with store.connect() as conn:
        # one base layer shared by both images, two app layers
        assert conn.scalar(sa.select(sa.func.count()).select_from(layers)) == 3
        # libssl3 and bash once each, left-pad once, requests twice (two versions)
        rows = conn.execute(sa.select(packages.c.name, packages.c.version)).all()
        assert sorted(rows) == sorted(
            [
                ("bash", "5.2.15-2+b2"),
                ("libssl3", "3.0.11-1~deb12u1"),
                ("left-pad", "1.3.0"),
                ("requests", "2.31.0"),
                ("requests", "2.32.3"),
            ]
        )
        assert conn.scalar(sa.select(sa.func.count()).select_from(image_packages)) == 8
    listed = list_images(store)
    assert len(listed) == 2 and {r.distro for r in listed} == {"debian:12"}
    assert all(r.layers == 2 and r.packages == 4 for r in listed)


def test_findings_per_package_version_and_affected_queries(store: FleetStore, tmp_path: Path) -> None:
    db_path = make_db(tmp_path)
    old = make_image(tmp_path / "old", requests="2.31.0")
    new = make_image(tmp_path / "new", requests="2.32.3", openssl="3.0.11-1~deb12u2")
    with open_database(db_path) as db:
        summary = add_targets(store, [f"oci:{old}", f"oci:{new}"], options(tmp_path), db=db)
        assert summary.findings_new == 3  # requests 2.31.0, libssl3 (openssl) deb12u1, left-pad (one package)
        assert match_pending(store, db) == 0  # everything matched against this database version
    by_cve = affected(store, "CVE-2024-35195")
    assert [(r.name, r.version) for r in by_cve] == [("requests", "2.31.0")]
    row = by_cve[0]
    assert row.vuln_id == "CVE-2024-35195"  # shown under its CVE, like every format does
    assert row.fixed == ("2.32.0",)
    assert row.path == "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA"
    assert row.layer is not None and row.layer.startswith("sha256:")
    assert affected(store, "ghsa-9wx4-h78v-vm56") == by_cve  # any alias, any case
    # the Debian record names the source package; the binary libssl3 is what is installed
    deb = affected(store, "CVE-2024-1001")
    assert [(r.name, r.version, r.severity) for r in deb] == [("libssl3", "3.0.11-1~deb12u1", "high")]
    # the malicious package is in both images, critical, and sorts first among all findings
    mal = affected(store, "MAL-2024-7000")
    assert len(mal) == 2 and {r.rule_id for r in mal} == {"known-malicious-package"}
    assert {r.severity for r in mal} == {"critical"}
    listed = list_images(store)
    assert [r.worst for r in listed] == ["critical", "critical"]
    assert listed[0].findings == 3  # the old image: malicious + requests + openssl
    # a package range, without any advisory
    in_range = affected(store, "pkg:pypi/Requests@<2.32")
    assert [(r.version, r.rule_id) for r in in_range] == [("2.31.0", "package-range")]
    assert len(affected(store, "pkg:pypi/requests@>=2.0,<3")) == 2
    assert affected(store, "CVE-1999-0001") == []
    usage = package_usage(store, "requests")
    assert [(u.version, u.images) for u in usage] == [("2.31.0", 1), ("2.32.3", 1)]


def test_tag_moves_are_events(store: FleetStore) -> None:
    first = "sha256:" + "1" * 64
    second = "sha256:" + "2" * 64
    changes = store.record_tags("127.0.0.1:5000", {("app", "latest"): first, ("app", "v1"): first})
    assert len(changes) == 2 and all(c.old_digest is None for c in changes)
    assert store.record_tags("127.0.0.1:5000", {("app", "latest"): first}) == []
    moved = store.record_tags("127.0.0.1:5000", {("app", "latest"): second})
    assert [(c.tag, c.old_digest, c.new_digest) for c in moved] == [("latest", first, second)]
    with store.connect() as conn:
        events = conn.execute(sa.select(tag_events.c.tag, tag_events.c.old_digest).order_by(tag_events.c.id)).all()
    assert events == [("latest", None), ("v1", None), ("latest", first)]


def test_concurrent_writers_store_a_digest_once(store: FleetStore, tmp_path: Path) -> None:
    image = make_image(tmp_path / "img")
    results: list[object] = []

    def worker() -> None:
        try:
            results.append(add_targets(store, [f"oci:{image}"], options(tmp_path), db=None))
        except Exception as exc:  # surfaced below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert store.stats().images == 1
    with store.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(image_packages)) == 4


def test_queries_never_create_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreMissingError):
        open_store(str(tmp_path / "nothing.sqlite3"), create=False)
    assert not (tmp_path / "nothing.sqlite3").exists()


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(FleetError, match=r"not a fleet store|cannot open"):
        open_store(str(junk))


def test_unknown_url_schemes_are_refused() -> None:
    with pytest.raises(FleetError, match="unsupported store"):
        open_store("mysql://x@y/z")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pkg:pypi/Requests@<2.32", ("pypi", "requests", [("<", "2.32")])),
        ("pkg:npm/%40scope/pkg@>=1.0.0,<2", ("npm", "@scope/pkg", [(">=", "1.0.0"), ("<", "2")])),
        ("pkg:deb/debian/openssl@3.0.11-1", ("deb", "openssl", [("==", "3.0.11-1")])),
        ("pkg:pypi/requests", ("pypi", "requests", [])),
    ],
)
def test_purl_ranges(text: str, expected: tuple[str, str, list[tuple[str, str]]]) -> None:
    assert parse_purl_range(text) == expected


@pytest.mark.parametrize("text", ["pkg:gem/rails@<7", "pkg:", "requests<2", "pkg:pypi/requests@<2,"])
def test_bad_queries_are_usage_errors(text: str, tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.sqlite3")) as opened, pytest.raises(UsageError):
        affected(opened, text)


def _profile_package(
    purl: str, name: str, version: str, ecosystem: str, status: str, files: dict[str, list[str]]
) -> dict[str, object]:
    return {"purl": purl, "name": name, "version": version, "ecosystem": ecosystem, "status": status, "files": files}


def test_a_stored_profile_gives_in_use_levels(store: FleetStore, tmp_path: Path) -> None:
    import json

    from chainwarden.fleet.queries import in_use_share

    image = make_image(tmp_path / "img")
    site = "/usr/lib/python3/dist-packages"
    profile = {
        "format": "chainwarden-profile/1",
        "target": {"reference": f"oci:{image}", "kind": "oci", "digest": None, "config_digest": None},
        "net": "none",
        "probes": [],
        "programs": [],
        "files": [],
        "network": [],
        "processes": [],
        "packages": [
            _profile_package("pkg:pypi/requests@2.31.0", "requests", "2.31.0", "pypi", "loaded",
                             {"loaded": [f"{site}/requests/__init__.py"]}),
            _profile_package("pkg:npm/left-pad@1.3.0", "left-pad", "1.3.0", "npm", "unused", {}),
        ],
        "summary": {},
        "image_files": {},
        "notes": [],
    }  # fmt: skip
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    with open_database(make_db(tmp_path)) as db:
        summary = add_targets(store, [f"oci:{image}"], options(tmp_path), db=db, profile=path)
    assert not summary.failed, summary.failed
    levels = {(r.name, r.in_use) for r in affected(store, "MAL-2024-7000") + affected(store, "CVE-2024-35195")}
    assert levels == {("left-pad", "not-observed"), ("requests", "loaded")}
    share = in_use_share(store)
    assert share["loaded"] == 1 and share["not-observed"] == 1 and share["unknown"] == 2  # bash, libssl3


# -- node modules that Debian ships: the fleet reports what scan reports -------------------------

LODASH_DEB = "4.17.21+dfsg+~cs8.31.198.20210220-9"
MINIMIST_DEB = "1.2.5+~cs5.3.2-1+deb12u1"


def _debian_node_image(dest: Path, lodash_deb: str = LODASH_DEB) -> Path:
    status = "\n".join(
        [
            dpkg_status_entry("node-lodash", lodash_deb, arch="all"),
            dpkg_status_entry("node-minimist", MINIMIST_DEB, arch="all"),
        ]
    )
    base = {
        "/etc/os-release": OS_RELEASE,
        "/var/lib/dpkg/status": status,
        "/var/lib/dpkg/info/node-lodash.list": "/usr/share/nodejs/lodash\n/usr/share/nodejs/lodash/package.json\n",
        "/var/lib/dpkg/info/node-minimist.list": (
            "/usr/share/nodejs/minimist\n/usr/share/nodejs/minimist/package.json\n"
        ),
        "/usr/share/nodejs/lodash/package.json": '{"name": "lodash", "version": "4.17.20"}',
        "/usr/share/nodejs/minimist/package.json": '{"name": "minimist", "version": "1.2.5"}',
    }
    app = npm_package("/srv/web", "lodash", "4.17.20")  # the same npm version, installed by npm
    return make_oci(dest, [base, app])


def _debian_node_db(tmp_path: Path) -> Path:
    return make_db(
        tmp_path,
        [
            # npm lodash: the same CVE as Debian's record for node-lodash, which the installed .deb lacks
            osv("GHSA-35jh-r3h4-6jhm", "npm", "lodash", "4.17.21", aliases=["CVE-2021-23337"]),
            osv("DEBIAN-CVE-2021-23337", "Debian:12", "node-lodash", LODASH_DEB + "+deb12u1",
                upstream=["CVE-2021-23337"]),
            # npm minimist: Debian backported the fix into the installed .deb
            osv("GHSA-xvch-5gv4-984h", "npm", "minimist", "1.2.6", aliases=["CVE-2021-44906"]),
            osv("DEBIAN-CVE-2021-44906", "Debian:12", "node-minimist", MINIMIST_DEB, upstream=["CVE-2021-44906"]),
        ],
    )  # fmt: skip


def _scan_ids(target: str, db_path: Path) -> set[tuple[str, str, str, str]]:
    with open_database(db_path) as db:
        result = match_inventory(build_inventory(target), db)
    assert any(s.by == "debian-backport" for s in result.suppressed)  # the case is exercised
    return {(m.vuln_id, m.package.ecosystem.value, m.package.name, m.package.version) for m in result.matches}


def _fleet_ids(store: FleetStore, digest: str) -> set[tuple[str, str, str, str]]:
    detail = image_detail(store, digest)
    assert detail is not None
    return {(r.vuln_id, r.ecosystem, r.name, r.version) for r in detail.findings}


def test_fleet_and_scan_agree_on_debian_node_modules(store: FleetStore, tmp_path: Path) -> None:
    db_path = _debian_node_db(tmp_path)
    old = _debian_node_image(tmp_path / "old")
    fixed = _debian_node_image(tmp_path / "fixed", lodash_deb=LODASH_DEB + "+deb12u1")
    with open_database(db_path) as db:
        summary = add_targets(store, [f"oci:{old}", f"oci:{fixed}"], options(tmp_path), db=db)
    assert not summary.failed and len(summary.new) == 2
    for layout in (old, fixed):
        expected = _scan_ids(f"oci:{layout}", db_path)
        assert _fleet_ids(store, summary.new[[old, fixed].index(layout)]) == expected
    # the old .deb: one finding for lodash's CVE, on the .deb; npm lodash from node_modules keeps its own;
    # minimist's npm finding is suppressed (Debian backported the fix)
    assert _scan_ids(f"oci:{old}", db_path) == {
        ("CVE-2021-23337", "deb", "node-lodash", LODASH_DEB),
        ("CVE-2021-23337", "npm", "lodash", "4.17.20"),
    }
    # the fixed .deb: the Debian-shipped module's npm finding is suppressed too
    assert _scan_ids(f"oci:{fixed}", db_path) == {("CVE-2021-23337", "npm", "lodash", "4.17.20")}
    # asked by the npm advisory's id: the .deb that absorbed it and the npm-installed copy, as scan lists them
    with open_database(db_path) as db:
        result = match_inventory(build_inventory(f"oci:{old}"), db)
    by_scan = {
        (m.package.name, m.package.locations[0].path)
        for m in result.matches
        if "GHSA-35jh-r3h4-6jhm" in m.finding.aliases or m.vuln_id == "GHSA-35jh-r3h4-6jhm"
    }
    by_fleet = {(r.name, r.path) for r in affected(store, "GHSA-35jh-r3h4-6jhm") if r.image_digest == summary.new[0]}
    assert (
        by_fleet
        == by_scan
        == {
            ("node-lodash", "/var/lib/dpkg/status"),
            ("lodash", "/srv/web/node_modules/lodash/package.json"),
        }
    )


def test_rematch_matches_a_deb_with_the_node_modules_it_ships(store: FleetStore, tmp_path: Path) -> None:
    """A Debian record published later clears the npm finding of the module its .deb ships (a backport)."""
    full = _debian_node_db(tmp_path / "full")

    before = make_db(
        tmp_path / "before",
        [
            osv("GHSA-35jh-r3h4-6jhm", "npm", "lodash", "4.17.21", aliases=["CVE-2021-23337"]),
            osv("GHSA-xvch-5gv4-984h", "npm", "minimist", "1.2.6", aliases=["CVE-2021-44906"]),
        ],
    )
    image = _debian_node_image(tmp_path / "img")
    with open_database(before) as db:
        summary = add_targets(store, [f"oci:{image}"], options(tmp_path), db=db)
    (digest,) = summary.new
    assert ("CVE-2021-44906", "npm", "minimist", "1.2.5") in _fleet_ids(store, digest)
    with open_database(full) as db:
        report = rematch(store, db)
    assert report.advisories_changed == 2  # the two Debian records
    assert _fleet_ids(store, digest) == _scan_ids(f"oci:{image}", full)
    assert ("CVE-2021-44906", "npm", "minimist", "1.2.5") not in _fleet_ids(store, digest)
