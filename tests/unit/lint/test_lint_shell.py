"""The shell model used on RUN: pipelines, quoting, nesting, positions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chainwarden.lint.shell import parse_script


def _names(text: str) -> list[list[str]]:
    return [[c.name for c in p.commands] for p in parse_script(text).walk()]


def test_operators_split_pipelines() -> None:
    assert _names("a && b || c; d | e |& f & g\nh") == [["a"], ["b"], ["c"], ["d", "e", "f"], ["g"], ["h"]]


def test_quotes_and_escapes_unquote_words() -> None:
    (pipeline,) = parse_script("""echo 'a b' "c \\"d\\"" e\\ f""").walk()
    assert [w.text for w in pipeline.commands[0].words] == ["echo", "a b", 'c "d"', "e f"]


def test_wrappers_and_assignments_are_skipped_for_the_name() -> None:
    (pipeline,) = parse_script("DEBIAN_FRONTEND=noninteractive sudo -E -u root env A=1 apt-get install x").walk()
    command = pipeline.commands[0]
    assert command.name == "apt-get"
    assert command.args() == ["install", "x"]


def test_nested_command_substitution_process_substitution_and_sh_c() -> None:
    names = _names('bash <(curl -s https://a) && sh -c "wget -O- https://b | sh" && echo "$(curl https://c)" `id`')
    flat = [name for pipeline in names for name in pipeline]
    assert {"curl", "wget", "id"} <= set(flat)
    assert ["wget", "sh"] in names


def test_redirections_are_not_words() -> None:
    (pipeline,) = parse_script("echo deb x > /etc/apt/sources.list.d/a.list 2>&1").walk()
    command = pipeline.commands[0]
    assert [w.text for w in command.words] == ["echo", "deb", "x"]
    assert [(r.operator, r.target.text if r.target else None) for r in command.redirects] == [
        (">", "/etc/apt/sources.list.d/a.list"),
        ("2>&1", None),
    ]


def test_word_offsets_point_into_the_original_text() -> None:
    text = "set -e;  pip  install 'flask>=2'"
    (_, pipeline) = parse_script(text).walk()
    word = pipeline.commands[0].words[2]
    assert word.text == "flask>=2"
    assert text[word.offset] == "f"


def test_comments_and_line_continuations() -> None:
    assert _names("a \\\n b # c && d\ne") == [["a"], ["e"]]


def test_deep_nesting_is_bounded() -> None:
    text = 'sh -c "' * 50 + "true" + '"' * 50
    list(parse_script(text).walk())


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab &|;()<>$`'\"\\\n#{}-c=")), max_size=200))
def test_never_raises(text: str) -> None:
    for pipeline in parse_script(text).walk():
        for command in pipeline.commands:
            command.argv()


def test_case_patterns_are_not_pipes_or_subshell_ends() -> None:
    text = 'case "$arch" in amd64|arm64) a=1 ;; (armhf) b=2 ;; *) echo no; exit 1 ;; esac; tar xf t.tgz'
    assert _names(text) == [["case"], [""], [""], ["echo"], ["exit"], ["esac"], ["tar"]]
    assert all(len(p.commands) == 1 for p in parse_script(text).walk())


def test_case_nested_in_command_substitution() -> None:
    text = "curl -fsSL https://go.dev/dl/go.linux-$(case $(uname -m) in x86_64) echo amd64 ;; esac).tar.gz | tar xz"
    (top,) = parse_script(text).pipelines
    assert [c.name for c in top.commands] == ["curl", "tar"]
    url = top.commands[0].words[2]
    assert url.text.endswith(".tar.gz") and url.substitutions
    assert {"uname", "echo"} <= {c.name for c in parse_script(text).commands()}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["case", "esac", " in ", ")", "(", "|", ";;", ";", "$(", "x", " ", "\n", "'", '"', "`"]),
        max_size=40,
    )
)
def test_never_raises_on_case_soup(parts: list[str]) -> None:
    for pipeline in parse_script("".join(parts)).walk():
        for command in pipeline.commands:
            command.argv()
