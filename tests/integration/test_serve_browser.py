"""``chainwarden serve`` in a real browser (Debian chromium + chromedriver via selenium).

The server runs as a real process on 127.0.0.1 over a store filled by
``fleet add``; the tests read the DOM and take a screenshot of each page.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chainwarden.fleet import open_store
from chainwarden.fleet.sync import add_targets
from chainwarden.sources import SourceOptions
from chainwarden.vulndb import open_database
from integration.registry_server import free_port
from support.browser import browser_missing, chromium
from support.fleet import make_db, make_image

pytestmark = pytest.mark.integration
TOKEN = "test-token-123"


def profile_document(reference: str) -> dict[str, object]:
    """A runtime profile as ``chainwarden profile`` writes it (docs/profile-schema.md): requests loaded, left-pad unused."""
    site = "/usr/lib/python3/dist-packages"

    def entry(
        purl: str, name: str, version: str, ecosystem: str, status: str, files: dict[str, list[str]]
    ) -> dict[str, object]:
        return {
            "purl": purl,
            "name": name,
            "version": version,
            "ecosystem": ecosystem,
            "status": status,
            "files": files,
        }

    return {
        "format": "chainwarden-profile/1",
        "target": {"reference": reference, "kind": "oci", "digest": None, "config_digest": None},
        "net": "none", "probes": [], "programs": [], "files": [], "network": [], "processes": [],
        "packages": [
            entry("pkg:pypi/requests@2.30.0", "requests", "2.30.0", "pypi", "loaded",
                  {"loaded": [f"{site}/requests/__init__.py"]}),
            entry("pkg:npm/left-pad@1.3.0", "left-pad", "1.3.0", "npm", "unused", {}),
        ],
        "summary": {}, "image_files": {}, "notes": [],
    }  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    work = tmp_path_factory.mktemp("serve")
    store_path = str(work / "fleet.sqlite3")
    old = make_image(work / "old", requests="2.31.0")
    new = make_image(work / "new", requests="2.32.3", openssl="3.0.11-1~deb12u2")
    profiled = make_image(work / "profiled", requests="2.30.0")
    profile = work / "profile.json"
    profile.write_text(json.dumps(profile_document(f"oci:{profiled}")))
    with open_database(make_db(work)) as db, open_store(store_path) as store:
        summary = add_targets(store, [f"oci:{old}", f"oci:{new}"], SourceOptions(cache_dir=work / "c"), db=db)
        store.record_tags("127.0.0.1:5000", {("team/api", "v1"): summary.new[0], ("team/web", "v1"): summary.new[1]})
        with_profile = add_targets(
            store, [f"oci:{profiled}"], SourceOptions(cache_dir=work / "c"), db=db, profile=profile
        )
        assert not with_profile.failed, with_profile.failed
    port = free_port()
    with (work / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from chainwarden.cli import main; sys.exit(main())", "serve",
             "--store", store_path, "--bind", f"127.0.0.1:{port}", "--token", TOKEN],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (work / "serve.log").read_text()
            time.sleep(0.1)
        yield base, {"old": summary.new[0], "new": summary.new[1], "profiled": with_profile.new[0]}
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_json_api_needs_the_token_and_pages_are_read_only(server: tuple[str, dict[str, str]]) -> None:
    base, digests = server
    assert httpx.get(base + "/api/images", timeout=5).status_code == 401
    assert httpx.get(base + "/api/images", headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
    answer = httpx.get(base + "/api/affected?q=CVE-2024-35195", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert answer.status_code == 200
    assert sorted(r["image_digest"] for r in answer.json()["affected"]) == sorted([digests["old"], digests["profiled"]])
    assert httpx.post(base + "/", timeout=5).status_code == 405
    page = httpx.get(base + "/", timeout=5).text
    # nothing loaded from elsewhere: every link and resource is this server's
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert links and all(link.startswith(("/", base + "/")) for link in links), links


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    missing = browser_missing()
    if missing:
        pytest.skip(f"{missing} missing (make system-tools installs chromium and chromium-driver)")
    with chromium() as driver:
        yield driver


def test_pages_in_a_real_browser(server: tuple[str, dict[str, str]], browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    base, digests = server
    browser.get(base + "/")
    assert browser.find_element(By.ID, "stat-images").text == "3"
    rows = browser.find_elements(By.CSS_SELECTOR, "#images tr.image-row")
    assert len(rows) == 3 and all("critical" in r.text for r in rows)
    bars = browser.find_elements(By.CSS_SELECTOR, "#severity-chart svg g.bar")
    assert {b.get_attribute("data-label"): b.get_attribute("data-value") for b in bars}["critical"] == "3"
    in_use = browser.find_elements(By.CSS_SELECTOR, "#in-use-chart svg g.bar")
    assert {b.get_attribute("data-label"): b.get_attribute("data-value") for b in in_use} == {
        "loaded": "1",
        "not-observed": "1",
        "unknown": "2",
    }
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline-chart svg circle.point")
    # the stylesheet came from the server itself and applied
    header = browser.find_element(By.TAG_NAME, "header")
    assert header.value_of_css_property("background-color") == "rgba(38, 50, 56, 1)"
    assert browser.get_screenshot_as_file(str(tmp_path / "overview.png"))

    browser.get(base + "/affected")
    browser.find_element(By.ID, "q").send_keys("MAL-2024-7000")
    browser.find_element(By.ID, "search").click()
    found = browser.find_elements(By.CSS_SELECTOR, "#affected tr.affected-row")
    assert len(found) == 3 and all("left-pad 1.3.0" in r.text for r in found)
    assert browser.get_screenshot_as_file(str(tmp_path / "affected.png"))
    found[0].find_element(By.TAG_NAME, "a").click()

    assert browser.find_element(By.ID, "digest").text in digests.values()
    findings = browser.find_elements(By.CSS_SELECTOR, "#findings tr.finding")
    assert findings and findings[0].text.startswith("MAL-2024-7000 critical")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#packages tr.package")) == 4
    assert browser.get_screenshot_as_file(str(tmp_path / "image.png"))

    # the profiled image: in-use levels per package and the hardening preview
    browser.get(base + "/images/" + digests["profiled"])
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#hardening td")]
    assert cells == ["packages", "4", "3", "findings", "3", "2"]  # left-pad (malicious, unused) would go
    levels = {r.find_elements(By.TAG_NAME, "td")[1].text: r.find_elements(By.TAG_NAME, "td")[5].text
              for r in browser.find_elements(By.CSS_SELECTOR, "#packages tr.package")}  # fmt: skip
    assert levels == {"bash": "unknown", "libssl3": "unknown", "left-pad": "not-observed", "requests": "loaded"}
    assert browser.get_screenshot_as_file(str(tmp_path / "profiled.png"))

    browser.get(base + "/affected?q=not%20an%20id")
    assert "want an advisory id" in browser.find_element(By.ID, "error").text
    for shot in ("overview", "affected", "image"):
        assert (tmp_path / f"{shot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_reports_are_self_contained_and_render(
    browser: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    from chainwarden.cli import main

    assert isinstance(browser, WebDriver)
    image = make_image(tmp_path / "img", requests="2.31.0", extra={"/srv/web/node_modules/x/package.json": "{"})
    db = make_db(tmp_path)
    monkeypatch.setenv("CHAINWARDEN_CACHE_DIR", str(tmp_path / "cache"))
    scan_html, sbom_html = tmp_path / "scan.html", tmp_path / "sbom.html"
    assert main(["scan", f"oci:{image}", "--db", str(db), "--format", "html", "-o", str(scan_html)]) == 0
    assert main(["sbom", f"oci:{image}", "--format", "html", "-o", str(sbom_html)]) == 0
    for report in (scan_html, sbom_html):
        text = report.read_text()
        assert "<script" not in text and not re.findall(r'(?:src|href)="', text)  # nothing to fetch, nothing to run

    browser.get(scan_html.as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "#findings tr.finding")
    assert rows and rows[0].get_attribute("data-rule") == "known-malicious-package"
    assert {r.get_attribute("data-severity") for r in rows} == {"critical", "high", "medium"}
    assert browser.find_elements(By.CSS_SELECTOR, "#chart svg g.bar")
    assert browser.get_screenshot_as_file(str(tmp_path / "scan-report.png"))
    browser.get(sbom_html.as_uri())
    names = [r.find_elements(By.TAG_NAME, "td")[1].text for r in browser.find_elements(By.CSS_SELECTOR, "tr.package")]
    assert names == ["bash", "libssl3", "left-pad", "requests"]
    assert browser.get_screenshot_as_file(str(tmp_path / "sbom-report.png"))
