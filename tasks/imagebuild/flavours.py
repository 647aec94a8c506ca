"""The image recipes: ``demo`` (fast, from .deb files), ``bench`` and ``app`` (debootstrap + chroot)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tasks.imagebuild import chroot, debs, npm, wheels
from tasks.imagebuild.layerdiff import LayerRecorder, LayerStats, source_date_epoch

from chainwarden.sources.oci_writer import ImageSpec, write_oci_layout

Log = Callable[[str], None]

# -- demo ----------------------------------------------------------------------

#: A closed dependency set: bash and python3.11-minimal with everything they need.
DEMO_DEBS = [
    "base-files",
    "gcc-12-base",
    "libgcc-s1",
    "libc6",
    "libtinfo6",
    "debianutils",
    "bash",
    "zlib1g",
    "libssl3",
    "openssl",
    "ca-certificates",
    "libexpat1",
    "libpython3.11-minimal",
    "python3.11-minimal",
]
#: Old releases with published advisories (requests CVE-2018-18074, urllib3
#: CVE-2019-11324, jinja2 CVE-2019-10906 …), plus six, deleted again in the last layer.
DEMO_WHEELS = [
    "requests==2.19.0",
    "urllib3==1.24.1",
    "idna==2.7",
    "chardet==3.0.4",
    "certifi==2018.4.16",
    "jinja2==2.10",
    "markupsafe==2.1.5",
    "pyyaml==6.0.1",
    "six==1.11.0",
]
DEMO_REMOVED_WHEEL = "six"
#: lodash 4.17.4 (prototype pollution), minimist 1.2.0 (CVE-2021-44906), debug 2.6.8 (ReDoS), a scoped package.
DEMO_NPM = ["lodash@4.17.4", "minimist@1.2.0", "debug@2.6.8", "node-fetch@2.6.0", "@tootallnate/once@1.1.2"]
DEMO_NPM_CLOSURE = [*DEMO_NPM, "ms@2.0.0"]

# -- bench / app -----------------------------------------------------------------

BENCH_PIP = [
    "flask==3.0.3",
    "requests==2.32.3",
    "sqlalchemy==2.0.36",
    "pydantic==2.9.2",
    "jinja2==3.1.4",
    "click==8.1.7",
    "urllib3==2.2.3",
    "certifi==2024.8.30",
    "idna==3.10",
    "charset-normalizer==3.4.0",
    "itsdangerous==2.2.0",
    "markupsafe==3.0.2",
    "werkzeug==3.1.3",
    "pyyaml==6.0.2",
    "python-dateutil==2.9.0.post0",
    "six==1.16.0",
    "attrs==24.2.0",
    "packaging==24.2",
    "gunicorn==23.0.0",
    "numpy==2.1.3",
]
BENCH_NPM = [
    "express@4.21.1",
    "lodash@4.17.21",
    "axios@1.7.7",
    "chalk@4.1.2",
    "commander@12.1.0",
    "debug@4.3.7",
    "moment@2.30.1",
    "uuid@10.0.0",
    "dotenv@16.4.5",
    "body-parser@1.20.3",
    "cors@2.8.5",
    "jsonwebtoken@9.0.2",
    "yargs@17.7.2",
    "semver@7.6.3",
    "minimist@1.2.8",
    "ws@8.18.0",
    "winston@3.15.0",
    "dayjs@1.11.13",
    "@babel/parser@7.26.2",
    "@types/node@22.9.0",
]
APP_PIP = [
    "jinja2==3.1.4",
    "markupsafe==3.0.2",
    "requests==2.32.3",
    "urllib3==2.2.3",
    "certifi==2024.8.30",
    "idna==3.10",
    "charset-normalizer==3.4.0",
    "pyyaml==6.0.2",
    "click==8.1.7",
    "six==1.16.0",
    "python-dateutil==2.9.0.post0",
    "attrs==24.2.0",
    "packaging==24.2",
    "itsdangerous==2.2.0",
    "werkzeug==3.1.3",
]
APP_NPM = ["lodash@4.17.21", "chalk@4.1.2", "uuid@10.0.0", "ms@2.1.3"]

APP_SERVER = '''\
"""A tiny web app: GET /health and GET /render?name=… (jinja2 + markupsafe only)."""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jinja2
from markupsafe import escape

TEMPLATE = jinja2.Environment(autoescape=True).from_string("<h1>Hello {{ name }}</h1><p>{{ note }}</p>")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            self._send(200, "text/plain", "ok\\n")
        elif url.path == "/render":
            name = parse_qs(url.query).get("name", ["world"])[0]
            self._send(200, "text/html", TEMPLATE.render(name=name, note=escape("<rendered>")))
        else:
            self._send(404, "text/plain", "not found\\n")

    def _send(self, status, content_type, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
'''
APP_HELLO_JS = """\
const _ = require("lodash");
console.log(_.join(["hello", "from", "node"], " "));
"""
BENCH_SERVER_JS = """\
const express = require("express");
const app = express();
app.get("/health", (_req, res) => res.send("ok"));
app.listen(3000);
"""


@dataclass(slots=True)
class BuiltLayer:
    name: str
    created_by: str
    seconds: float
    stats: LayerStats


@dataclass(slots=True)
class BuildResult:
    flavour: str
    out: Path
    manifest_digest: str
    seconds: float
    reused: bool
    layers: list[BuiltLayer] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "flavour": self.flavour,
            "out": str(self.out),
            "manifest_digest": self.manifest_digest,
            "seconds": round(self.seconds, 1),
            "reused": self.reused,
            "layers": [
                {"name": layer.name, "created_by": layer.created_by, "seconds": round(layer.seconds, 1)}
                | asdict(layer.stats)
                for layer in self.layers
            ],
        }


MARKER = "build-image.json"


def _recipe_key(flavour: str) -> str:
    recipe = {
        "demo": [DEMO_DEBS, DEMO_WHEELS, DEMO_NPM],
        "bench": [BENCH_PIP, BENCH_NPM, BENCH_SERVER_JS],
        "app": [APP_PIP, APP_NPM, APP_SERVER, APP_HELLO_JS],
    }[flavour]
    return hashlib.sha256(json.dumps([flavour, recipe, source_date_epoch()]).encode()).hexdigest()[:16]


def reusable(out: Path, flavour: str) -> dict[str, Any] | None:
    """The marker of a finished build of this recipe at ``out``, if there is one."""
    marker = out / MARKER
    if not (marker.is_file() and (out / "index.json").is_file()):
        return None
    data: dict[str, Any] = json.loads(marker.read_text())
    return data if data.get("recipe") == _recipe_key(flavour) else None


def _created() -> str:
    return datetime.fromtimestamp(source_date_epoch(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Steps:
    """Runs build steps against one rootfs, committing one layer tar per step."""

    def __init__(self, root: Path, layer_dir: Path, log: Log, *, owner: tuple[int, int] | None) -> None:
        self.root = root
        self.layer_dir = layer_dir
        self.log = log
        self.recorder = LayerRecorder(root, owner=owner)
        self.layers: list[BuiltLayer] = []
        self.tars: list[Path] = []

    def layer(self, name: str, created_by: str, action: Callable[[], None]) -> None:
        self.log(f"layer {len(self.layers) + 1} ({name}): {created_by[:100]}")
        start = time.monotonic()
        action()
        tar = self.layer_dir / f"{len(self.layers) + 1:02d}-{name}.tar"
        stats = self.recorder.commit(tar)
        self.layers.append(BuiltLayer(name, created_by, time.monotonic() - start, stats))
        self.tars.append(tar)
        self.log(f"  {stats.entries} entries, {stats.whiteouts} whiteouts, {stats.file_bytes / 1e6:.1f} MB")

    def write(self, out: Path, flavour: str, config: dict[str, Any], tag: str, started: float) -> BuildResult:
        if out.exists():
            shutil.rmtree(out)
        spec = ImageSpec(
            layers=list(self.tars),
            config=config,
            history=[layer.created_by for layer in self.layers],
            created=_created(),
        )
        self.log(f"writing OCI layout {out} (gzip)")
        digest = write_oci_layout(out, spec, tag=tag, compression="gzip")
        result = BuildResult(flavour, out, digest, time.monotonic() - started, False, self.layers)
        (out / MARKER).write_text(json.dumps({"recipe": _recipe_key(flavour), **result.summary()}, indent=2) + "\n")
        return result


# -- demo ----------------------------------------------------------------------------


def _skeleton(root: Path) -> None:
    for name, mode in (("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("tmp", 0o1777), ("root", 0o700)):
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name).chmod(mode)
    for name in ("etc", "run", "var/tmp", "home", "usr/local/bin"):
        (root / name).mkdir(parents=True, exist_ok=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")


def _ca_bundle(root: Path) -> None:
    # what update-ca-certificates (ca-certificates' postinst) would produce
    certs = sorted((root / "usr/share/ca-certificates").rglob("*.crt"))
    bundle = root / "etc/ssl/certs/ca-certificates.crt"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(b"".join(cert.read_bytes() for cert in certs))


def build_demo(out: Path, cache: Path, log: Log) -> BuildResult:
    """A small image from real .deb files, PyPI wheels and npm packages; a whiteout in the last layer."""
    started = time.monotonic()
    deb_files = debs.fetch_debs(DEMO_DEBS, cache / "debs")
    wheel_files = wheels.fetch_wheels(DEMO_WHEELS, cache / "wheels")
    with tempfile.TemporaryDirectory(prefix="build-image-demo-") as tmp:
        work = Path(tmp)
        root = work / "rootfs"
        root.mkdir()
        steps = _Steps(root, work / "layers", log, owner=(0, 0))

        def debian() -> None:
            _skeleton(root)
            debs.prepare_merged_usr(root)
            installed = [debs.install_deb(deb, root, work) for deb in deb_files]
            debs.write_dpkg_status(root, installed)
            _ca_bundle(root)

        def python() -> None:
            for wheel in wheel_files:
                wheels.install_wheel(wheel, root)

        def node() -> None:
            method = npm.npm_install(root / "opt/app", DEMO_NPM, cache / "npm", pinned_closure=DEMO_NPM_CLOSURE)
            log(f"  npm packages installed with {method}")

        def remove() -> None:
            wheels.uninstall(root, DEMO_REMOVED_WHEEL)

        steps.layer("debian", "dpkg-deb -x " + " ".join(DEMO_DEBS), debian)
        steps.layer("python", "pip install --no-deps --prefix /usr/local " + " ".join(DEMO_WHEELS), python)
        steps.layer("node", "npm install --prefix /opt/app --ignore-scripts " + " ".join(DEMO_NPM), node)
        steps.layer("cleanup", f"pip uninstall -y {DEMO_REMOVED_WHEEL}", remove)
        config = {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
            "Cmd": ["/bin/bash"],
            "WorkingDir": "/opt/app",
            "Labels": {"org.opencontainers.image.title": "chainwarden demo"},
        }
        return steps.write(out, "demo", config, "demo", started)


# -- bench / app -------------------------------------------------------------------


def bookworm_base(cache: Path, log: Log) -> tuple[Path, str]:
    """The base layer tar (debootstrap minbase + security updates), built once into ``cache``."""
    base_dir = cache / "bookworm-base"
    layer = base_dir / "layer.tar"
    created_by_file = base_dir / "created_by"
    if layer.is_file() and created_by_file.is_file():
        return layer, created_by_file.read_text()
    chroot.require_root("the bookworm base")
    mirror, security = chroot.apt_mirrors()
    created_by = f"debootstrap --variant=minbase bookworm / {mirror} && apt-get upgrade"
    shutil.rmtree(base_dir, ignore_errors=True)
    root = base_dir / "rootfs"
    log(f"debootstrap --variant=minbase bookworm from {mirror}")
    start = time.monotonic()
    chroot.debootstrap(root)
    sources = f"deb {mirror} bookworm main\ndeb {mirror} bookworm-updates main\ndeb {security} bookworm-security main\n"
    (root / "etc/apt/sources.list").write_text(sources)
    with chroot.mounted(root):
        chroot.run_in_chroot(
            root,
            "apt-get update -q && apt-get upgrade -y -q && apt-get clean && rm -rf /var/lib/apt/lists/*",
            log=base_dir / "build.log",
        )
    recorder = LayerRecorder(root)
    stats = recorder.commit(base_dir / "layer.tar.part")
    (base_dir / "layer.tar.part").replace(layer)
    created_by_file.write_text(created_by)
    shutil.rmtree(root)
    log(f"  base: {stats.entries} entries, {stats.file_bytes / 1e6:.1f} MB in {time.monotonic() - start:.0f} s")
    return layer, created_by


def _chroot_step(root: Path, script: str, log_file: Path) -> Callable[[], None]:
    def run() -> None:
        with chroot.mounted(root):
            chroot.run_in_chroot(root, script, log=log_file)

    return run


APT_CLEAN = "apt-get clean && rm -rf /var/lib/apt/lists/*"
#: What a typical "FROM debian + pip install" app image carries, recommends included
#: (like the official python:3.x images built on buildpack-deps): a compiler
#: toolchain and headers for wheels that build from source, git and curl.
APP_APT = "python3 python3-pip python3-dev build-essential git curl"


def _build_on_bookworm(
    flavour: str,
    out: Path,
    cache: Path,
    log: Log,
    recipe: Callable[[_Steps, Path, Path], tuple[dict[str, Any], str]],
) -> BuildResult:
    started = time.monotonic()
    base, base_created_by = bookworm_base(cache, log)
    work = cache / f"work-{flavour}"
    shutil.rmtree(work, ignore_errors=True)
    root = work / "rootfs"
    try:
        chroot.extract_layer(base, root)
        steps = _Steps(root, work / "layers", log, owner=None)
        # the base layer is reused as is: same bytes, same digest across flavours
        steps.tars.append(base)
        steps.layers.append(BuiltLayer("base", base_created_by, 0.0, LayerStats(0, 0, base.stat().st_size)))
        steps.recorder.mark()
        config, tag = recipe(steps, root, work / "build.log")
        return steps.write(out, flavour, config, tag, started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench_recipe(steps: _Steps, root: Path, log_file: Path) -> tuple[dict[str, Any], str]:
    pip = " ".join(BENCH_PIP)
    steps.layer(
        "python",
        f"apt-get install python3 python3-pip python3-venv && python3 -m venv /opt/venv && pip install {pip}",
        _chroot_step(
            root,
            "apt-get update -q && apt-get install -y -q --no-install-recommends python3 python3-pip python3-venv"
            f" && python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --no-cache-dir {pip} && {APT_CLEAN}",
            log_file,
        ),
    )
    steps.layer(
        "node",
        "apt-get install nodejs npm",
        _chroot_step(
            root,
            f"apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm && {APT_CLEAN}",
            log_file,
        ),
    )
    npm_specs = " ".join(f"'{spec}'" for spec in BENCH_NPM)

    def app() -> None:
        (root / "opt/app").mkdir(parents=True, exist_ok=True)
        (root / "opt/app/server.js").write_text(BENCH_SERVER_JS)
        (root / "opt/app/package.json").write_text(
            json.dumps({"name": "bench-app", "version": "1.0.0", "private": True}, indent=2) + "\n"
        )
        _chroot_step(
            root,
            "cd /opt/app && npm install --omit=dev --no-audit --no-fund --save-exact --cache /tmp/npm-cache"
            f" {npm_specs} && rm -rf /tmp/npm-cache /root/.npm",
            log_file,
        )()

    steps.layer("app", f"npm install {' '.join(BENCH_NPM)}", app)
    config = {
        "Env": ["PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
        "Cmd": ["node", "/opt/app/server.js"],
        "WorkingDir": "/opt/app",
    }
    return config, "bench"


def _app_recipe(steps: _Steps, root: Path, log_file: Path) -> tuple[dict[str, Any], str]:
    pip = " ".join(APP_PIP)
    steps.layer(
        "python",
        f"apt-get install {APP_APT} && pip install --break-system-packages {pip}",
        _chroot_step(
            root,
            f"apt-get update -q && apt-get install -y -q {APP_APT}"
            f" && pip install -q --no-cache-dir --break-system-packages {pip} && {APT_CLEAN}",
            log_file,
        ),
    )

    def node() -> None:
        _chroot_step(
            root, f"apt-get update -q && apt-get install -y -q --no-install-recommends nodejs && {APT_CLEAN}", log_file
        )()
        # Debian's npm would add ~300 packages: the host's npm (or the registry) installs the app's few.
        npm.npm_install(root / "opt/app", APP_NPM, steps.layer_dir.parent / "npm-cache", pinned_closure=APP_NPM)
        shutil.rmtree(steps.layer_dir.parent / "npm-cache", ignore_errors=True)

    steps.layer("node", f"apt-get install nodejs && npm install --prefix /opt/app {' '.join(APP_NPM)}", node)

    def app() -> None:
        (root / "opt/app/server.py").write_text(APP_SERVER)
        (root / "opt/app/hello.js").write_text(APP_HELLO_JS)

    steps.layer("app", "COPY server.py hello.js /opt/app/", app)
    config = {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
        "Cmd": ["python3", "/opt/app/server.py"],
        "ExposedPorts": {"8080/tcp": {}},
        "WorkingDir": "/opt/app",
    }
    return config, "app"


def build(flavour: str, out: Path, cache: Path, log: Log, *, force: bool = False) -> BuildResult:
    """Build ``flavour`` at ``out`` (bench and app are reused when already built)."""
    if flavour != "demo" and not force:
        marker = reusable(out, flavour)
        if marker is not None:
            log(f"{out}: {flavour} image already built ({marker['manifest_digest']}); --force rebuilds")
            return BuildResult(flavour, out, marker["manifest_digest"], 0.0, True)
    if flavour == "demo":
        return build_demo(out, cache, log)
    if flavour == "bench":
        return _build_on_bookworm("bench", out, cache, log, _bench_recipe)
    if flavour == "app":
        return _build_on_bookworm("app", out, cache, log, _app_recipe)
    raise ValueError(f"unknown flavour {flavour!r}")
