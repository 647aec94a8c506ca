"""debootstrap and chroot build steps (root only), with mounts always cleaned up."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: The host's CA bundle, shown to pip/npm inside the chroot: networks that
#: intercept TLS (a corporate proxy) have their CA there and not in the image.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CHROOT_CA_PATH = "/run/build-image-host-ca.crt"
PASSED_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


class ChrootError(RuntimeError):
    """A debootstrap or chroot step failed."""


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise ChrootError(f"{what} needs root (debootstrap, chroot and mounts)")


def _sources_files() -> list[Path]:
    apt = Path("/etc/apt")
    files = [apt / "sources.list"] if (apt / "sources.list").is_file() else []
    if (apt / "sources.list.d").is_dir():
        files += sorted(p for p in (apt / "sources.list.d").iterdir() if p.suffix in (".list", ".sources"))
    return files


def apt_mirrors() -> tuple[str, str]:
    """(main archive, security archive) URIs the host's apt uses for Debian."""
    main = security = ""
    for path in _sources_files():
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
                suites = re.search(r"^Suites:\s*(.+)$", stanza, re.MULTILINE)
                if uris and suites and "bookworm" in suites.group(1):
                    if "security" in suites.group(1):
                        security = security or uris.group(1)
                    else:
                        main = main or uris.group(1)
        else:
            for line in text.splitlines():
                match = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line.strip())
                if match and match.group(2).startswith("bookworm"):
                    if "security" in match.group(2):
                        security = security or match.group(1)
                    else:
                        main = main or match.group(1)
    main = main.rstrip("/") or DEFAULT_MIRROR
    return main, security.rstrip("/") or main.replace("/debian", "/debian-security")


def ensure_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        subprocess.run(["apt-get", "-q", "update"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "debootstrap"], check=True)


def debootstrap(root: Path, suite: str = "bookworm") -> None:
    """``debootstrap --variant=minbase`` from the host's mirror."""
    ensure_debootstrap()
    mirror, _ = apt_mirrors()
    root.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["debootstrap", "--variant=minbase", suite, str(root), mirror], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        log = root / "debootstrap/debootstrap.log"
        tail = log.read_text(errors="replace")[-1500:] if log.is_file() else result.stderr[-1500:]
        raise ChrootError(f"debootstrap {suite} {mirror} failed (exit {result.returncode}):\n{tail}")


def _mount(args: list[str]) -> None:
    subprocess.run(["mount", *args], check=True)


def _umount(target: Path) -> None:
    if subprocess.run(["umount", str(target)], check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(target)], check=False)


@contextmanager
def mounted(root: Path) -> Iterator[None]:
    """/proc, /dev and the host's resolv.conf inside ``root``, undone on exit.

    The resolv.conf swap is undone too, so no host detail leaks into a layer.
    """
    require_root("a chroot build step")
    done: list[Path] = []
    resolv = root / "etc/resolv.conf"
    saved = root / "etc/.resolv.conf.build-image"
    had_resolv = resolv.exists() or resolv.is_symlink()
    try:
        for name in ("proc", "dev"):
            (root / name).mkdir(exist_ok=True)
        _mount(["-t", "proc", "proc", str(root / "proc")])
        done.append(root / "proc")
        _mount(["--bind", "/dev", str(root / "dev")])
        done.append(root / "dev")
        if had_resolv:
            resolv.rename(saved)
        shutil.copyfile("/etc/resolv.conf", resolv)
        if HOST_CA_BUNDLE.is_file():
            (root / "run").mkdir(exist_ok=True)
            shutil.copyfile(HOST_CA_BUNDLE, root / CHROOT_CA_PATH.lstrip("/"))
        yield
    finally:
        with suppress(FileNotFoundError):
            (root / CHROOT_CA_PATH.lstrip("/")).unlink()
        with suppress(FileNotFoundError):
            resolv.unlink()
        if had_resolv and (saved.exists() or saved.is_symlink()):
            saved.rename(resolv)
        for target in reversed(done):
            _umount(target)


def run_in_chroot(root: Path, script: str, *, log: Path | None = None) -> None:
    """Run a shell script inside ``root`` with a clean environment (mounts must be up)."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    env.update({key: os.environ[key] for key in PASSED_ENV if key in os.environ})
    if (root / CHROOT_CA_PATH.lstrip("/")).is_file():
        env.update(
            {
                "PIP_CERT": CHROOT_CA_PATH,
                "SSL_CERT_FILE": CHROOT_CA_PATH,
                "NODE_EXTRA_CA_CERTS": CHROOT_CA_PATH,
                "npm_config_cafile": CHROOT_CA_PATH,
            }
        )
    result = subprocess.run(
        ["chroot", str(root), "/bin/sh", "-euxc", script], env=env, capture_output=True, text=True, check=False
    )
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as handle:
            handle.write(f"$ {script}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        raise ChrootError(
            f"chroot step failed (exit {result.returncode}): {script.strip()[:200]}\n{result.stderr[-2000:]}"
        )


def extract_layer(layer: Path, root: Path) -> None:
    """Unpack one of our own layer tars (no whiteouts) into an empty ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-xpf", str(layer), "-C", str(root), "--numeric-owner"], check=True)
