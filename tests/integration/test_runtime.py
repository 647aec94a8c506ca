"""profile → harden → run the hardened image; drift and watch; with real bwrap and strace."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from chainwarden.api import open_target
from chainwarden.cli import main
from chainwarden.sources.image import ImageSource
from support.images import Content, Symlink, dpkg_status_entry, make_oci, make_rootfs

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    missing = [pkg for tool, pkg in (("bwrap", "bubblewrap"), ("strace", "strace")) if shutil.which(tool) is None]
    if missing and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", *missing], check=False, capture_output=True)
    if not Path("/bin/busybox").is_file():
        subprocess.run(["apt-get", "install", "-y", "busybox-static"], check=False, capture_output=True)
    for tool in ("bwrap", "strace", "nsenter"):
        assert shutil.which(tool), f"{tool} is required for the runtime tests"


def _tree() -> dict[str, Content]:
    busybox = Path("/bin/busybox").read_bytes()
    status = "\n".join(
        [
            dpkg_status_entry("busybox-static", "1:1.35.0-4"),
            dpkg_status_entry("motd-data", "2.0"),
            dpkg_status_entry("unused-tool", "1.0"),
            dpkg_status_entry("tzdata", "2024a"),
        ]
    )
    tree: dict[str, Content] = {
        # merged /usr: dpkg lists /bin/busybox, the trace sees /usr/bin/busybox
        "/bin": Symlink("usr/bin"),
        "/usr/bin/busybox": busybox,
        "/usr/bin/sh": Symlink("busybox"),
        "/usr/bin/cat": Symlink("busybox"),
        "/usr/bin/httpd": Symlink("busybox"),
        "/usr/bin/unused-tool": "#!/bin/sh\necho unused\n",
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
        "/etc/group": "root:x:0:\n",
        "/etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
        "/etc/motd": "hello from motd\n",
        "/usr/share/zoneinfo/UTC": "TZif2",
        "/www/health": "ok\n",
        "/var/lib/dpkg/status": status,
        "/var/lib/dpkg/info/busybox-static.list": "/.\n/bin\n/bin/busybox\n/bin/sh\n/bin/cat\n/bin/httpd\n",
        "/var/lib/dpkg/info/busybox-static.md5sums": "0  bin/busybox\n",
        "/var/lib/dpkg/info/motd-data.list": "/.\n/etc\n/etc/motd\n",
        "/var/lib/dpkg/info/unused-tool.list": "/.\n/usr/bin/unused-tool\n",
        "/var/lib/dpkg/info/unused-tool.md5sums": "0  usr/bin/unused-tool\n",
        "/var/lib/dpkg/info/tzdata.list": "/.\n/usr/share/zoneinfo/UTC\n",
    }
    return tree


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("image")
    config: dict[str, object] = {"Cmd": ["httpd", "-f", "-p", "8080", "-h", "/www"], "Env": ["PATH=/usr/bin:/bin"]}
    return make_oci(root / "oci", [_tree()], config=config, history=["COPY busybox rootfs /"])


def test_profile_harden_and_run_the_hardened_image(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_path = tmp_path / "profile.json"
    code = main(
        [
            "profile",
            f"oci:{image}",
            "--probe",
            "cat /etc/motd",
            "--http",
            "GET:/health",
            "--port",
            "8080",
            "--timeout",
            "8",
            "-o",
            str(profile_path),
        ]
    )
    table = capsys.readouterr().out
    assert code == 0, table
    assert "deb" in table and "used packages:" in table
    profile = json.loads(profile_path.read_text())
    statuses = {p["name"]: p["status"] for p in profile["packages"]}
    assert statuses == {
        "busybox-static": "executed",
        "motd-data": "read",
        "tzdata": "unused",
        "unused-tool": "unused",
    }
    probe, server = profile["probes"]
    assert probe["exit_code"] == 0 and probe["stdout"] == "hello from motd\n"
    assert server["http"][0]["status"] == 200
    assert any(e["operation"] == "bind" and e["port"] == 8080 for e in profile["network"])
    assert "/usr/bin/busybox" in {f["path"] for f in profile["files"]}

    out = tmp_path / "hard"
    code = main(["harden", f"oci:{image}", "--profile", str(profile_path), "-o", f"oci:{out}", "-f", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["removed_packages"] == ["pkg:deb/debian/unused-tool@1.0?arch=amd64&distro=debian-12"]
    assert "tzdata" in next(iter(report["kept_by_rule"]))  # timezone data: a path rule, not a name list
    assert report["verified_probes"] == ["probe-1", "probe-2"]
    assert report["before"]["packages"] == {"deb": 4} and report["after"]["packages"] == {"deb": 3}
    assert Path(report["sbom"]).is_file()
    assert report["cleanup"]["broken_links"] == 0
    # the original history stays, one entry is added for the hardening
    with open_target(f"oci:{out}") as hardened_source:
        assert isinstance(hardened_source, ImageSource)
        history = [h["created_by"] for h in hardened_source.image_config()["history"]]
    assert history[0] == "COPY busybox rootfs /"
    assert history[1].startswith("chainwarden harden --granularity package") and len(history) == 2

    # the hardened image is runnable and its package database tells the truth
    again = tmp_path / "again.json"
    assert main(["profile", f"oci:{out}", "--probe", "cat /etc/motd", "-o", str(again), "-f", "json"]) == 0
    capsys.readouterr()
    hardened = json.loads(again.read_text())
    assert {p["name"] for p in hardened["packages"]} == {"busybox-static", "motd-data", "tzdata"}
    assert "/usr/bin/unused-tool" not in hardened["image_files"]
    assert not any(p.endswith("unused-tool.list") for p in hardened["image_files"])


def test_harden_verification_names_the_probe_and_missing_file(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_path = tmp_path / "profile.json"
    assert main(["profile", f"oci:{image}", "--probe", "cat /etc/motd", "-o", str(profile_path)]) == 0
    code = main(
        ["harden", f"oci:{image}", "--profile", str(profile_path), "-o", f"oci:{tmp_path / 'h'}", "--drop", "/etc/motd"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "probe-1" in err and "first missing file: /etc/motd" in err


def test_harden_verification_names_a_program_that_cannot_start(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_path = tmp_path / "profile.json"
    assert main(["profile", f"oci:{image}", "--probe", "cat /etc/motd", "-o", str(profile_path)]) == 0
    capsys.readouterr()
    code = main(
        [
            "harden",
            f"oci:{image}",
            "--profile",
            str(profile_path),
            "-o",
            f"oci:{tmp_path / 'h'}",
            "--drop",
            "/usr/bin/busybox",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "probe-1 (/usr/bin/cat /etc/motd) does not run" in err
    assert err.rstrip().endswith("first missing file: /usr/bin/cat")


def test_file_granularity_keeps_only_accessed_files(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_path = tmp_path / "profile.json"
    assert main(["profile", f"oci:{image}", "--probe", "cat /etc/motd", "-o", str(profile_path)]) == 0
    capsys.readouterr()
    out = tmp_path / "slim.tar"
    code = main(
        [
            "harden",
            f"oci:{image}",
            "--profile",
            str(profile_path),
            "-o",
            f"docker-archive:{out}",
            "--granularity",
            "file",
            "-f",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["after"]["files"] < report["before"]["files"]
    assert "pkg:deb/debian/unused-tool@1.0?arch=amd64&distro=debian-12" in report["removed_packages"]


def test_drift_and_watch_catch_a_dropped_binary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rootfs = make_rootfs(tmp_path / "rootfs", _tree())
    (rootfs / "usr/bin/busybox").chmod(0o755)
    baseline = tmp_path / "baseline.json"
    assert main(["profile", f"dir:{rootfs}", "--probe", "cat /etc/motd", "-o", str(baseline)]) == 0
    capsys.readouterr()

    assert main(["drift", "--baseline", str(baseline), f"dir:{rootfs}"]) == 0
    capsys.readouterr()

    # the attacker drops a binary into the running container and runs it
    dropped = rootfs / "usr/local/bin/miner"
    dropped.parent.mkdir(parents=True)
    shutil.copy("/bin/busybox", dropped)
    code = main(["drift", "--baseline", str(baseline), f"dir:{rootfs}", "--probe", "/usr/local/bin/miner"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[1].split()[:3] == ["CRITICAL", "program-not-in-image", "/usr/local/bin/miner"]
    assert out[2].split()[:3] == ["HIGH", "added-executable", "/usr/local/bin/miner"]

    sarif_path = tmp_path / "drift.sarif"
    args = ["drift", "--baseline", str(baseline), f"dir:{rootfs}", "--probe", "/usr/local/bin/miner"]
    assert main([*args, "-f", "sarif", "-o", str(sarif_path)]) == 1
    results = json.loads(sarif_path.read_text())["runs"][0]["results"]
    assert results[0]["ruleId"] == "drift-program-not-in-image"
    assert results[0]["level"] == "error"

    code = main(
        ["watch", f"dir:{rootfs}", "--baseline", str(baseline), "--probe", "/usr/local/bin/miner", "--json-lines"]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert lines[0]["kind"] == "program-not-in-image"

    # -f/-o as for every other command: JSON lines appended to the file as they happen
    log = tmp_path / "deviations.jsonl"
    watch_args = ["watch", f"dir:{rootfs}", "--baseline", str(baseline), "--probe", "/usr/local/bin/miner"]
    assert main([*watch_args, "-f", "json", "-o", str(log)]) == 1
    assert capsys.readouterr().out == ""
    assert json.loads(log.read_text().splitlines()[0])["kind"] == "program-not-in-image"

    assert main(["watch", f"dir:{rootfs}", "--baseline", str(baseline)]) == 0


def test_profile_errors_are_one_line(image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", f"oci:{image}", "--probe", "no-such-program"]) == 2
    assert capsys.readouterr().err.strip() == "chainwarden: error: no-such-program: not found in the image's PATH"
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "chainwarden-profile/1"}')
    assert main(["harden", f"oci:{image}", "--profile", str(bad), "-o", f"oci:{tmp_path / 'x'}"]) == 2
    assert "invalid profile" in capsys.readouterr().err
    assert main(["profile", f"oci:{image}", "--engine", "podman"]) == 2 or shutil.which("podman")
    assert "podman is not installed" in capsys.readouterr().err or shutil.which("podman")


def test_timeout_kills_the_sandbox(image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["profile", f"oci:{image}", "--probe", "sh -c 'while :; do :; done'", "--timeout", "1"])
    assert code == 0
    assert "timeout" in capsys.readouterr().out
