"""SPDX 2.3: valid against the official schema, and consistent beyond what it checks."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import pytest
from cyclonedx.spdx import is_expression

from chainwarden.models import Ecosystem, Inventory, Package, TargetInfo
from chainwarden.report.json_report import tool_version
from chainwarden.report.spdx import render_spdx, spdx_id
from unit.report.report_samples import (
    BABEL_CORE,
    DIR_INVENTORY,
    FIXED_TIME,
    INVENTORY,
    LIBSSL,
    TZDATA,
    URLLIB3_LOCK,
    assert_snapshot,
)

SPDX_ID = re.compile(r"^SPDXRef-[A-Za-z0-9.-]+$")


@cache
def _validator() -> jsonschema.protocols.Validator:
    text = resources.files("chainwarden.report").joinpath("schemas/spdx-schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return validator


def _validate(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    errors = sorted(_validator().iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    _check_beyond_schema(document)
    return document


def _check_beyond_schema(document: dict[str, Any]) -> None:
    """What the SPDX specification requires and its JSON schema does not check."""
    ids = [document["SPDXID"], *(p["SPDXID"] for p in document["packages"])]
    assert len(ids) == len(set(ids)), "SPDX ids must be unique"
    assert all(SPDX_ID.match(i) for i in ids), ids
    known = set(ids)
    for relationship in document["relationships"]:
        assert relationship["spdxElementId"] in known
        assert relationship["relatedSpdxElement"] in known
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["creationInfo"]["created"])
    declared_refs = {info["licenseId"] for info in document.get("hasExtractedLicensingInfos", [])}
    for package in document["packages"]:
        for field in ("licenseDeclared", "licenseConcluded"):
            value = package.get(field)
            if value in (None, "NOASSERTION", "NONE"):
                continue
            refs = set(re.findall(r"LicenseRef-[A-Za-z0-9.-]+", value))
            assert refs <= declared_refs, refs - declared_refs
            # With the document's own licenses standing in as a known id, the rest must parse as SPDX.
            assert is_expression(re.sub(r"LicenseRef-[A-Za-z0-9.-]+", "MIT", value)), value


def _render(inventory: Inventory = INVENTORY, seed: str | None = "seed") -> dict[str, Any]:
    return _validate(render_spdx(inventory, created=FIXED_TIME, namespace_seed=seed))


def _package(document: dict[str, Any], package: Package) -> dict[str, Any]:
    """The SPDX package with this purl found at this package's first location."""
    matches: list[dict[str, Any]] = [
        p
        for p in document["packages"]
        if [ref["referenceLocator"] for ref in p.get("externalRefs", [])] == [package.purl]
        and f" at {package.locations[0].path}" in p["sourceInfo"]
    ]
    assert len(matches) == 1, package
    return matches[0]


def test_snapshot_and_determinism() -> None:
    text = render_spdx(INVENTORY, created=FIXED_TIME, namespace_seed="seed")
    _validate(text)
    assert text == render_spdx(INVENTORY, created=FIXED_TIME, namespace_seed="seed")
    assert_snapshot("spdx.json", text.replace(f"chainwarden-{tool_version()}", "chainwarden-<version>"))


def test_document_header() -> None:
    document = _render()
    assert document["spdxVersion"] == "SPDX-2.3"
    assert document["dataLicense"] == "CC0-1.0"
    assert document["creationInfo"] == {
        "created": "2024-05-01T12:00:00Z",
        "creators": [f"Tool: chainwarden-{tool_version()}"],
    }
    assert document["name"] == INVENTORY.target.reference


def test_namespace_is_deterministic_from_the_seed_and_unique_without() -> None:
    assert _render(seed="a")["documentNamespace"] == _render(seed="a")["documentNamespace"]
    assert _render(seed="a")["documentNamespace"] != _render(seed="b")["documentNamespace"]
    assert _render(seed=None)["documentNamespace"] != _render(seed=None)["documentNamespace"]
    assert _render()["documentNamespace"].startswith("https://")


def test_root_describes_and_contains_everything() -> None:
    document = _render()
    root = document["packages"][0]
    assert root["primaryPackagePurpose"] == "CONTAINER"
    assert root["checksums"] == [{"algorithm": "SHA256", "checksumValue": "d4" * 32}]
    relationships = {
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in document["relationships"]
    }
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", root["SPDXID"]) in relationships
    contained = {r[2] for r in relationships if r[1] == "CONTAINS" and r[0] == root["SPDXID"]}
    assert contained == {p["SPDXID"] for p in document["packages"][1:]}
    assert len(document["packages"]) == len(INVENTORY.packages) + 2  # root and the operating system


def test_packages_carry_purl_location_and_source() -> None:
    document = _render()
    libssl = _package(document, LIBSSL)
    assert libssl["name"] == "libssl3"
    assert libssl["versionInfo"] == LIBSSL.version
    assert libssl["downloadLocation"] == "NOASSERTION"
    assert libssl["filesAnalyzed"] is False
    assert libssl["externalRefs"] == [
        {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": LIBSSL.purl}
    ]
    assert "dpkg-status" in libssl["sourceInfo"]
    assert "source package openssl 3.0.11-1~deb12u2" in libssl["sourceInfo"]
    assert str(LIBSSL.locations[0].layer) in libssl["sourceInfo"]
    assert all(path in libssl["comment"] for path in LIBSSL.files)
    assert "hasFiles" not in libssl
    assert libssl["licenseDeclared"] == "Apache-2.0 AND (Artistic-1.0-Perl OR GPL-1.0-or-later)"

    lock = _package(document, URLLIB3_LOCK)
    assert "/app/requirements.txt:3" in lock["sourceInfo"]
    assert lock["checksums"] == [{"algorithm": "SHA256", "checksumValue": "12" * 32}]

    babel = _package(document, BABEL_CORE)
    assert babel["name"] == "@babel/core"
    assert SPDX_ID.match(babel["SPDXID"])
    assert babel["checksums"][0]["algorithm"] == "SHA512"


def test_licenses_that_are_not_spdx_become_license_refs() -> None:
    document = _render()
    tzdata = _package(document, TZDATA)
    refs = {info["extractedText"]: info["licenseId"] for info in document["hasExtractedLicensingInfos"]}
    assert set(refs) >= {"public-domain", "Licence publique générale"}
    assert tzdata["licenseDeclared"] == f"{refs['public-domain']} AND {refs['Licence publique générale']}"
    assert tzdata["versionInfo"] == "1:2024a-0+deb12u1"


@pytest.mark.parametrize(
    ("licenses", "expected"),
    [
        ((), "NOASSERTION"),
        (("mit",), "MIT"),
        (("MIT OR Apache-2.0",), "MIT OR Apache-2.0"),
        (("(MIT OR Apache-2.0)",), "MIT OR Apache-2.0"),
        (("MIT", "MIT"), "MIT"),
        (("MIT", "  "), "MIT"),
        (("GPL-2.0-only", "LGPL-2.1-or-later WITH Classpath-exception-2.0"), None),
    ],
)
def test_license_expressions(licenses: tuple[str, ...], expected: str | None) -> None:
    package = replace(LIBSSL, licenses=licenses)
    declared = _render(Inventory(INVENTORY.target, (package,)))["packages"][1]["licenseDeclared"]
    if expected is not None:
        assert declared == expected
    else:
        assert declared == "GPL-2.0-only AND (LGPL-2.1-or-later WITH Classpath-exception-2.0)"


def test_directory_and_empty_targets() -> None:
    document = _render(DIR_INVENTORY)
    assert document["packages"][0]["primaryPackagePurpose"] == "APPLICATION"
    empty = _render(Inventory(TargetInfo("dir", "."), ()))
    assert len(empty["packages"]) == 1
    assert [r["relationshipType"] for r in empty["relationships"]] == ["DESCRIBES"]


def test_tricky_names_give_valid_unique_ids() -> None:
    packages = (
        Package(Ecosystem.NPM, "@scope/ünï code", "0.0.0-ß", "pkg:npm/%40scope/x@0.0.0", "npm"),
        Package(Ecosystem.DEBIAN, "epoch", "1:2.3-4", "pkg:deb/debian/epoch@1:2.3-4", "dpkg-status"),
        Package(Ecosystem.PYPI, "twin", "1", "pkg:pypi/twin@1", "x"),
        Package(Ecosystem.PYPI, "twin", "1", "pkg:pypi/twin@1", "x"),
        Package(Ecosystem.PYPI, "no-version", "", "", "requirements-txt", pinned=False),
    )
    document = _render(Inventory(TargetInfo("oci", "oci:./weird dir/ümage:tag"), packages))
    names = [p["name"] for p in document["packages"][1:]]
    assert names == [p.name for p in packages]
    assert "versionInfo" not in document["packages"][-1]
    assert "externalRefs" not in document["packages"][-1]


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("Package", "npm-@babel/core-1", "SPDXRef-Package-npm--babel-core-1"),
        ("Image", "ümlaut", "SPDXRef-Image-mlaut"),
        ("Image", "///", "SPDXRef-Image-x"),
    ],
)
def test_spdx_id_sanitising(kind: str, text: str, expected: str) -> None:
    assert spdx_id(kind, text) == expected


def test_skipped_items_are_recorded() -> None:
    assert "special file" in _render()["comment"]
