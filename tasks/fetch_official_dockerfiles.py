"""Fetch the corpora of real Dockerfiles used by the lint precision test.

    .venv/bin/python tasks/fetch_official_dockerfiles.py            # from GitHub (raw URLs)
    .venv/bin/python tasks/fetch_official_dockerfiles.py --mirror DIR  # from local git mirrors

One Dockerfile per current variant of each official image (docker-library and the
upstream image repositories), at a pinned commit, with each repository's LICENSE,
into ``tests/data/lint/official/``; application Dockerfiles of popular projects into
``tests/data/lint/apps/`` (``--corpus`` picks one). ``--mirror DIR`` reads ``DIR/<owner>+<name>/repo``
(bare git directories) instead of the network; ``--commit-from-mirror`` takes the
mirror's HEAD instead of the pinned commit (to refresh the corpus) and rewrites
``sources.json``. This is the only code that downloads the corpus; the tests read
the committed copy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "lint" / "official"
RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"

#: repository → (pinned commit, Dockerfiles: one per current variant of the newest line)
CORPUS: dict[str, tuple[str, tuple[str, ...]]] = {
    "docker-library/python": (
        "4f07059567fa61c80397126e8063dbbde011b794",
        (
            "3.14/alpine3.24/Dockerfile",
            "3.14/bookworm/Dockerfile",
            "3.14/slim-trixie/Dockerfile",
            "3.14/trixie/Dockerfile",
            "3.14/windows/windowsservercore-ltsc2022/Dockerfile",
        ),
    ),
    "nodejs/docker-node": (
        "f27d936f7d7ccdeec25cd2de33584c1a841f561d",
        ("24/alpine3.24/Dockerfile", "24/bookworm/Dockerfile", "24/bookworm-slim/Dockerfile", "24/trixie/Dockerfile"),
    ),
    "docker-library/golang": (
        "7c8c182bfc19ee3169d0596ae63917d2c7166f94",
        (
            "1.27/alpine3.24/Dockerfile",
            "1.27/bookworm/Dockerfile",
            "1.27/trixie/Dockerfile",
            "1.27/windows/windowsservercore-ltsc2022/Dockerfile",
            "1.27/windows/nanoserver-ltsc2022/Dockerfile",
        ),
    ),
    "docker-library/postgres": (
        "6edb0a8c4def40c371514b34aef9037ec82d9110",
        ("18/alpine3.23/Dockerfile", "18/bookworm/Dockerfile", "18/trixie/Dockerfile"),
    ),
    "docker-library/redis": (
        "e92049967d6baa9b4b3d6fd950553e6458e61f13",
        ("7.2/alpine/Dockerfile", "7.2/debian/Dockerfile"),
    ),
    "nginxinc/docker-nginx": (
        "b430becb8f0f6b8d69e68cc73a82ea2873c38639",
        (
            "mainline/alpine/Dockerfile",
            "mainline/alpine-slim/Dockerfile",
            "mainline/alpine-perl/Dockerfile",
            "mainline/alpine-otel/Dockerfile",
            "mainline/debian/Dockerfile",
            "mainline/debian-perl/Dockerfile",
            "mainline/debian-otel/Dockerfile",
            "modules/Dockerfile",
            "modules/Dockerfile.alpine",
        ),
    ),
    "docker-library/php": (
        "445bf414f1d5866f7aef715f1203eae043710070",
        (
            "8.4/alpine3.24/cli/Dockerfile",
            "8.4/alpine3.24/fpm/Dockerfile",
            "8.4/alpine3.24/zts/Dockerfile",
            "8.4/trixie/apache/Dockerfile",
            "8.4/trixie/cli/Dockerfile",
            "8.4/trixie/fpm/Dockerfile",
            "8.4/trixie/zts/Dockerfile",
        ),
    ),
    "docker-library/ruby": (
        "d55e25ae709885250a4e9718c27a09f1e963ca79",
        ("3.4/alpine3.23/Dockerfile", "3.4/bookworm/Dockerfile", "3.4/slim-trixie/Dockerfile", "3.4/trixie/Dockerfile"),
    ),
    "docker-library/httpd": (
        "9b63b37c9be3b42d16b924ebb40af3cc40793119",
        ("2.4/Dockerfile", "2.4/alpine/Dockerfile"),
    ),
    "docker-library/mysql": (
        "7f30fdb0738041fc5125e8218e393e0a891243e9",
        ("innovation/Dockerfile.oracle", "8.4/Dockerfile.oracle"),
    ),
    "MariaDB/mariadb-docker": (
        "1b6429ba3544e134715c15f8c56cc6f665f827c9",
        ("11.8/Dockerfile", "11.8-ubi/Dockerfile"),
    ),
    "docker-library/memcached": (
        "53ac0ecb0bf88b471a0110f8996ce791baf1a667",
        ("1/alpine/Dockerfile", "1/debian/Dockerfile"),
    ),
    "docker-library/haproxy": (
        "ec437dd2a3656610b10a42c08763d8fa1c591efe",
        ("3.2/Dockerfile", "3.2/alpine/Dockerfile"),
    ),
    "docker-library/rabbitmq": (
        "9193c1de6d32046e0c1132841a7a4995b0dc32e0",
        ("4.2/alpine/Dockerfile", "4.2/ubuntu/Dockerfile", "4.2/ubuntu/management/Dockerfile"),
    ),
    "docker-library/wordpress": (
        "bf223d1c2087b0b2c3b86eefa830fe4bbc2bce07",
        (
            "latest/php8.4/apache/Dockerfile",
            "latest/php8.4/fpm/Dockerfile",
            "latest/php8.4/fpm-alpine/Dockerfile",
            "cli/php8.4/alpine/Dockerfile",
        ),
    ),
    "docker-library/docker": (
        "3289af88086d67e6f0bfebfa0617541a0f574d96",
        (
            "29/cli/Dockerfile",
            "29/dind/Dockerfile",
            "29/dind-rootless/Dockerfile",
            "29/windows/windowsservercore-ltsc2022/Dockerfile",
        ),
    ),
    "docker-library/tomcat": (
        "40f27d562f94c0dbfb861587ee8837047b1cd555",
        ("11.0/jdk21/temurin-noble/Dockerfile", "10.1/jre21/temurin-jammy/Dockerfile"),
    ),
}


#: Application Dockerfiles of popular projects: a second corpus, to check real findings are kept.
APPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "jupyter/docker-stacks": (
        "8209386950497966c8a9aa446b9a84a5dd78eab5",
        (
            "images/docker-stacks-foundation/Dockerfile",
            "images/base-notebook/Dockerfile",
            "images/pyspark-notebook/Dockerfile",
            "images/julia-notebook/Dockerfile",
        ),
    ),
    "actions/runner": ("258d6c857db3519913f7deb6004b60172f8043ae", ("images/Dockerfile",)),
    "jenkinsci/docker": (
        "ab3f5e0a80d666b1d554c2b7cad38b5c5ee35f1c",
        (
            "debian/Dockerfile",
            "alpine/hotspot/Dockerfile",
            "rhel/Dockerfile",
            "windows/windowsservercore/hotspot/Dockerfile",
        ),
    ),
    "nextcloud/docker": (
        "4de1eed65a44c61ecce601ef1d27abd2059b52e6",
        ("34/apache/Dockerfile", "34/fpm-alpine/Dockerfile"),
    ),
    "SonarSource/docker-sonarqube": (
        "df5a6ae20bb7ce8e464d6895178e763c77a6a402",
        ("community-build/Dockerfile", "commercial-editions/developer/Dockerfile"),
    ),
    "home-assistant/docker-base": (
        "c8de5ab6449d496036adaa23c6f64354fdaea1d2",
        ("alpine/Dockerfile", "debian/Dockerfile", "ubuntu/Dockerfile", "python/3.13/Dockerfile"),
    ),
    "microsoft/mssql-docker": (
        "d7e572d6c8b761ec855c9337a08e0d88b0a5002a",
        (
            "linux/mssql-server-linux/Dockerfile",
            "linux/mssql-tools/Dockerfile.alpine",
            "linux/mssql-tools/Dockerfile.ubuntu2204",
        ),
    ),
    "Kong/docker-kong": (
        "d1ed165bfeb6304815bc537b3e8ff387fa0b350a",
        ("ubuntu/Dockerfile", "Dockerfile.deb", "Dockerfile.rpm"),
    ),
    "google/osv.dev": (
        "7e6c189879195a8aad33ccbf27fe9344f3479632",
        (
            "docker/ci/Dockerfile",
            "docker/worker-base/Dockerfile",
            "docker/terraform/Dockerfile",
            "gcp/website/Dockerfile",
        ),
    ),
    "sigstore/cosign": ("d6d86c224e5899b54f56cbb063b79dc43abc11c2", ("Dockerfile",)),
    "google/osv-scanner": ("add393a2e051ea46b7d94aa96e468bbdde1e621d", ("Dockerfile",)),
}
#: Each repository's licence file, where it is not ``LICENSE``.
LICENCES = {"jupyter/docker-stacks": "LICENSE.md", "jenkinsci/docker": "LICENSE.txt", "nextcloud/docker": "LICENSE.md"}
CORPORA = {"official": CORPUS, "apps": APPS}


def _from_mirror(mirror: Path, repo: str, commit: str, path: str) -> bytes:
    git_dir = mirror / repo.replace("/", "+") / "repo"
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], capture_output=True, check=True, timeout=60
    ).stdout


def _mirror_head(mirror: Path, repo: str) -> str:
    git_dir = mirror / repo.replace("/", "+") / "repo"
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def _from_github(repo: str, commit: str, path: str) -> bytes:
    url = RAW.format(repo=repo, commit=commit, path=path)
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
    return body


def local_name(repo: str, path: str) -> str:
    """Where a corpus file lives under its corpus folder: ``<repo name>/<path>``."""
    return f"{repo.split('/', 1)[1]}/{path}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--mirror", type=Path, help="read <DIR>/<owner>+<name>/repo git mirrors instead of GitHub")
    parser.add_argument("--commit-from-mirror", action="store_true", help="use each mirror's HEAD commit")
    parser.add_argument("--corpus", choices=sorted(CORPORA), action="append", help="default: all")
    args = parser.parse_args(argv)
    for corpus in args.corpus or sorted(CORPORA):
        out = OUT.parent / corpus
        sources: list[dict[str, str]] = []
        for repo, (pinned, paths) in CORPORA[corpus].items():
            commit = _mirror_head(args.mirror, repo) if args.mirror and args.commit_from_mirror else pinned
            licence = LICENCES.get(repo, "LICENSE")
            for path in (*paths, licence):
                body = (
                    _from_mirror(args.mirror, repo, commit, path) if args.mirror else _from_github(repo, commit, path)
                )
                target = out / local_name(repo, "LICENSE" if path == licence else path)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
                if path != licence:
                    sources.append({"file": local_name(repo, path), "repository": repo, "commit": commit, "path": path})
            print(f"{corpus}: {repo}@{commit[:12]}: {len(paths)} Dockerfiles", file=sys.stderr)
        (out / "sources.json").write_text(json.dumps(sources, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
