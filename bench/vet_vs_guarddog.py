"""chainwarden's malicious-code heuristics vs GuardDog on the same files.

    python bench/vet_vs_guarddog.py [--skip-guarddog] [--limit N]

* GuardDog (PyPI ``guarddog``) is installed into ``bench/.venv-guarddog`` when
  missing — never into the project venv; ``GUARDDOG=/path/to/guarddog`` uses one
  installed elsewhere.
* Benign set: popular real packages chosen to stress a detector (install hooks,
  native builds, obfuscators/minifiers, network clients, credential-handling
  SDKs), cached in ``bench/out/benign`` (git-ignored). PyPI wheels come from
  ``pip download --no-deps --only-binary :all:``; sdists through chainwarden's
  registry client, because ``pip download`` of an sdist runs its build backend
  (setup.py) to read metadata — executing the code we are about to judge.
  npm packages come from ``npm pack`` (packs the registry tarball, runs nothing).
* Malicious set: the inert samples in ``bench/samples`` (see INCIDENTS.md),
  packed as sdists (.tar.gz) or npm tarballs (.tgz) into ``bench/out/malicious``.

Both tools scan the same archive files. "Flagged" means chainwarden's worst
finding is high/critical (SARIF ``error``) and GuardDog's risk label is
``high_risk``; GuardDog "any issue" is printed too. Timing: chainwarden runs
in one process over all packages (how ``chainwarden vet a b c`` runs);
GuardDog takes one target per invocation, so it runs once per package.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
SAMPLES = BENCH / "samples"
GUARDDOG_VENV = BENCH / ".venv-guarddog"
GUARDDOG = GUARDDOG_VENV / "bin" / "guarddog"

#: sdists: setup.py work, native builds, bundled bootloaders, packers, pty/ssh/process libraries
PYPI_SDISTS = (
    "psycopg2", "pyyaml", "cffi", "simplejson", "markupsafe", "wrapt", "pyzmq", "regex", "ujson", "setproctitle",
    "psutil", "netifaces", "uwsgi", "python-ldap", "jpype1", "pycurl", "mysqlclient", "dbus-python", "pyinstaller",
    "coverage", "pyarmor", "nuitka", "cython", "pycryptodome", "bcrypt", "lxml", "greenlet", "pexpect", "sh",
    "supervisor",
)  # fmt: skip
#: wheels: network clients, SDKs that read credential files, clipboard/keyboard, telemetry, template engines
PYPI_WHEELS = (
    "requests", "urllib3", "httpx", "aiohttp", "websocket-client", "pysocks", "paramiko", "fabric", "docker",
    "kubernetes", "google-auth", "boto3", "botocore", "selenium", "pyperclip", "pynput", "browser-cookie3", "keyring",
    "python-dotenv", "sentry-sdk", "posthog", "gitpython", "invoke", "jinja2", "mako", "cryptography", "pyjwt",
    "colorama", "tqdm", "virtualenv", "pip", "setuptools", "ninja",
)  # fmt: skip
#: npm: install scripts (native builds, binary downloaders), network clients, obfuscators/minifiers
NPM_PACKAGES = (
    "esbuild", "core-js", "husky", "bcrypt", "sharp", "puppeteer", "electron", "sqlite3", "canvas", "protobufjs",
    "nodemon", "@swc/core", "cypress", "node-gyp", "es5-ext", "msgpackr-extract", "utf-8-validate", "bufferutil",
    "cpu-features", "ssh2", "ws", "axios", "request", "got", "node-fetch", "socket.io-client", "undici", "dotenv",
    "javascript-obfuscator", "terser", "uglify-js", "webpack", "ua-parser-js", "event-stream", "cross-env",
    "clipboardy", "open", "execa", "shelljs", "node-ipc", "lodash", "express",
)  # fmt: skip


#: The packages an earlier independent measurement flagged (issue 10): a detector must stay quiet on them.
PYPI_STRESS = ("future", "gevent", "playwright", "prisma", "pyarmor-runtime", "sentry-cli", "pywin32-ctypes")
NPM_STRESS = (
    "@sentry/cli", "prisma", "@prisma/client", "@prisma/engines", "nx", "playwright", "playwright-core",
    "@sentry/node", "posthog-node", "node-sass", "fsevents", "deasync", "re2", "@parcel/watcher", "turbo",
    "@biomejs/biome", "lefthook", "patch-package", "electron-builder", "node-pre-gyp", "@mapbox/node-pre-gyp",
    "prebuild-install", "puppeteer-core", "chromedriver", "geckodriver", "@datadog/pprof", "dd-trace", "newrelic",
    "applicationinsights", "@opentelemetry/api", "mixpanel", "@segment/analytics-node", "grpc-tools",
    "obfuscator-loader", "webpack-obfuscator", "pkg", "nexe", "yarn", "pnpm", "corepack",
)  # fmt: skip
#: The most downloaded packages of each registry (env package lists: PyPI by download rank, npm by
#: monthly downloads), minus those already above; the first 110 PyPI and 100 npm names.
PYPI_TOP = (
    "packaging", "certifi", "idna", "typing-extensions", "charset-normalizer", "aiobotocore", "python-dateutil",
    "six", "pydantic", "pygments", "click", "numpy", "pluggy", "pycparser", "pydantic-core", "grpcio-status",
    "anyio", "s3transfer", "attrs", "protobuf", "h11", "pytest", "annotated-types", "iniconfig", "fsspec",
    "httpcore", "typing-inspection", "pandas", "s3fs", "platformdirs", "pathspec", "rich", "jmespath",
    "markdown-it-py", "filelock", "importlib-metadata", "yarl", "starlette", "multidict", "jsonschema", "zipp",
    "uvicorn", "propcache", "wheel", "mdurl", "pyasn1", "pytz", "googleapis-common-protos", "frozenlist",
    "litellm", "fastapi", "rpds-py", "annotated-doc", "aiosignal", "referencing", "jsonschema-specifications",
    "trove-classifiers", "tzdata", "google-api-core", "aiohappyeyeballs", "pillow", "pyasn1-modules", "typer",
    "grpcio", "opentelemetry-sdk", "tenacity", "requests-oauthlib", "opentelemetry-api", "pyarrow", "awscli",
    "websockets", "opentelemetry-semantic-conventions", "python-multipart", "scipy", "sniffio",
    "pydantic-settings", "sqlalchemy", "pyparsing", "shellingham", "tomli", "beautifulsoup4", "oauthlib",
    "soupsieve", "cachetools", "textual", "openai", "exceptiongroup", "hatchling", "opentelemetry-proto",
    "more-itertools", "requests-toolbelt", "watchfiles", "rsa", "tomlkit", "proto-plus", "distro", "distlib",
    "jiter", "mcp", "mypy-extensions", "opentelemetry-exporter-otlp-proto-http", "langchain", "openpyxl",
    "et-xmlfile", "pyopenssl", "isodate", "msal", "azure-core", "google-cloud-storage", "werkzeug", "flask",
)  # fmt: skip
NPM_TOP = (
    "semver", "ansi-styles", "debug", "minimatch", "strip-ansi", "chalk", "supports-color", "string-width",
    "ansi-regex", "ms", "lru-cache", "brace-expansion", "tslib", "emoji-regex", "wrap-ansi", "type-fest",
    "commander", "glob", "color-name", "color-convert", "source-map", "@types/node", "has-flag",
    "readable-stream", "picomatch", "ajv", "safe-buffer", "escape-string-regexp", "uuid", "yallist",
    "signal-exit", "react-is", "is-fullwidth-code-point", "which", "p-limit", "json-schema-traverse", "find-up",
    "locate-path", "p-locate", "mime-db", "eslint-visitor-keys", "minipass", "glob-parent", "iconv-lite",
    "string_decoder", "js-yaml", "isarray", "mime-types", "@babel/types", "@babel/code-frame", "globals",
    "path-key", "yargs-parser", "resolve", "get-stream", "argparse", "@babel/parser", "yargs", "pretty-format",
    "ignore", "undici-types", "acorn", "isexe", "cross-spawn", "postcss", "balanced-match", "resolve-from",
    "fs-extra", "camelcase", "cliui", "@jridgewell/trace-mapping", "punycode", "entities", "agent-base",
    "estraverse", "strip-json-comments", "json5", "@babel/traverse", "webidl-conversions", "path-to-regexp",
    "whatwg-url", "https-proxy-agent", "onetime", "@babel/core", "form-data", "tr46", "typescript",
    "eslint-scope", "inherits", "rimraf", "negotiator", "qs", "get-intrinsic", "@babel/runtime", "chokidar",
    "fast-deep-equal", "minimist", "picocolors", "caniuse-lite", "graceful-fs", "react", "react-dom", "vue",
    "next", "eslint", "prettier", "jest", "vite", "rollup", "sass",
)  # fmt: skip


@dataclass
class Result:
    kind: str  # "benign" / "malicious"
    path: Path
    flagged: bool
    any_issue: bool
    seconds: float
    detail: str


def ensure_guarddog() -> None:
    if GUARDDOG.exists():
        return
    if (given := os.environ.get("GUARDDOG")) and Path(given).exists():
        GUARDDOG_VENV.joinpath("bin").mkdir(parents=True, exist_ok=True)
        GUARDDOG.symlink_to(Path(given).resolve())  # a GuardDog installed elsewhere (any venv)
        return
    print("installing guarddog into", GUARDDOG_VENV, file=sys.stderr)
    venv.EnvBuilder(with_pip=True).create(GUARDDOG_VENV)
    subprocess.run([str(GUARDDOG_VENV / "bin" / "pip"), "install", "-q", "guarddog"], check=True)


def _unique(*groups: tuple[str, ...]) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        for name in group:
            seen.setdefault(name, None)
    return list(seen)


def download_benign(limit: int | None) -> list[Path]:
    from chainwarden.analyzers.registry_client import RegistryClient

    files: list[Path] = []
    pypi_dir = OUT / "benign" / "pypi"
    npm_dir = OUT / "benign" / "npm"
    pypi_dir.mkdir(parents=True, exist_ok=True)
    npm_dir.mkdir(parents=True, exist_ok=True)
    sdist_names = list(PYPI_SDISTS[:limit])
    wheel_names = [n for n in _unique(PYPI_WHEELS, PYPI_STRESS, PYPI_TOP)[:limit] if n not in sdist_names]
    with RegistryClient() as client:
        for name in sdist_names:
            found = _cached_sdist(pypi_dir, name) or _download_sdist(client, name, pypi_dir)
            if found:
                files.append(found)
        for name in wheel_names:
            found = _cached_wheel(pypi_dir, name) or _download_wheel(name, pypi_dir)
            # no wheel (sdist-only projects such as future): the sdist, never built
            found = found or _cached_sdist(pypi_dir, name) or _download_sdist(client, name, pypi_dir)
            if found:
                files.append(found)
    for name in _unique(NPM_PACKAGES, NPM_STRESS, NPM_TOP)[:limit]:
        stem = name.lstrip("@").replace("/", "-")
        existing = [p for p in npm_dir.glob(f"{stem}-*.tgz") if p.name[len(stem) + 1 : len(stem) + 2].isdigit()]
        if not existing:
            subprocess.run(
                ["npm", "pack", name, "--silent", "--ignore-scripts", "--pack-destination", str(npm_dir)],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            existing = [p for p in npm_dir.glob(f"{stem}-*.tgz") if p.name[len(stem) + 1 : len(stem) + 2].isdigit()]
        if existing:
            files.append(sorted(existing)[0])
        else:
            print(f"  skip npm:{name}: npm pack failed", file=sys.stderr)
    return files


def _cached_sdist(pypi_dir: Path, name: str) -> Path | None:
    existing = sorted(pypi_dir.glob(f"{name.replace('-', '?')}-*.tar.gz"), key=lambda p: p.name.lower())
    existing = existing or sorted(pypi_dir.glob(f"{name.replace('-', '_')}-*.tar.gz"))
    existing = [p for p in existing if p.name[len(name) + 1 : len(name) + 2].isdigit()]
    return existing[0] if existing else None


def _download_sdist(client: Any, name: str, pypi_dir: Path) -> Path | None:
    from chainwarden.errors import Error

    try:
        project = client.pypi_project(name)
    except Error as exc:
        print(f"  skip pypi:{name}: {exc}", file=sys.stderr)
        return None
    if project is None or project.latest() is None:
        print(f"  skip pypi:{name}: not found", file=sys.stderr)
        return None
    version = next(
        (v for v in sorted(project.versions, key=_version_key, reverse=True) if _has_sdist(project, v)), None
    )
    if version is None:
        print(f"  skip pypi:{name}: no sdist", file=sys.stderr)
        return None
    path: Path = client.download_pypi(name, version, pypi_dir)
    return path


def _cached_wheel(pypi_dir: Path, name: str) -> Path | None:
    pattern = name.replace("-", "_").lower()
    existing = sorted(p for p in pypi_dir.glob("*.whl") if p.name.lower().startswith(pattern + "-"))
    return existing[0] if existing else None


def _download_wheel(name: str, pypi_dir: Path) -> Path | None:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:", "-d", str(pypi_dir),
         name],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return _cached_wheel(pypi_dir, name)


def _version_key(version: str) -> tuple[int, ...]:
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        return (-1,)
    return (0 if parsed.is_prerelease else 1, *parsed.release)


def _has_sdist(project: object, version: str) -> bool:
    files = project.files_for(version)  # type: ignore[attr-defined]
    return any(f.kind == "sdist" and not f.yanked for f in files)


def pack_samples() -> list[Path]:
    target = OUT / "malicious"
    target.mkdir(parents=True, exist_ok=True)
    packed: list[Path] = []
    for sample in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        is_npm = (sample / "package.json").is_file()
        if is_npm:
            manifest = json.loads((sample / "package.json").read_text())
            stem = f"{manifest['name'].lstrip('@').replace('/', '-')}-{manifest['version']}"
            archive, prefix = target / f"{sample.name}__{stem}.tgz", "package"
        else:
            stem = f"{sample.name.split('-', 1)[1].rsplit('-', 1)[0]}-0.0.1"
            archive, prefix = target / f"{sample.name}__{stem}.tar.gz", stem
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in sorted(sample.rglob("*")):
                if path.is_file():
                    info = tar.gettarinfo(str(path), arcname=f"{prefix}/{path.relative_to(sample).as_posix()}")
                    info.mtime = 1_700_000_000
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with path.open("rb") as handle:
                        tar.addfile(info, handle)
            if not is_npm:
                pkg_info = f"Metadata-Version: 2.1\nName: {stem.rsplit('-', 1)[0]}\nVersion: 0.0.1\n".encode()
                info = tarfile.TarInfo(f"{prefix}/PKG-INFO")
                info.size = len(pkg_info)
                info.mtime = 1_700_000_000
                tar.addfile(info, io.BytesIO(pkg_info))
        archive.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
        packed.append(archive)
    return packed


def run_chainwarden(paths: list[tuple[str, Path]]) -> list[Result]:
    from chainwarden.analyzers.heuristics import analyze_artifact
    from chainwarden.analyzers.packages import open_artifact
    from chainwarden.errors import Error
    from chainwarden.models import Severity

    results = []
    for kind, path in paths:
        started = time.perf_counter()
        try:
            report = analyze_artifact(open_artifact(path))
        except Error as exc:
            results.append(Result(kind, path, False, False, time.perf_counter() - started, f"error: {exc}"))
            continue
        elapsed = time.perf_counter() - started
        worst = report.worst
        flagged = worst is not None and worst.at_least(Severity.HIGH)
        top = [f"{f.rule_id}:{f.severity.value}" for f in report.findings if f.severity.at_least(Severity.HIGH)][:3]
        results.append(Result(kind, path, flagged, bool(report.findings), elapsed, ", ".join(top)))
    return results


def run_guarddog(paths: list[tuple[str, Path]]) -> list[Result]:
    results = []
    env = {**os.environ, "GUARDDOG_LOG_LEVEL": "ERROR"}
    for kind, path in paths:
        ecosystem = "npm" if path.name.endswith(".tgz") else "pypi"
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                [str(GUARDDOG), ecosystem, "scan", str(path), "--output-format", "json", "--no-sandbox"],
                capture_output=True,
                text=True,
                timeout=600,
                env=env,
                check=False,
            )
            elapsed = time.perf_counter() - started
            document = json.loads(proc.stdout[proc.stdout.index("{") :]) if "{" in proc.stdout else {}
        except (subprocess.TimeoutExpired, ValueError) as exc:
            results.append(Result(kind, path, False, False, time.perf_counter() - started, f"error: {exc}"))
            continue
        label = (document.get("risk_score") or {}).get("label", "")
        issues = int(document.get("issues") or 0)
        threats = sorted(k for k, v in (document.get("results") or {}).items() if v and k.startswith("threat-"))
        results.append(
            Result(kind, path, label == "high_risk", issues > 0, elapsed, f"{label}; {', '.join(threats[:3])}")
        )
    return results


def summarize(tool: str, results: list[Result]) -> list[str]:
    malicious = [r for r in results if r.kind == "malicious"]
    benign = [r for r in results if r.kind == "benign"]
    tp = sum(r.flagged for r in malicious)
    fp = sum(r.flagged for r in benign)
    fn = len(malicious) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / len(malicious) if malicious else 0.0
    total = sum(r.seconds for r in results)
    any_tp = sum(r.any_issue for r in malicious)
    any_fp = sum(r.any_issue for r in benign)
    return [
        f"{tool:<13}{tp:>4}/{len(malicious):<4}{fp:>4}/{len(benign):<5}{fn:>4}{precision:>11.1%}{recall:>9.1%}"
        f"{fp / max(len(benign), 1):>9.1%}{total / max(len(results), 1):>10.3f}{len(results) / max(total, 1e-9):>9.2f}"
        f"   any-issue: {any_tp}/{len(malicious)} malicious, {any_fp}/{len(benign)} benign"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-guarddog", action="store_true")
    parser.add_argument("--limit", type=int, default=None, help="at most N packages per benign list")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every package's verdict")
    args = parser.parse_args(argv)
    benign = download_benign(args.limit)
    malicious = pack_samples()
    paths = [("malicious", p) for p in malicious] + [("benign", p) for p in benign]
    print(f"{len(malicious)} malicious samples, {len(benign)} benign packages", file=sys.stderr)
    ours = run_chainwarden(paths)
    theirs: list[Result] = []
    if not args.skip_guarddog:
        ensure_guarddog()
        theirs = run_guarddog(paths)
    if args.verbose:
        for index, result in enumerate(ours):
            other = theirs[index] if theirs else None
            mark = "FLAG" if result.flagged else "ok  "
            gd = ("FLAG" if other.flagged else "ok  ") if other else "-"
            print(f"{result.kind[:3]} cw:{mark} gd:{gd} {result.path.name:<60} {result.seconds:6.2f}s {result.detail}")
            if other and args.verbose:
                print(f"{'':>22}{'':<60} {other.seconds:6.2f}s {other.detail}")
    print()
    print("Malicious-code detection (flagged = chainwarden high/critical, GuardDog high_risk)")
    print(f"{'tool':<13}{'TP':>4}{'':<5}{'FP':>4}{'':<6}{'FN':>4}{'precision':>11}{'recall':>9}{'FP rate':>9}"
          f"{'s/pkg':>10}{'pkg/s':>9}")  # fmt: skip
    for line in summarize("chainwarden", ours) + (summarize("guarddog", theirs) if theirs else []):
        print(line)
    missed = [r.path.name.split("__")[0] for r in ours if r.kind == "malicious" and not r.flagged]
    noisy = [r.path.name for r in ours if r.kind == "benign" and r.flagged]
    print("chainwarden missed: " + (", ".join(missed) or "none"))
    print("chainwarden false positives: " + (", ".join(noisy) or "none"))
    if theirs:
        print(
            "guarddog missed: "
            + (
                ", ".join(r.path.name.split("__")[0] for r in theirs if r.kind == "malicious" and not r.flagged)
                or "none"
            )
        )
        print(
            "guarddog false positives: "
            + (", ".join(r.path.name for r in theirs if r.kind == "benign" and r.flagged) or "none")
        )
        ours_tp = sum(r.flagged for r in ours if r.kind == "malicious")
        theirs_tp = sum(r.flagged for r in theirs if r.kind == "malicious")
        speed = (len(ours) / sum(r.seconds for r in ours)) / (len(theirs) / sum(r.seconds for r in theirs))
        print(f"speed: chainwarden {speed:.1f}x GuardDog's packages/second; detections {ours_tp} vs {theirs_tp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
