"""Real Go binaries for tests, built offline by Debian's Go toolchain.

The program imports a vendored module the test writes (``vendor/``, ``-mod=vendor``)
and, optionally, a module served by a ``file://`` GOPROXY the test also writes, so
that the build info carries a real ``h1:`` sum. Nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

VENDORED = "github.com/gogo/protobuf"
VENDORED_VERSION = "v1.3.1"


def require_go() -> str:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed (tasks/install-system-tools.sh installs golang-go)")
    return go


def go_env(work: Path, cache: Path | None = None) -> dict[str, str]:
    """An offline Go environment; ``cache`` (a build cache shared by a test session) spares rebuilding std."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(
        GOPATH=str(work / "gopath"),
        GOCACHE=str(cache or work / "gocache"),
        GOMODCACHE=str(work / "gopath" / "pkg" / "mod"),
        GOPROXY="off",
        GOFLAGS="-mod=vendor",
        GONOSUMDB="*",
        GONOSUMCHECK="1",
        GOSUMDB="off",
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
        HOME=str(work),
    )
    return env


def build_go_binary(work: Path, *, name: str = "app", padding_bytes: int = 0, cache: Path | None = None) -> Path:
    """A static Go binary importing the vendored ``github.com/gogo/protobuf`` v1.3.1 (stdlib otherwise).

    ``padding_bytes`` embeds that many bytes of data (for the 50 MB benchmark).
    """
    go = require_go()
    src = work / "src"
    package_dir = src / "vendor" / VENDORED / "proto"
    package_dir.mkdir(parents=True, exist_ok=True)
    (package_dir / "proto.go").write_text(
        "package proto\n\n// Marshal stands in for the real package: only its module identity matters.\n"
        'func Marshal(s string) []byte { return []byte("proto:" + s) }\n'
    )
    (src / "vendor" / "modules.txt").write_text(f"# {VENDORED} {VENDORED_VERSION}\n## explicit\n{VENDORED}/proto\n")
    (src / "go.mod").write_text(
        f"module example.com/chainwarden/{name}\n\ngo 1.19\n\nrequire {VENDORED} {VENDORED_VERSION}\n"
    )
    padding = ""
    if padding_bytes:
        # an initialised array the program indexes at run time: the linker keeps all of it in .data
        (src / "padding.go").write_text(
            f"package main\n\nvar padding = [{padding_bytes}]byte{{1, 2, 3, {padding_bytes - 1}: 4}}\n"
        )
        padding = "\n\tprintln(padding[len(os.Args)*7919%len(padding)])"
    imports = '\t"crypto/sha256"\n\t"fmt"\n' + ('\t"os"\n' if padding_bytes else "")
    (src / "main.go").write_text(
        "package main\n\n"
        f'import (\n{imports}\n\t"github.com/gogo/protobuf/proto"\n)\n\n'
        f'func main() {{\n\tfmt.Printf("%x\\n", sha256.Sum256(proto.Marshal("x"))){padding}\n}}\n'
    )
    out = work / name
    subprocess.run(
        [go, "build", "-o", str(out), "."], cwd=src, env=go_env(work, cache), check=True, capture_output=True
    )
    return out


PROXIED = "example.com/chainwarden/lib"
PROXIED_VERSION = "v1.2.0"
REPLACED = "example.com/chainwarden/old"


def write_module_proxy(proxy: Path, path: str, version: str, files: dict[str, str]) -> None:
    """One module version in the GOPROXY protocol's file layout (list, .info, .mod, .zip)."""
    base = proxy / path / "@v"
    base.mkdir(parents=True, exist_ok=True)
    (base / "list").write_text(f"{version}\n")
    (base / f"{version}.info").write_text(f'{{"Version":"{version}","Time":"2023-01-01T00:00:00Z"}}')
    (base / f"{version}.mod").write_text(files["go.mod"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{path}@{version}/{name}", text)
    (base / f"{version}.zip").write_bytes(buffer.getvalue())


def build_go_binary_with_sums(work: Path, *, name: str = "summed", cache: Path | None = None) -> Path:
    """A Go binary whose dependency came through a ``file://`` GOPROXY: its build info has an ``h1:`` sum,
    and a ``replace`` directive pointing one module path at another (``=>`` line)."""
    go = require_go()
    proxy = work / "proxy"
    write_module_proxy(
        proxy,
        PROXIED,
        PROXIED_VERSION,
        {"go.mod": f"module {PROXIED}\n\ngo 1.19\n", "lib.go": 'package lib\n\nfunc Name() string { return "lib" }\n'},
    )
    src = work / "src-summed"
    src.mkdir(parents=True, exist_ok=True)
    (src / "go.mod").write_text(
        f"module example.com/chainwarden/{name}\n\ngo 1.19\n\nrequire {REPLACED} v0.1.0\n\n"
        f"replace {REPLACED} => {PROXIED} {PROXIED_VERSION}\n"
    )
    (src / "main.go").write_text(f'package main\n\nimport lib "{REPLACED}"\n\nfunc main() {{ println(lib.Name()) }}\n')
    env = go_env(work, cache)
    env.update(GOPROXY=proxy.as_uri(), GOFLAGS="-mod=mod")
    subprocess.run([go, "mod", "tidy"], cwd=src, env=env, check=True, capture_output=True)
    out = work / name
    subprocess.run([go, "build", "-o", str(out), "."], cwd=src, env=env, check=True, capture_output=True)
    return out


def shared_cache(factory: pytest.TempPathFactory) -> Path:
    """One Go build cache per test session (the standard library is compiled once)."""
    return factory.getbasetemp() / "gocache"
