"""Typosquat detection: is this name an imitation of a popular one?

A *candidate* (a name a user is about to install) is compared with the
*anchors* (the most popular names of its ecosystem). Each match says which
anchor is imitated and by which exact transformation, e.g. ``reqeusts`` →
``requests``: "adjacent letters 'e' and 'u' swapped (positions 4-5)".

False positives are what make such a check useless, so a candidate is never a
squat when it is itself popular, when it shares the anchor's npm scope, when a
caller-supplied ``same_publisher`` says both names have the same maintainers,
or when it is on the allow list. Very short names are only checked for
look-alikes (every three-letter name is one edit from another).
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Final

from packageurl import PackageURL
from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein

from chainwarden.analyzers.popularity import PopularNames, load_popular, normalize
from chainwarden.models import Ecosystem, Finding, Package, RuleId, Severity

RULE_ID: Final = RuleId("typosquat")

#: Anchors: names popular enough that imitating them pays. Beyond this, the
#: download counts are too small for a squatter to bother, and the anchor set
#: would start matching ordinary names.
ANCHOR_COUNT: Final = {Ecosystem.PYPI: 10_000, Ecosystem.NPM: 20_000}
#: Anchors in this top slice make an edit-distance match *high*.
TOP_ANCHORS: Final = 1_000
#: A candidate this popular is an established project, not a squat.
POPULAR_EXEMPT: Final = {Ecosystem.PYPI: 15_000, Ecosystem.NPM: 20_000}
MIN_EDIT_LENGTH: Final = 5
SHORT_NAME: Final = 7
SHORT_ANCHORS: Final = 6_000
#: Separator, word-order and scope games only imitate this top slice.
GAME_ANCHORS: Final = 2_000
#: Lure-word and glued-name combosquats only imitate this top slice.
COMBO_ANCHORS: Final = 300
LONG_NAME: Final = 10
#: Two edits away counts only from this top slice: the names worth a squatter's effort are few, and a random
#: name is two edits from thousands of mid-ranked ones (issue 10: "two edits from a top-50 package is
#: suspicious; from rank 9,000 not").
TWO_EDIT_ANCHORS: Final = 120
#: Below this rank only the edits typists actually make count (swaps, doubled letters, look-alikes).
CASUAL_EDIT_ANCHORS: Final = 1_000
#: Any single-letter change counts from this top slice; further down, only vowel-for-vowel ones.
SUBSTITUTION_ANCHORS: Final = 100
VOWELS: Final = frozenset("aeiouy")
#: Edits a hurried typist makes, which stay suspicious far down the ranking.
TYPING_SLIPS: Final = frozenset({"adjacent-swap", "repeated-character", "look-alike"})

SEPARATORS: Final = "-_."

QWERTY_ROWS: Final = ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm")

#: Multi-letter look-alikes, applied before single characters.
LOOKALIKE_SEQUENCES: Final = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("nn", "m"))
#: Single-character look-alikes folded to one representative.
LOOKALIKE_CHARS: Final = {"1": "l", "i": "l", "|": "l", "0": "o", "5": "s", "3": "e", "$": "s"}
#: Unicode confusables of ASCII letters (Cyrillic, Greek, fullwidth) that NFKD
#: does not fold; from the Unicode confusables list, letters only.
UNICODE_CONFUSABLES: Final = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "к": "k", "м": "m", "т": "t", "в": "b", "н": "h", "ɡ": "g",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "χ": "x", "υ": "u", "ε": "e",
    "ӏ": "l", "ℓ": "l", "ı": "i",
}  # fmt: skip

AFFIXES: Final = ("python3", "python", "py3", "py", "nodejs", "node", "npm", "js")

#: Words squatters glue onto popular names (``requests-dev``, ``lodash-utils``).
COMBO_WORDS: Final = frozenset(
    {
        "api", "auth", "beta", "core", "dev", "fix", "fixed", "free", "latest", "lib", "new", "official",
        "patch", "pro", "sdk", "secure", "setup", "tool", "tools", "update", "updated", "util", "utils", "v2",
        "v3", "2", "3", "plus", "next",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SquatMatch:
    """A candidate that imitates a popular anchor, and how."""

    name: str
    ecosystem: Ecosystem
    target: str
    technique: str  # "adjacent-swap", "omitted-character", "look-alike", ...
    explanation: str
    severity: Severity
    target_popularity: str


def _qwerty_neighbours() -> dict[str, frozenset[str]]:
    positions = {ch: (r, c) for r, row in enumerate(QWERTY_ROWS) for c, ch in enumerate(row)}
    neighbours: dict[str, frozenset[str]] = {}
    for ch, (r, c) in positions.items():
        near = {
            other
            for other, (r2, c2) in positions.items()
            if other != ch and abs(r - r2) <= 1 and abs(c - c2) <= 1 + (1 if r2 != r else 0) and abs(c - c2) <= 1
        }
        neighbours[ch] = frozenset(near)
    return neighbours


_NEIGHBOURS: Final = _qwerty_neighbours()


def skeleton(name: str) -> str:
    """Fold look-alike characters so that ``rn``/``m`` and ``1``/``l`` compare equal."""
    text = "".join(UNICODE_CONFUSABLES.get(ch, ch) for ch in name.lower())
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    for sequence, replacement in LOOKALIKE_SEQUENCES:
        text = text.replace(sequence, replacement)
    return "".join(LOOKALIKE_CHARS.get(ch, ch) for ch in text)


def _squash(name: str) -> str:
    return "".join(ch for ch in name if ch not in SEPARATORS)


def _tokens(name: str) -> tuple[str, ...]:
    for sep in SEPARATORS[1:]:
        name = name.replace(sep, "-")
    return tuple(token for token in name.split("-") if token)


def _strip_affixes(name: str) -> str:
    bare = name
    changed = True
    while changed:
        changed = False
        for affix in AFFIXES:
            for candidate in (bare.removeprefix(affix), bare.removesuffix(affix)):
                stripped = candidate.strip(SEPARATORS)
                if candidate != bare and len(stripped) >= 2:
                    bare = stripped
                    changed = True
                    break
            if changed:
                break
    return bare


def edit_is_suspicious(name: str, target: str, technique: str, distance: int, position: int) -> bool:
    """Whether an edit of ``target`` into ``name`` imitates it, weighed against the target's rank.

    A squatter imitates names worth imitating: the closer to the top, the more edits and the more kinds of
    edit still point at the anchor; far down, only slips a typist makes by accident (swapped neighbours, a
    doubled letter, a look-alike) do, and only on names long enough not to collide by chance.
    """
    shortest = min(len(name), len(target))
    if distance >= 2:
        # squatters keep the first letter, the one a reader checks (selemiumm, tensofklow, matplotlr)
        if name[0] != target[0]:
            return False
        if not (
            (position <= TWO_EDIT_ANCHORS and shortest >= 6) or (position <= CASUAL_EDIT_ANCHORS and shortest >= 7)
        ):
            return False
        # two letters glued to either end make a different word (``dmsqlalchemy``); digits are a version lure
        for extra in (name.removesuffix(target), name.removeprefix(target)):
            if extra != name and len(extra) == 2 and extra.isalpha():
                return False
        return True
    if shortest < SHORT_NAME and position > SHORT_ANCHORS:
        return False  # short names sit one edit away from many others; only the top anchors count
    if technique in TYPING_SLIPS or (technique == "omitted-character" and "doubled" in describe_edit(name, target)[1]):
        return position <= ANCHOR_COUNT_MAX
    if technique == "substituted-character":
        if position <= SUBSTITUTION_ANCHORS:
            return True
        changed = next((a, b) for a, b in zip(name, target, strict=False) if a != b)
        return position <= CASUAL_EDIT_ANCHORS and set(changed) <= VOWELS
    # keyboard-neighbour, omitted or inserted letter, appended digit
    return position <= CASUAL_EDIT_ANCHORS or shortest >= LONG_NAME - 2


ANCHOR_COUNT_MAX: Final = 20_000


def describe_edit(candidate: str, target: str) -> tuple[str, str]:
    """Name and explain the edit(s) turning ``target`` into ``candidate``."""
    if len(candidate) == len(target):
        diffs = [i for i, (a, b) in enumerate(zip(candidate, target, strict=True)) if a != b]
        if len(diffs) == 2 and diffs[1] == diffs[0] + 1:
            i = diffs[0]
            if candidate[i] == target[i + 1] and candidate[i + 1] == target[i]:
                return "adjacent-swap", (
                    f"adjacent characters {target[i]!r} and {target[i + 1]!r} swapped (positions {i + 1}-{i + 2})"
                )
        if len(diffs) == 1:
            i = diffs[0]
            got, want = candidate[i], target[i]
            if skeleton(got) == skeleton(want):
                return "look-alike", f"{want!r} replaced by look-alike {got!r} at position {i + 1}"
            if got in _NEIGHBOURS.get(want, frozenset()):
                return "keyboard-neighbour", f"{want!r} replaced by its QWERTY neighbour {got!r} at position {i + 1}"
            return "substituted-character", f"{want!r} replaced by {got!r} at position {i + 1}"
    if len(candidate) == len(target) - 1:
        for i in range(len(target)):
            if target[:i] + target[i + 1 :] == candidate:
                if (i > 0 and target[i - 1] == target[i]) or (i + 1 < len(target) and target[i + 1] == target[i]):
                    return "omitted-character", f"doubled {target[i]!r} written once (position {i + 1})"
                return "omitted-character", f"{target[i]!r} omitted at position {i + 1}"
    if len(candidate) == len(target) + 1:
        for i in range(len(candidate)):
            if candidate[:i] + candidate[i + 1 :] == target:
                extra = candidate[i]
                if (i > 0 and candidate[i - 1] == extra) or (i + 1 < len(candidate) and candidate[i + 1] == extra):
                    return "repeated-character", f"{extra!r} repeated at position {i + 1}"
                if i == len(candidate) - 1 and extra.isdigit():
                    return "added-character", f"digit {extra!r} appended"
                return "added-character", f"{extra!r} inserted at position {i + 1}"
    ops = Levenshtein.editops(target, candidate)
    parts = []
    for op in ops:
        if op.tag == "replace":
            parts.append(f"{target[op.src_pos]!r}→{candidate[op.dest_pos]!r} at {op.src_pos + 1}")
        elif op.tag == "delete":
            parts.append(f"{target[op.src_pos]!r} omitted at {op.src_pos + 1}")
        else:
            parts.append(f"{candidate[op.dest_pos]!r} inserted at {op.dest_pos + 1}")
    return "edit-distance-2", "two edits: " + ", ".join(parts)


class TyposquatDetector:
    """Compare names with the popular anchors of one ecosystem."""

    def __init__(
        self,
        popular: PopularNames,
        *,
        anchor_count: int | None = None,
        allow: Collection[str] = (),
        same_publisher: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.popular = popular
        self.ecosystem = popular.ecosystem
        count = anchor_count if anchor_count is not None else ANCHOR_COUNT[self.ecosystem]
        self.anchors: tuple[str, ...] = popular.names[:count]
        self._anchor_position = {name: index + 1 for index, name in enumerate(self.anchors)}
        self._exempt = set(popular.names[: POPULAR_EXEMPT[self.ecosystem]])
        self.allow = {normalize(name, self.ecosystem) for name in allow}
        self.same_publisher = same_publisher
        self._by_skeleton: dict[str, str] = {}
        self._by_squash: dict[str, str] = {}
        self._by_order: dict[tuple[str, ...], str] = {}
        self._by_bare: dict[str, str] = {}
        self._scoped: dict[str, str] = {}
        for anchor in self.anchors:  # most popular first: setdefault keeps the best anchor
            self._by_skeleton.setdefault(skeleton(anchor), anchor)
            self._by_squash.setdefault(_squash(anchor), anchor)
            tokens = _tokens(anchor)
            if len(tokens) > 1:
                self._by_order.setdefault(tuple(sorted(tokens)), anchor)
            self._by_bare.setdefault(_strip_affixes(anchor), anchor)
            if anchor.startswith("@") and "/" in anchor:
                scope, bare = anchor[1:].split("/", 1)
                for glued in (f"{scope}-{bare}", f"{scope}{bare}", f"{scope}.{bare}", f"{scope}_{bare}"):
                    self._scoped.setdefault(glued, anchor)
        # four-letter anchors only from the very top (``cffi``): below it every 4-letter name is an edit from another
        self._edit_anchors = [
            a
            for a in self.anchors
            if not a.startswith("@")
            and (len(a) >= MIN_EDIT_LENGTH or (len(a) == MIN_EDIT_LENGTH - 1 and self._position(a) <= TWO_EDIT_ANCHORS))
        ]
        self._scopes: dict[str, str] = {}
        for anchor in self.anchors:
            if anchor.startswith("@") and "/" in anchor:
                self._scopes.setdefault(anchor[1:].split("/", 1)[0], anchor)
        self._stdlib = frozenset(normalize(m, self.ecosystem) for m in sys.stdlib_module_names if not m.startswith("_"))

    # ------------------------------------------------------------------ API

    def check(self, raw_name: str) -> SquatMatch | None:
        """The best match for ``raw_name``, or None when it imitates nothing."""
        name = normalize(raw_name, self.ecosystem)
        if name in self._exempt or name in self.allow:
            return None
        for match in self._matches(raw_name, name):
            if self._excused(name, match.target):
                continue
            return match
        return None

    def findings(self, packages: Iterable[Package]) -> list[Finding]:
        """One ``typosquat`` finding per package of this ecosystem that imitates an anchor."""
        findings: list[Finding] = []
        seen: set[str] = set()
        for package in packages:
            if package.ecosystem is not self.ecosystem or package.name in seen:
                continue
            seen.add(package.name)
            match = self.check(package.name)
            if match is not None:
                findings.append(match_to_finding(match, package))
        return findings

    # ------------------------------------------------------------ internals

    def _excused(self, name: str, target: str) -> bool:
        if name.startswith("@") and target.startswith("@") and name.split("/", 1)[0] == target.split("/", 1)[0]:
            return True  # same npm scope: only the scope owner can publish there
        return self.same_publisher is not None and self.same_publisher(name, target)

    def _match(self, name: str, target: str, technique: str, explanation: str, severity: Severity) -> SquatMatch:
        return SquatMatch(
            name=name,
            ecosystem=self.ecosystem,
            target=target,
            technique=technique,
            explanation=explanation,
            severity=severity,
            target_popularity=self.popular.describe(target),
        )

    def _position(self, target: str) -> int:
        return self._anchor_position.get(target, len(self.anchors) + 1)

    def _combo_anchor(self, word: str) -> str | None:
        """The top package ``word`` names, also without its major version (``beautifulsoup`` → beautifulsoup4)."""
        word = normalize(word, self.ecosystem)
        for candidate in (word, *(f"{word}{digit}" for digit in "2345")):
            if self._position(candidate) <= COMBO_ANCHORS:
                return candidate
        return None

    def _top(self, target: str) -> bool:
        return self._position(target) <= TOP_ANCHORS

    def _matches(self, raw_name: str, name: str) -> Iterable[SquatMatch]:
        folded = skeleton(raw_name)
        if any(ord(ch) > 127 for ch in raw_name):
            target = self._by_skeleton.get(folded)
            if target is not None:
                odd = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in raw_name if ord(ch) > 127)
                yield self._match(name, target, "unicode-confusable", f"non-ASCII look-alike {odd}", Severity.HIGH)
        target = self._by_skeleton.get(folded)
        if target is not None and target != name:
            yield self._match(
                name,
                target,
                "look-alike",
                f"reads like {target!r} once look-alike characters (rn/m, vv/w, 1/l/i, 0/o) are folded",
                Severity.HIGH,
            )
        yield from self._separator_games(name)
        if name.startswith("@") and "/" in name:
            yield from self._scope_typo(name)
            return
        yield from self._edit_distance(name)
        yield from self._affix_and_combo(name)
        stdlib = next((m for m in (name, f"{name}lib") if m in self._stdlib), None)
        if self.ecosystem is Ecosystem.PYPI and stdlib is not None:
            yield self._match(
                name,
                stdlib,
                "stdlib-name",
                f"named like the standard-library module {stdlib!r}, which needs no installation",
                Severity.MEDIUM,
            )

    def _scope_typo(self, name: str) -> Iterable[SquatMatch]:
        scope = name[1:].split("/", 1)[0]
        if scope in self._scopes:
            return
        squashed = _squash(scope)
        if len(squashed) < 6:
            return  # short scopes are a letter away from many unrelated organisations
        cutoff = 2 if len(squashed) >= 12 else 1
        for popular_scope, anchor in self._scopes.items():
            if len(popular_scope) < 6 or self._position(anchor) > GAME_ANCHORS:
                continue
            if OSA.distance(squashed, _squash(popular_scope), score_cutoff=cutoff) <= cutoff:
                yield self._match(
                    name,
                    anchor,
                    "scope-typo",
                    f"scope '@{scope}' imitates the popular scope '@{popular_scope}'",
                    Severity.HIGH if self._top(anchor) else Severity.MEDIUM,
                )
                return

    def _separator_games(self, name: str) -> Iterable[SquatMatch]:
        squashed = self._by_squash.get(_squash(name))
        if squashed is not None and squashed != name and self._position(squashed) <= GAME_ANCHORS:
            yield self._match(
                name, squashed, "separator", f"same letters as {squashed!r} with separators changed", Severity.MEDIUM
            )
        target = self._scoped.get(name)
        if target is not None and self._position(target) <= GAME_ANCHORS:
            yield self._match(
                name,
                target,
                "scope-confusion",
                f"unscoped imitation of scoped {target!r}: anyone may publish {name!r}, only the scope owner {target}",
                Severity.HIGH if self._top(target) else Severity.MEDIUM,
            )
        tokens = _tokens(name)
        if len(tokens) > 1:
            target = self._by_order.get(tuple(sorted(tokens)))
            if target is not None and target != name and self._position(target) <= TOP_ANCHORS:
                yield self._match(
                    name, target, "word-order", f"the words of {target!r} in another order", Severity.MEDIUM
                )

    def _edit_distance(self, name: str) -> Iterable[SquatMatch]:
        if len(name) < MIN_EDIT_LENGTH - 1:
            return
        hits = process.extract(name, self._edit_anchors, scorer=OSA.distance, score_cutoff=2, limit=None)
        ranked = sorted(hits, key=lambda hit: (hit[1], self._position(hit[0])))  # closest, then most popular
        for target, distance, _ in ranked:
            if target == name:
                continue
            position = self._position(target)
            technique, explanation = describe_edit(name, target)
            if not edit_is_suspicious(name, target, technique, distance, position):
                continue
            severity = Severity.HIGH if distance == 1 and position <= TOP_ANCHORS else Severity.MEDIUM
            yield self._match(name, target, technique, explanation, severity)

    def _affix_and_combo(self, name: str) -> Iterable[SquatMatch]:
        bare = _strip_affixes(name)
        if bare != name:
            target = self._by_bare.get(bare)
            if target is not None and target != name and (len(bare) >= 4 or name.endswith(".js")):
                yield self._match(
                    name,
                    target,
                    "affix",
                    f"{target!r} with a language affix (py/python/js/node) added or changed",
                    Severity.MEDIUM,
                )
        tokens = _tokens(name)
        if len(tokens) < 2:
            return
        for split in range(1, len(tokens)):
            head, tail = "-".join(tokens[:split]), "-".join(tokens[split:])
            for core, extra in ((head, tail), (tail, head)):
                core_name = normalize(core, self.ecosystem)
                if self._position(core_name) > COMBO_ANCHORS or len(core_name) < 4:
                    continue
                if extra in COMBO_WORDS:
                    yield self._match(
                        name,
                        core_name,
                        "combosquat",
                        f"popular {core_name!r} with the lure word {extra!r} attached",
                        Severity.MEDIUM,
                    )
                elif len(tokens) == 2 and (other := self._combo_anchor(extra)) is not None:
                    yield self._match(
                        name,
                        core_name,
                        "combosquat",
                        f"two popular names glued together ({core!r} + {extra!r}"
                        + (f", i.e. {other!r})" if other != normalize(extra, self.ecosystem) else ")"),
                        Severity.MEDIUM,
                    )


def match_to_finding(match: SquatMatch, package: Package | None = None) -> Finding:
    """A ``typosquat`` finding that names the anchor and the transformation."""
    if package is None:
        package = bare_package(match.ecosystem, match.name)
    return Finding(
        rule_id=RULE_ID,
        severity=match.severity,
        title=f"{match.name!r} looks like a typosquat of {match.target!r}",
        package=package,
        evidence=(
            f"technique: {match.technique}",
            f"transformation: {match.explanation}",
            f"imitates: {match.target} ({match.target_popularity})",
        ),
        remediation=(
            f"Check that you meant {match.name!r}. If you meant {match.target!r}, fix the name; "
            f"if {match.name!r} is right, allow it in chainwarden.toml [typosquat] allow."
        ),
        description=(
            f"{match.name!r} differs from the popular {match.ecosystem.value} package {match.target!r} by "
            f"{match.explanation}. Attackers publish such names so that a typo installs their code."
        ),
        tags=frozenset({f"technique:{match.technique}"}),
    )


def bare_package(ecosystem: Ecosystem, name: str, version: str = "") -> Package:
    """A package known only by name (``vet pypi:reqeusts``)."""
    namespace, _, short = (
        name.rpartition("/") if ecosystem is Ecosystem.NPM and name.startswith("@") else ("", "", name)
    )
    purl = PackageURL(type=ecosystem.value, namespace=namespace or None, name=short, version=version or None)
    return Package(
        ecosystem=ecosystem,
        name=name,
        version=version,
        purl=purl.to_string(),
        found_by="command-line",
        pinned=bool(version),
    )


def detector_for(ecosystem: Ecosystem, allow: Collection[str] = ()) -> TyposquatDetector:
    """A detector over the (refreshed or bundled) popularity data (built once per process)."""
    return _cached_detector(ecosystem, tuple(sorted(allow)))


@cache
def _cached_detector(ecosystem: Ecosystem, allow: tuple[str, ...]) -> TyposquatDetector:
    return TyposquatDetector(load_popular(ecosystem), allow=allow)
