"""``fleet rematch`` (only what changed advisories name) and ``fleet stale`` (base moved, fixable)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainwarden.fleet import FleetStore, open_store
from chainwarden.fleet.queries import affected
from chainwarden.fleet.rematch import rematch
from chainwarden.fleet.stale import parse_age, stale_images
from chainwarden.fleet.sync import add_targets
from chainwarden.sources import SourceOptions
from chainwarden.vulndb import open_database
from support.fleet import ADVISORIES, app_layer, base_layer, make_db, make_image, osv
from support.images import make_oci
from support.postgres import PostgresCluster

REGISTRY = "127.0.0.1:5000"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FleetStore]:
    if request.param == "sqlite":
        url = str(tmp_path / "fleet.sqlite3")
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        url = cluster.create_database(f"fleet_{uuid.uuid4().hex[:12]}")
    with open_store(url) as opened:
        yield opened


def test_rematch_recomputes_only_what_changed_advisories_name(store: FleetStore, tmp_path: Path) -> None:
    without_requests = [a for a in ADVISORIES if a["id"] != "GHSA-9wx4-h78v-vm56"]
    db_path = make_db(tmp_path / "db1", without_requests)
    old = make_image(tmp_path / "old", requests="2.31.0")
    new = make_image(tmp_path / "new", requests="2.32.3", openssl="3.0.11-1~deb12u2")
    with open_database(db_path) as db:
        add_targets(store, [f"oci:{old}", f"oci:{new}"], SourceOptions(cache_dir=tmp_path / "c"), db=db)
        first = rematch(store, db)
        assert first.since is None and first.advisories_changed == 0
        assert {r.vuln_id for r in first.new} == {"MAL-2024-7000", "CVE-2024-1001"}
        assert first.new[0].rule_id == "known-malicious-package"  # malicious first
        quiet = rematch(store, db)
        assert (quiet.advisories_changed, quiet.package_versions_rematched, quiet.new) == (0, 0, ())

    # the requests advisory lands, the openssl one is withdrawn by deletion
    changed = [a for a in ADVISORIES if a["id"] != "DEBIAN-CVE-2024-1001"] + [
        osv("PYSEC-2099-1", "PyPI", "left-pad-py", "1.0")  # names nothing in the fleet
    ]
    db_path = make_db(tmp_path / "db2", changed)
    with open_database(db_path) as db:
        report = rematch(store, db)
    assert report.advisories_changed == 3
    # requests 2.31.0 and 2.32.3, libssl3 (source openssl) deb12u1 and deb12u2 — not bash, not left-pad
    assert report.package_versions_rematched == 4
    assert [(r.vuln_id, r.name, r.version) for r in report.new] == [("CVE-2024-35195", "requests", "2.31.0")]
    assert report.new[0].tags == () and report.new[0].fixed == ("2.32.0",)
    assert affected(store, "CVE-2024-1001") == []  # a deleted advisory's findings go away
    assert len(affected(store, "CVE-2024-35195")) == 1


def _digest(layout: Path) -> str:
    import json

    return str(json.loads((layout / "index.json").read_text())["manifests"][0]["digest"])


def test_stale_finds_moved_bases_by_annotation_and_by_layers(store: FleetStore, tmp_path: Path) -> None:
    old_base = make_oci(tmp_path / "base1", [base_layer("3.0.11-1~deb12u1")], created="2024-01-01T00:00:00Z")
    new_base = make_oci(tmp_path / "base2", [base_layer("3.0.11-1~deb12u2")], created="2024-06-01T00:00:00Z")
    hardening = {"/etc/hardened": "yes\n"}
    hardened = make_oci(tmp_path / "hardened", [base_layer("3.0.11-1~deb12u1"), hardening], created="")
    app = make_oci(tmp_path / "app", [base_layer("3.0.11-1~deb12u1"), app_layer()], created="2024-02-01T00:00:00Z")
    on_hardened = make_oci(
        tmp_path / "app-h", [base_layer("3.0.11-1~deb12u1"), hardening, app_layer()], created="2024-03-01T00:00:00Z"
    )
    annotated = make_image(
        tmp_path / "annotated",
        requests="2.32.3",
        labels={
            "org.opencontainers.image.base.name": f"{REGISTRY}/base:12",
            "org.opencontainers.image.base.digest": _digest(old_base),
        },
    )
    layouts = [old_base, new_base, hardened, app, on_hardened, annotated]
    db_path = make_db(tmp_path)
    with open_database(db_path) as db:
        summary = add_targets(store, [f"oci:{p}" for p in layouts], SourceOptions(cache_dir=tmp_path / "c"), db=db)
    assert len(summary.new) == 6
    d = {p.name: _digest(p) for p in layouts}
    # one base digest under two tags, and an app that is a mere re-tag of the base
    store.record_tags(
        REGISTRY,
        {
            ("base", "12"): d["base1"],
            ("base", "latest"): d["base1"],
            ("hardened", "1"): d["hardened"],
            ("app", "1"): d["app"],
            ("app", "retag"): d["base1"],
        },
    )
    before = {r.digest: r for r in stale_images(store)}
    assert not any(r.stale for r in before.values())
    assert before[d["app"]].base_source == "layers" and before[d["app"]].base_digest == d["base1"]
    assert before[d["app"]].base_moved is False  # two tags on the base: one base, not ambiguous
    assert before[d["app-h"]].base_digest == d["hardened"]  # the longest prefix: the hardened base
    assert before[d["annotated"]].base_source == "annotation" and before[d["annotated"]].base_moved is False

    store.record_tags(REGISTRY, {("base", "12"): d["base2"], ("base", "latest"): d["base2"]})
    after = {r.digest: r for r in stale_images(store)}
    moved = after[d["app"]]
    assert moved.stale and moved.base_current == d["base2"]
    assert moved.moved_tags == (f"{REGISTRY}/base:12", f"{REGISTRY}/base:latest")
    assert moved.fixable == ("CVE-2024-1001",)  # openssl is fixed in the new base; left-pad (app layer) is not
    assert moved.advice.startswith("rebuild on") and "fixes 1 finding" in moved.advice
    assert after[d["annotated"]].stale and after[d["annotated"]].fixable == ("CVE-2024-1001",)
    assert after[d["app-h"]].base_moved is False  # the hardened base did not move
    assert not after[d["base2"]].stale  # the new base itself
    # the re-tag is the old base's digest: tags moved away from it, but it is not its own base
    assert after[d["base1"]].base_source is None and not after[d["base1"]].stale
    aged = stale_images(store, older_than_days=10_000)
    assert aged == []
    old_enough = {r.digest for r in stale_images(store, older_than_days=30)}
    assert d["app"] in old_enough and d["hardened"] not in old_enough  # no created time: age unknown


@pytest.mark.parametrize(("text", "days"), [("30d", 30), ("2w", 14), ("12h", 1), ("49h", 3), ("7", 7)])
def test_ages(text: str, days: int) -> None:
    assert parse_age(text) == days
