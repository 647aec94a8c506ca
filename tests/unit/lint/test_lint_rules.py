"""Every registered rule: its documented failing example fails, its passing example passes.

Parametrised over the whole registry, so a rule added without samples (or with
samples that do not exercise it) fails here. ``RULE_SAMPLES`` adds harder
cases (tricky syntax) on top of the documented examples; it must name only
registered rules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.lint.rules import RULES, rule_infos
from chainwarden.models import Severity
from unit.lint.lint_helpers import ids, lint_tree

D = "Dockerfile"
PIN = "@sha256:" + "a" * 64

#: rule id → (failing files, passing files, config): tricky syntax beyond the documented examples.
RULE_SAMPLES: dict[str, tuple[dict[str, str], dict[str, str], dict[str, object]]] = {
    "dockerfile-unpinned-base": (
        {D: "ARG REG\nFROM ${REG:-docker.io}/library/python:3.12 AS a\nFROM a\n"},
        {D: f"FROM scratch AS s\nFROM --platform=$BUILDPLATFORM python{PIN} AS b\nFROM s\nFROM 0\n"},
        {},
    ),
    "dockerfile-curl-pipe-shell": (
        {D: f"FROM x{PIN}\nRUN set -eux; \\\n  wget -qO- https://x.example/i.sh \\\n  | sudo -E bash -s -- --yes\n"},
        {D: f"FROM x{PIN}\nRUN curl -fsSL https://x.example/k.asc | gpg --dearmor -o /usr/share/keyrings/k.gpg\n"},
        {},
    ),
    "dockerfile-download-unverified": (
        {
            D: f"FROM x{PIN}\nRUN curl -fsSLo t.tgz https://x.example/t.tgz; echo '{'0' * 64}  t.tgz' | sha256sum -c -; "
            "tar xzf t.tgz\n"
        },
        {
            D: f"FROM x{PIN}\nRUN curl -fsSLo t.tgz https://x.example/t.tgz && echo '{'0' * 64}  t.tgz' | sha256sum -c - "
            "&& tar xzf t.tgz\n"
        },
        {},
    ),
    "pip-install-unpinned": (
        {D: f'FROM x{PIN}\nRUN ["python3", "-m", "pip", "install", "--user", "-U", "pip"]\n'},
        {D: f"FROM x{PIN}\nRUN pip install -i https://pypi.org/simple -t /opt ./wheels/app.whl 'six===1.16.0' .\n"},
        {},
    ),
    "npm-install-without-lock": (
        {D: f"FROM node{PIN}\nRUN cd /app && npm i --no-audit\n"},
        {D: f"FROM node{PIN}\nRUN npm install --global pnpm@9.4.0 && npm ci\n"},
        {},
    ),
    "apt-source-without-signed-by": (
        {
            D: f"FROM debian{PIN}\nRUN printf 'deb https://a.example/apt stable main\\n' | tee -a /etc/apt/sources.list\n"
        },
        {D: f"FROM debian{PIN}\nRUN echo 'deb https://a.example/apt stable main' > /tmp/not-apt.list\n"},
        {},
    ),
    "dockerfile-secret-in-env-or-arg": (
        {D: f"FROM x{PIN}\nENV DB_PASSWORD hunter2hunter2\n"},
        {D: f"FROM x{PIN}\nENV DB_PASSWORD_FILE=/run/secrets/db PASSWORD_PATH=/x TOKEN_URL=https://t\n"},
        {},
    ),
    "dockerfile-root-user": (
        {D: f"FROM x{PIN} AS base\nUSER app\nFROM x{PIN}\n"},
        {D: f"FROM x{PIN} AS base\nUSER app\nFROM base\nRUN true\n"},
        {},
    ),
    "requirements-unpinned": (
        {"requirements/prod.txt": "-r base.txt\nDjango==4.*  # wildcard is a range\n"},
        {"requirements/prod.txt": "-r base.txt\nDjango==4.2.13 ; python_version >= '3.8'\n-e ./local\n"},
        {},
    ),
    "npmrc-plaintext-token": (
        {".npmrc": "//npm.acme.example/:_auth=dXNlcjpwYXNzd29yZA==\n"},
        {".npmrc": "//npm.acme.example/:_auth=${NPM_AUTH}\n; _authToken=commented-out-token-value\n"},
        {},
    ),
}


def test_registry_is_not_empty_and_ids_are_kebab_case() -> None:
    assert len(RULES) >= 40
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert rule_id == rule_id.lower() and " " not in rule_id and "_" not in rule_id
        assert rule.rationale.strip() and rule.fix.strip() and rule.title.strip()


def test_every_rule_has_a_failing_and_a_passing_example() -> None:
    for rule in RULES.values():
        assert rule.bad, rule.id
        assert rule.good, rule.id
        assert dict(rule.bad) != dict(rule.good), rule.id


def test_tricky_samples_name_registered_rules() -> None:
    assert set(RULE_SAMPLES) <= set(RULES)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_documented_examples(rule_id: str, tmp_path: Path) -> None:
    rule = RULES[rule_id]
    bad = lint_tree(tmp_path / "bad", dict(rule.bad), dict(rule.config))
    assert rule_id in ids(bad), f"{rule_id}: failing example not reported; got {ids(bad)}"
    assert not bad.skipped
    good = lint_tree(tmp_path / "good", dict(rule.good), dict(rule.config))
    assert rule_id not in ids(good), f"{rule_id}: passing example reported: {good.findings}"


@pytest.mark.parametrize("rule_id", sorted(RULE_SAMPLES))
def test_tricky_samples(rule_id: str, tmp_path: Path) -> None:
    bad_files, good_files, config = RULE_SAMPLES[rule_id]
    bad = lint_tree(tmp_path / "bad", bad_files, config)
    assert rule_id in ids(bad), f"{rule_id}: tricky failing sample not reported; got {ids(bad)}"
    good = lint_tree(tmp_path / "good", good_files, config)
    assert rule_id not in ids(good), [f for f in good.findings if f.rule_id == rule_id]


def test_rule_infos_for_sarif() -> None:
    infos = rule_infos()
    assert set(infos) == set(RULES)
    info = infos["dockerfile-curl-pipe-shell"]
    assert info.name == "DockerfileCurlPipeShell"
    assert "Fix:" in info.help_text
    assert info.default_severity is Severity.HIGH
