"""CycloneDX 1.6: schema-valid, reproducible, and faithful to the inventory."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from chainwarden.models import Distro, Ecosystem, Finding, Inventory, Location, Package, RuleId, Severity, TargetInfo
from chainwarden.report.cyclonedx import primary_vulnerability_id, render_cyclonedx
from chainwarden.report.json_report import tool_version
from unit.report.report_samples import (
    BABEL_CORE,
    DIR_INVENTORY,
    FINDINGS,
    FIXED_SERIAL,
    FIXED_TIME,
    INVENTORY,
    LAYER_BASE,
    LIBSSL,
    REQUESTS_SYSTEM,
    REQUESTS_VENDORED,
    TZDATA,
    URLLIB3_LOCK,
    assert_snapshot,
)


def _validate(text: str) -> dict[str, Any]:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert errors is None, str(errors)
    document: dict[str, Any] = json.loads(text)
    return document


def _render(inventory: Inventory = INVENTORY, findings: tuple[Finding, ...] = FINDINGS) -> dict[str, Any]:
    return _validate(render_cyclonedx(inventory, findings, timestamp=FIXED_TIME, serial=FIXED_SERIAL))


def _component(document: dict[str, Any], package: Package) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [c for c in document["components"] if c["bom-ref"] == package.id]
    assert len(matches) == 1, package.id
    return matches[0]


def _properties(element: dict[str, Any]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for prop in element.get("properties", []):
        grouped.setdefault(prop["name"], []).append(prop["value"])
    return grouped


def test_snapshot_and_determinism() -> None:
    text = render_cyclonedx(INVENTORY, FINDINGS, timestamp=FIXED_TIME, serial=FIXED_SERIAL)
    _validate(text)
    assert text == render_cyclonedx(INVENTORY, FINDINGS, timestamp=FIXED_TIME, serial=FIXED_SERIAL)
    # The producer's version changes with every release; the snapshot should not.
    normalised = text.replace(f'"version": "{tool_version()}"', '"version": "<chainwarden-version>"')
    assert_snapshot("cyclonedx.json", normalised)


def test_header_and_reproducibility_arguments() -> None:
    document = _render()
    assert document["specVersion"] == "1.6"
    assert document["serialNumber"] == f"urn:uuid:{FIXED_SERIAL}"
    assert document["metadata"]["timestamp"].startswith("2024-05-01T12:00:00")
    tools = document["metadata"]["tools"]["components"]
    assert [(t["name"], t["version"]) for t in tools] == [("chainwarden", tool_version())]


def test_defaults_give_fresh_serial_numbers() -> None:
    first = json.loads(render_cyclonedx(DIR_INVENTORY))
    second = json.loads(render_cyclonedx(DIR_INVENTORY))
    assert first["serialNumber"] != second["serialNumber"]


def test_image_is_the_metadata_component() -> None:
    root = _render()["metadata"]["component"]
    assert root["type"] == "container"
    assert root["name"] == "app-image"
    assert root["hashes"] == [{"alg": "SHA-256", "content": "d4" * 32}]
    assert root["purl"].startswith("pkg:oci/app-image@sha256:" + "d4" * 32)
    assert "repository_url=registry.example.com/team/app-image" in root["purl"]
    assert "tag=1.4" in root["purl"]
    assert root["bom-ref"] == root["purl"]


@pytest.mark.parametrize(
    ("reference", "tags", "name", "repository_url"),
    [
        ("oci:./build/app-image:1.4", (), "app-image", None),  # a local path is not a repository
        ("registry:localhost:5000/team/img:2", (), "img", "localhost:5000/team/img"),
        ("registry:ghcr.io/acme/tool@sha256:" + "ab" * 32, (), "tool", "ghcr.io/acme/tool"),
        ("docker-archive:./x.tar", ("Debian:12",), "debian", None),
    ],
)
def test_image_names_and_purls(reference: str, tags: tuple[str, ...], name: str, repository_url: str | None) -> None:
    target = replace(INVENTORY.target, reference=reference, repo_tags=tags)
    root = _render(Inventory(target, ()), ())["metadata"]["component"]
    assert root["name"] == name
    assert ("repository_url=" in root["purl"]) == (repository_url is not None)
    if repository_url is not None:
        assert f"repository_url={repository_url}" in root["purl"]


def test_directory_is_an_application() -> None:
    root = _render(DIR_INVENTORY, ())["metadata"]["component"]
    assert root["type"] == "application"
    assert root["name"] == "./my-project"


def test_every_package_is_a_component_with_evidence() -> None:
    document = _render()
    refs = [c["bom-ref"] for c in document["components"]]
    assert len(refs) == len(set(refs)), "bom-refs must be unique"
    assert len(refs) == len(INVENTORY.packages) + 1  # plus the operating system
    os_component = next(c for c in document["components"] if c["type"] == "operating-system")
    assert (os_component["name"], os_component["version"]) == ("debian", "12")

    # Two copies of requests stay two components.
    assert _component(document, REQUESTS_SYSTEM) != _component(document, REQUESTS_VENDORED)

    libssl = _component(document, LIBSSL)
    assert libssl["purl"] == LIBSSL.purl
    props = _properties(libssl)
    assert props["chainwarden:found-by"] == ["dpkg-status"]
    assert props["chainwarden:source-name"] == ["openssl"]
    assert props["chainwarden:source-version"] == ["3.0.11-1~deb12u2"]
    assert props["chainwarden:layer"] == [LIBSSL.locations[0].layer]
    occurrences = {o["location"]: o for o in libssl["evidence"]["occurrences"]}
    assert set(occurrences) == {"/var/lib/dpkg/status", *LIBSSL.files}
    assert occurrences["/var/lib/dpkg/status"]["additionalContext"] == f"layer {LIBSSL.locations[0].layer}"
    assert occurrences["/usr/lib/x86_64-linux-gnu/libssl.so.3"]["additionalContext"] == "owned file"

    lock = _component(document, URLLIB3_LOCK)
    (occurrence,) = lock["evidence"]["occurrences"]
    assert (occurrence["location"], occurrence["line"]) == ("/app/requirements.txt", 3)
    assert lock["hashes"] == [{"alg": "SHA-256", "content": "12" * 32}]
    # A pin that is not a digest is kept, as a property, not dropped.
    assert _properties(lock)["chainwarden:hash"] == ["md5:not-a-digest"]

    babel = _component(document, BABEL_CORE)
    assert babel["name"] == "@babel/core"
    assert babel["purl"] == "pkg:npm/%40babel/core@7.23.0"
    assert babel["scope"] == "excluded"
    assert babel["hashes"][0]["alg"] == "SHA-512"

    tzdata = _component(document, TZDATA)
    assert tzdata["version"] == "1:2024a-0+deb12u1"
    assert {o["location"] for o in tzdata["evidence"]["occurrences"]} >= {"/usr/share/zoneinfo/Europe/Zürich"}


def test_licenses() -> None:
    document = _render()
    assert _component(document, REQUESTS_SYSTEM)["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    libssl_licenses = _component(document, LIBSSL)["licenses"]
    # An expression may only stand alone; next to another license it is kept as a name.
    assert {"license": {"id": "Apache-2.0"}} in libssl_licenses
    assert {"license": {"name": "Artistic-1.0-Perl OR GPL-1.0-or-later"}} in libssl_licenses
    alone = replace(LIBSSL, licenses=("MIT OR Apache-2.0",))
    single = _render(Inventory(INVENTORY.target, (alone,)), ())
    assert single["components"][0]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]


def test_root_depends_on_every_component() -> None:
    document = _render()
    root_ref = document["metadata"]["component"]["bom-ref"]
    root_entry = next(d for d in document["dependencies"] if d["ref"] == root_ref)
    assert set(root_entry["dependsOn"]) == {c["bom-ref"] for c in document["components"]}


def test_vulnerabilities_and_vex() -> None:
    document = _render()
    vulnerabilities = document["vulnerabilities"]
    component_refs = {c["bom-ref"] for c in document["components"]}
    for vulnerability in vulnerabilities:
        for affected in vulnerability["affects"]:
            assert affected["ref"] in component_refs

    by_ref = {v["bom-ref"]: v for v in vulnerabilities}
    libssl = by_ref["vuln:CVE-2023-5678"]
    assert libssl["id"] == "CVE-2023-5678"
    assert libssl["source"]["name"] == "NVD"
    assert [r["id"] for r in libssl["references"]] == ["DSA-5532-1"]
    assert libssl["ratings"][0] == {"method": "other", "severity": "medium"}
    assert "3.0.11-1~deb12u3" in libssl["recommendation"]
    assert libssl["affects"] == [{"ref": LIBSSL.id, "versions": [{"status": "affected", "version": LIBSSL.version}]}]

    urllib3 = by_ref["vuln:CVE-2023-43804"]
    cvss = next(r for r in urllib3["ratings"] if r["method"] == "CVSSv31")
    assert cvss["score"] == pytest.approx(5.3)
    assert cvss["severity"] == "medium"

    # The same CVE on two copies of requests: one is declared not affected (VEX).
    not_affected = by_ref["vuln:CVE-2023-32681#not_affected"]
    assert not_affected["analysis"] == {"state": "not_affected", "justification": "code_not_reachable"}
    assert not_affected["affects"][0]["ref"] == REQUESTS_SYSTEM.id
    assert not_affected["affects"][0]["versions"][0]["status"] == "unaffected"
    assert "recommendation" not in not_affected
    affected = by_ref["vuln:CVE-2023-32681"]
    assert "analysis" not in affected
    assert affected["affects"][0]["ref"] == REQUESTS_VENDORED.id


def test_non_vulnerability_findings_are_not_in_the_sbom() -> None:
    document = _render(findings=tuple(f for f in FINDINGS if f.rule_id != "vuln"))
    assert "vulnerabilities" not in document or document["vulnerabilities"] == []


def test_one_vulnerability_on_two_packages_is_one_entry() -> None:
    findings = tuple(
        Finding(RuleId("vuln"), Severity.LOW, "shared", package=p, aliases=frozenset({"GHSA-aaaa-bbbb-cccc"}))
        for p in (LIBSSL, TZDATA)
    )
    (vulnerability,) = _render(findings=findings)["vulnerabilities"]
    assert vulnerability["id"] == "GHSA-aaaa-bbbb-cccc"
    assert vulnerability["source"]["name"] == "GitHub Advisories"
    assert {a["ref"] for a in vulnerability["affects"]} == {LIBSSL.id, TZDATA.id}


@pytest.mark.parametrize(
    ("aliases", "title", "expected"),
    [
        ({"GHSA-x", "CVE-2024-1", "PYSEC-1"}, "t", "CVE-2024-1"),
        ({"GHSA-x", "PYSEC-1"}, "t", "GHSA-x"),
        ({"PYSEC-1", "DSA-9"}, "t", "DSA-9"),
        (set(), "MAL-2024-1", "MAL-2024-1"),
    ],
)
def test_primary_vulnerability_id(aliases: set[str], title: str, expected: str) -> None:
    finding = Finding(RuleId("vuln"), Severity.LOW, title, aliases=frozenset(aliases))
    assert primary_vulnerability_id(finding) == expected


def test_tricky_inputs_still_validate() -> None:
    weird = (
        Package(Ecosystem.NPM, "@scope/ünï", "0.0.0-ß", "pkg:npm/%40scope/%C3%BCn%C3%AF@0.0.0-%C3%9F", "npm"),
        Package(Ecosystem.DEBIAN, "epoch", "1:2.3-4", "pkg:deb/debian/epoch@1:2.3-4?arch=amd64", "dpkg-status"),
        Package(Ecosystem.PYPI, "bad-purl", "1", "not a purl", "python-dist-info"),
        Package(Ecosystem.PYPI, "no-purl", "", "", "requirements-txt", pinned=False),
        # The same purl and location twice: bom-refs must still be unique.
        Package(Ecosystem.PYPI, "twin", "1", "pkg:pypi/twin@1", "x"),
        Package(Ecosystem.PYPI, "twin", "1", "pkg:pypi/twin@1", "x"),
    )
    target = TargetInfo("docker-archive", "docker-archive:./image with space.tar")
    document = _render(Inventory(target, weird), ())
    refs = [c["bom-ref"] for c in document["components"]]
    assert len(refs) == len(set(refs)) == len(weird)
    bad = next(c for c in document["components"] if c["name"] == "bad-purl")
    assert "purl" not in bad
    assert _properties(bad)["chainwarden:purl"] == ["not a purl"]
    assert document["metadata"]["component"]["type"] == "container"


def test_finding_for_a_package_outside_the_inventory() -> None:
    stray = Package(Ecosystem.PYPI, "stray", "1.0", "pkg:pypi/stray@1.0", "requirements-txt")
    finding = Finding(RuleId("vuln"), Severity.HIGH, "x", package=stray, aliases=frozenset({"CVE-2024-2"}))
    (vulnerability,) = _render(findings=(finding,))["vulnerabilities"]
    assert vulnerability["affects"][0]["ref"] == "pkg:pypi/stray@1.0"


def test_many_packages_with_many_files() -> None:
    packages = tuple(
        Package(
            Ecosystem.DEBIAN,
            f"lib{n}",
            "1.0-1",
            f"pkg:deb/debian/lib{n}@1.0-1",
            "dpkg-status",
            files=tuple(f"/usr/lib/lib{n}/f{k}" for k in range(20)),
        )
        for n in range(300)
    )
    document = _render(Inventory(INVENTORY.target, packages), ())
    assert len(document["components"]) == 300
    assert sum(len(c["evidence"]["occurrences"]) for c in document["components"]) == 6000


# --- the library as the oracle ------------------------------------------------
# chainwarden writes the document itself (the library's model was 60x too slow
# on an image, and its import alone half the JSON report's time); here the
# library builds the same document from its own model, and both must come out
# byte for byte the same.


def _library_document(
    inventory: Inventory, findings: tuple[Finding, ...] = (), timestamp: datetime = FIXED_TIME
) -> str:
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    from chainwarden._internal.jsontext import iter_indented
    from chainwarden.report.cyclonedx import _image_name, image_purl
    from chainwarden.report.cyclonedx_vulnerabilities import _vulnerabilities

    taken: set[str] = set()

    def claim(wanted: str) -> str:
        ref, counter = wanted, 1
        while ref in taken:
            counter += 1
            ref = f"{wanted}#{counter}"
        taken.add(ref)
        return ref

    target = inventory.target
    root_properties = [Property(name="chainwarden:target-kind", value=target.kind)]
    if target.kind == "dir":
        root = Component(
            type=ComponentType.APPLICATION,
            name=target.reference,
            bom_ref=claim(f"target:{target.reference}"),
            properties=root_properties,
        )
    else:
        name, _, tag = _image_name(target)
        digest = target.digest or target.config_digest
        purl_text = image_purl(target)  # how an image is named is chainwarden's; how it is written, the library's
        purl = PackageURL.from_string(purl_text) if purl_text else None
        for key, value in (
            ("image-digest", target.digest),
            ("image-id", target.config_digest),
            ("platform", target.platform),
            *(("repo-tag", t) for t in target.repo_tags),
        ):
            if value:
                root_properties.append(Property(name=f"chainwarden:{key}", value=value))
        root = Component(
            type=ComponentType.CONTAINER,
            name=name,
            version=tag or digest,
            purl=purl,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest.split(":")[1])] if digest else [],
            bom_ref=claim(purl.to_string() if purl else f"target:{target.reference}"),
            properties=root_properties,
        )
    metadata_properties = [Property(name="chainwarden:target", value=target.reference)]
    metadata_properties += [
        Property(name=f"chainwarden:layer:{n}", value=x.digest) for n, x in enumerate(target.layers)
    ]
    for skipped in inventory.skipped:
        where = f" at {skipped.location}" if skipped.location else ""
        metadata_properties.append(
            Property(name="chainwarden:skipped", value=f"{skipped.what}{where}: {skipped.reason}")
        )
    metadata = BomMetaData(
        timestamp=timestamp,
        component=root,
        lifecycles=[PredefinedLifecycle(LifecyclePhase.POST_BUILD)] if target.kind != "dir" else [],
        properties=metadata_properties,
    )
    metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="chainwarden", version=tool_version(), bom_ref="chainwarden")
    )
    bom = Bom(serial_number=FIXED_SERIAL, metadata=metadata)
    components = []
    if inventory.distro is not None:
        distro = inventory.distro
        codename = [Property(name="chainwarden:distro-codename", value=distro.codename)] if distro.codename else []
        components.append(
            Component(
                type=ComponentType.OPERATING_SYSTEM,
                name=distro.id,
                version=distro.version_id or None,
                description=distro.pretty_name or None,
                bom_ref=claim(f"os:{distro.id}@{distro.version_id}"),
                properties=codename,
            )
        )
    package_refs: dict[Package, str] = {}
    for package in inventory.packages:
        ref = claim(package.id or f"{package.ecosystem.value}:{package.name}")
        package_refs.setdefault(package, ref)
        components.append(_library_component(package, ref))
    for component in components:
        bom.components.add(component)
    bom.register_dependency(root, components)
    for vulnerability in _vulnerabilities(findings, package_refs, claim):
        bom.vulnerabilities.add(vulnerability)
    document = json.loads(JsonV1Dot6(bom).output_as_string())
    core = {key: document.pop(key) for key in ("$schema", "bomFormat", "specVersion")}
    return "".join(iter_indented(document, trailing=core)) + "\n"


def _library_component(package: Package, ref: str) -> Any:
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
    from cyclonedx.model.contact import OrganizationalEntity
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
    from packageurl import PackageURL

    from chainwarden.report.json_report import parse_hash_pin

    scopes = {"prod": ComponentScope.REQUIRED, "optional": ComponentScope.OPTIONAL, "dev": ComponentScope.EXCLUDED}
    algorithms = {"sha1": HashAlgorithm.SHA_1, "sha256": HashAlgorithm.SHA_256, "sha512": HashAlgorithm.SHA_512}
    try:
        purl = PackageURL.from_string(package.purl) if package.purl else None
    except ValueError:
        purl = None
    props = [("found-by", package.found_by)]
    if purl is None and package.purl:
        props.append(("purl", package.purl))
    props += [("layer", layer) for layer in dict.fromkeys(loc.layer for loc in package.locations if loc.layer)]
    if package.source_name:
        props.append(("source-name", package.source_name))
        if package.source_version:
            props.append(("source-version", package.source_version))
    if package.arch:
        props.append(("arch", package.arch))
    if package.direct is not None:
        props.append(("direct", str(package.direct).lower()))
    if package.scope is not None:
        props.append(("scope", package.scope.value))
    if not package.pinned:
        props.append(("pinned", "false"))
    hashes = []
    for pin in package.hashes:
        parsed = parse_hash_pin(pin)
        if parsed is None or parsed[0] not in algorithms:
            props.append(("hash", pin))
        else:
            hashes.append(HashType(alg=algorithms[parsed[0]], content=parsed[1]))
    factory = LicenseFactory()
    licenses = [factory.make_from_string(v) for v in dict.fromkeys(v.strip() for v in package.licenses) if v]
    if len(licenses) > 1 and any(isinstance(lic, LicenseExpression) for lic in licenses):
        licenses = [DisjunctiveLicense(name=x.value) if isinstance(x, LicenseExpression) else x for x in licenses]
    occurrences: dict[str, Occurrence] = {}
    for loc in package.locations:
        oref = f"{ref}#found-at:{loc.path}" + (f":{loc.line}" if loc.line is not None else "")
        context = f"layer {loc.layer}" if loc.layer else None
        occurrences.setdefault(
            oref, Occurrence(bom_ref=oref, location=loc.path, line=loc.line, additional_context=context)
        )
    for path in package.files:
        oref = f"{ref}#owns:{path}"
        occurrences.setdefault(oref, Occurrence(bom_ref=oref, location=path, additional_context="owned file"))
    return Component(
        type=ComponentType.APPLICATION if package.ecosystem is Ecosystem.BINARY else ComponentType.LIBRARY,
        supplier=OrganizationalEntity(name=package.supplier) if package.supplier else None,
        name=package.name,
        version=package.version or None,
        purl=purl,
        bom_ref=ref,
        licenses=licenses,
        hashes=hashes,
        scope=scopes[package.scope.value] if package.scope else None,
        properties=[Property(name=f"chainwarden:{k}", value=v) for k, v in props],
        evidence=ComponentEvidence(occurrences=occurrences.values()) if occurrences else None,
    )


_ORACLE_PACKAGES = (
    *INVENTORY.packages,
    Package(Ecosystem.NPM, "@scope/ünï", "0.0.0-ß", "pkg:npm/%40scope/%C3%BCn%C3%AF@0.0.0-%C3%9F", "npm"),
    Package(Ecosystem.DEBIAN, "epoch", "1:2.3-4", "pkg:deb/debian/epoch@1:2.3-4?distro=debian-12&arch=amd64", "dpkg"),
    Package(Ecosystem.PYPI, "bad-purl", "1", "not a purl", "python-dist-info", licenses=("MIT", "GPL-2.0 OR MIT")),
    Package(Ecosystem.PYPI, "a", "1", "pkg:pypi/A@1?a=&b=x#sub/path", "x", licenses=("Apache 2.0", "BSD-3-Clause")),
    Package(Ecosystem.PYPI, "a", "2", "pkg:pypi/a@2?Repository_URL=https://x.example/simple%20y", "x"),
    Package(Ecosystem.BINARY, "tool", "", "", "binary", locations=(Location("/usr/local/bin/tool"),)),
    Package(Ecosystem.DEBIAN, "zlib1g", "1:1.2.13", "pkg:deb/debian/zlib1g@1:1.2.13", "dpkg", supplier="Debian"),
    # what chainwarden's own catalogers write (purls trusted as canonical), and licences of every kind
    Package(
        Ecosystem.DEBIAN,
        "libc6",
        "2.36-9+deb12u4",
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc",
        "dpkg-status",
        locations=(
            Location("/var/lib/dpkg/status", LAYER_BASE, line=7),
            Location("/var/lib/dpkg/status", LAYER_BASE, line=7),
        ),
        files=(
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/etc/ld.so.conf.d/x86_64-linux-gnu.conf",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
        ),
        licenses=("GPL-2+", "LGPL-2.1+"),
    ),
    Package(
        Ecosystem.DEBIAN, "base-files", "12.4", "pkg:deb/debian/base-files@12.4", "dpkg-status", licenses=("LGPL-2.1+",)
    ),
    Package(Ecosystem.APK, "musl", "1.2.4-r2", "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64", "apk-db", licenses=("mit",)),
    Package(Ecosystem.NPM, "x", "1", "pkg:npm/x@1", "npm-installed", licenses=("MIT OR Apache-2.0",)),
    Package(
        Ecosystem.NPM, "y", "1", "pkg:npm/y@1", "npm-installed", licenses=("Apache-2.0", "MIT OR Apache-2.0", "MIT")
    ),
    Package(Ecosystem.NPM, "z", "1", "pkg:npm/z@1", "npm-installed", licenses=(" MIT ", "mit", "", "  ", "Zlib")),
    Package(Ecosystem.PYPI, "w", "1", "pkg:pypi/w@1", "python-installed", licenses=("GPL-3+ or Artistic", "Expat")),
    Package(Ecosystem.PYPI, "v", "1", "pkg:pypi/v@1", "python-installed", licenses=("Licence publique générale",)),
    Package(
        Ecosystem.GOLANG,
        "github.com/BurntSushi/toml",
        "v1.3.2",
        "pkg:golang/github.com/BurntSushi/toml@v1.3.2",
        "go-binary",
    ),
)


@pytest.mark.parametrize(
    ("inventory", "findings"),
    [
        (INVENTORY, FINDINGS),
        (Inventory(INVENTORY.target, _ORACLE_PACKAGES, distro=INVENTORY.distro, skipped=INVENTORY.skipped), FINDINGS),
        (DIR_INVENTORY, ()),
        (Inventory(TargetInfo("oci", "oci:./x"), ()), ()),  # no packages, no digest, no distro
        (Inventory(replace(INVENTORY.target, digest=None, repo_tags=(), platform=None), ()), ()),
        (Inventory(INVENTORY.target, (), distro=Distro("alpine", "", "", ""), skipped=INVENTORY.skipped * 2), ()),
    ],
    ids=["sample", "tricky", "directory", "empty", "config-digest-only", "bare-distro"],
)
def test_document_is_the_one_the_library_writes(inventory: Inventory, findings: tuple[Finding, ...]) -> None:
    ours = render_cyclonedx(inventory, findings, timestamp=FIXED_TIME, serial=FIXED_SERIAL)
    assert ours == _library_document(inventory, findings)
    _validate(ours)


def test_a_naive_timestamp_is_written_as_the_library_writes_it() -> None:
    naive = datetime(2024, 5, 1, 12, 0, 0, 123456)
    ours = render_cyclonedx(DIR_INVENTORY, timestamp=naive, serial=FIXED_SERIAL)
    assert ours == _library_document(DIR_INVENTORY, timestamp=naive)


def test_an_sbom_without_findings_does_not_load_the_library() -> None:
    """Only the SPDX licence list is the library's to give; its model and serialiser stay unloaded."""
    code = (
        "import sys; from chainwarden.report.cyclonedx import render_cyclonedx;"
        "from unit.report.report_samples import INVENTORY;"
        "render_cyclonedx(INVENTORY);"
        "print(sorted(m for m in sys.modules if m.startswith('cyclonedx.') and not m.startswith('cyclonedx.spdx')"
        " and not m.startswith('cyclonedx.schema')))"
    )
    tests_dir = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tests_dir)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "purl",
    [
        *(p.purl for p in _ORACLE_PACKAGES if p.purl != "not a purl"),
        "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?arch=amd64&distro=debian-12&epoch=1",
        "pkg:npm/%40Babel/Core@7.0.0?checksum=sha512:abc&vcs_url=git%2Bhttps://x",
        "pkg:pypi/Django_Rest@1.0?b=2&a=1",
        "pkg:golang/github.com/a/b@v1.0.0?goos=linux#cmd/tool",
        "pkg:generic/x@1?",
        "pkg:generic/x@1?=v",
    ],
)
def test_canonical_purl_is_the_librarys(purl: str) -> None:
    from packageurl import PackageURL

    from chainwarden.report.cyclonedx import canonical_purl

    try:
        expected = PackageURL.from_string(purl).to_string()
    except ValueError:
        with pytest.raises(ValueError):
            canonical_purl(purl)
        return
    assert canonical_purl(purl) == expected
