"""`--engine podman`: the same probes, the same tracer, the same profile as bwrap.

The test command installs podman and runc (tasks/install-system-tools.sh); podman
here needs `--runtime runc` and explicit ulimits, which the sandbox passes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chainwarden.cli import main
from support.images import Content, Symlink, dpkg_status_entry, make_oci

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("podman") is None or shutil.which("runc") is None or not Path("/bin/busybox").is_file():
        pytest.fail("podman, runc and busybox-static are required (tasks/install-system-tools.sh installs them)")
    tree: dict[str, Content] = {
        "/bin": Symlink("usr/bin"),
        "/usr/bin/busybox": Path("/bin/busybox").read_bytes(),
        "/usr/bin/sh": Symlink("busybox"),
        "/usr/bin/cat": Symlink("busybox"),
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
        "/etc/motd": "hello from motd\n",
        "/var/lib/dpkg/status": dpkg_status_entry("busybox-static", "1:1.35.0-4")
        + "\n"
        + dpkg_status_entry("motd-data", "2.0")
        + "\n"
        + dpkg_status_entry("unused-tool", "1.0"),
        "/var/lib/dpkg/info/busybox-static.list": "/bin/busybox\n/bin/sh\n/bin/cat\n",
        "/var/lib/dpkg/info/motd-data.list": "/etc/motd\n",
        "/var/lib/dpkg/info/unused-tool.list": "/usr/bin/unused-tool\n",
        "/usr/bin/unused-tool": "#!/bin/sh\necho unused\n",
    }
    root = tmp_path_factory.mktemp("podman")
    return make_oci(root / "oci", [tree], config={"Env": ["PATH=/usr/bin:/bin"]})


def _profile(image: Path, out: Path, engine: str) -> dict[str, object]:
    code = main(
        [
            "profile",
            f"oci:{image}",
            "--engine",
            engine,
            "--probe",
            "cat /etc/motd",
            "--timeout",
            "30",
            "-o",
            str(out),
            "-f",
            "json",
        ]
    )
    assert code == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_podman_engine_profiles_like_bwrap(image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    podman = _profile(image, tmp_path / "podman.json", "podman")
    bwrap = _profile(image, tmp_path / "bwrap.json", "bwrap")
    capsys.readouterr()
    for profile in (podman, bwrap):
        probes = profile["probes"]
        assert isinstance(probes, list)
        assert [(p["exit_code"], p["stdout"]) for p in probes] == [(0, "hello from motd\n")]
    statuses = [
        {p["name"]: p["status"] for p in profile["packages"]}  # type: ignore[attr-defined]
        for profile in (podman, bwrap)
    ]
    assert statuses[0] == statuses[1]
    assert statuses[0]["motd-data"] == "read"
    assert statuses[0]["busybox-static"] == "executed"
    assert statuses[0]["unused-tool"] == "unused"
