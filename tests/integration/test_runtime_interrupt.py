"""Ctrl-C and SIGTERM during a sandboxed run leave no process and no temp dir behind.

Each test starts a real ``chainwarden`` process (real bwrap and strace) whose
probe spins forever, waits until the probe runs, interrupts chainwarden, and
then looks at /proc and at chainwarden's TMPDIR.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from support.images import make_oci

pytestmark = pytest.mark.integration

_CLI = "import sys; from chainwarden.cli import main; sys.exit(main())"


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    for tool in ("bwrap", "strace"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is required for the runtime tests")
    if not Path("/bin/busybox").is_file():
        pytest.skip("busybox is required for the runtime tests")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    busybox = Path("/bin/busybox").read_bytes()
    tree: dict[str, object] = {
        "/bin/busybox": busybox,
        "/bin/sh": busybox,
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
        "/etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
    }
    root = tmp_path_factory.mktemp("spin")
    return make_oci(root / "oci", [tree], config={"Cmd": ["/bin/sh", "-c", "true"]})  # type: ignore[list-item]


def _processes_mentioning(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def _spinning_probe(marker: str) -> str:
    # $0 of the shell is the marker: the probe, bwrap and strace all carry it in their argv
    return f"sh -c 'while :; do :; done' {marker}"


def _interrupt(args: list[str], tmp_path: Path, sig: signal.Signals) -> tuple[int, str, Path, str]:
    marker = f"cw-spin-{uuid.uuid4().hex[:12]}"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    argv = [sys.executable, "-c", _CLI, *[a.replace("{probe}", _spinning_probe(marker)) for a in args]]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        # the probe itself runs once a process other than chainwarden carries the marker in "sh -c"
        while not any(" -c while :; do :; done " in p for p in _processes_mentioning(marker)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the probe never started"
            time.sleep(0.1)
        time.sleep(0.5)  # strace is attached and the probe is spinning
        process.send_signal(sig)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    time.sleep(0.2)  # let the kernel reap what was killed
    return process.returncode, err, tmpdir, marker


def _assert_nothing_left(tmpdir: Path, marker: str) -> None:
    assert _processes_mentioning(marker) == []
    assert sorted(p.name for p in tmpdir.iterdir()) == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_interrupted_profile_leaves_no_process_and_no_temp_dir(
    image: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    args = ["profile", f"oci:{image}", "--probe", "{probe}", "--timeout", "120"]
    returncode, err, tmpdir, marker = _interrupt(args, tmp_path, sig)
    assert returncode == code, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] in (
        "chainwarden: interrupted",
        "chainwarden: terminated",
        "chainwarden: hung up",
    )
    _assert_nothing_left(tmpdir, marker)


def test_terminated_podman_profile_leaves_no_container_process_and_no_temp_dir(image: Path, tmp_path: Path) -> None:
    if shutil.which("podman") is None or shutil.which("runc") is None:
        pytest.skip("podman and runc are required for --engine podman")
    args = ["profile", f"oci:{image}", "--engine", "podman", "--probe", "{probe}", "--timeout", "120"]
    returncode, err, tmpdir, marker = _interrupt(args, tmp_path, signal.SIGTERM)
    assert returncode == 143, err
    _assert_nothing_left(tmpdir, marker)


def test_terminated_watch_leaves_no_process_and_no_temp_dir(image: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    done = subprocess.run(
        [sys.executable, "-c", _CLI, "profile", f"oci:{image}", "--probe", "sh -c true", "-o", str(baseline)],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    args = ["watch", f"oci:{image}", "--baseline", str(baseline), "--probe", "{probe}", "--timeout", "120"]
    returncode, err, tmpdir, marker = _interrupt(args, tmp_path, signal.SIGTERM)
    assert returncode == 143, err
    _assert_nothing_left(tmpdir, marker)


def test_interrupted_drift_leaves_no_process_and_no_temp_dir(image: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    done = subprocess.run(
        [sys.executable, "-c", _CLI, "profile", f"oci:{image}", "--probe", "sh -c true", "-o", str(baseline)],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    args = ["drift", "--baseline", str(baseline), f"oci:{image}", "--probe", "{probe}", "--timeout", "120"]
    returncode, err, tmpdir, marker = _interrupt(args, tmp_path, signal.SIGINT)
    assert returncode == 130, err
    _assert_nothing_left(tmpdir, marker)


def test_terminated_harden_verification_leaves_no_process_and_no_temp_dir(image: Path, tmp_path: Path) -> None:
    # a profile whose probe timed out after 1 s; harden re-runs it with a long limit and is stopped meanwhile
    marker = f"cw-spin-{uuid.uuid4().hex[:12]}"
    profile = tmp_path / "profile.json"
    one_second_to = ["--timeout", "1", "-o", str(profile)]
    done = subprocess.run(
        [sys.executable, "-c", _CLI, "profile", f"oci:{image}", "--probe", _spinning_probe(marker), *one_second_to],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(profile.read_text())
    assert data["probes"][0]["timed_out"] is True
    args = ["harden", f"oci:{image}", "--profile", str(profile), "-o", f"oci:{tmp_path / 'out'}", "--timeout", "120"]
    returncode, err, tmpdir = _interrupt_harden(args, tmp_path, marker)
    assert returncode == 143, err
    _assert_nothing_left(tmpdir, marker)


def _interrupt_harden(args: list[str], tmp_path: Path, marker: str) -> tuple[int, str, Path]:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    process = subprocess.Popen(
        [sys.executable, "-c", _CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 90
        while not any(" -c while :; do :; done " in p for p in _processes_mentioning(marker)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the verification probe never started"
            time.sleep(0.1)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    time.sleep(0.2)
    return process.returncode, err, tmpdir
