"""The positioned Dockerfile parser: real BuildKit syntax, never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chainwarden.lint.dockerfile_parser import parse_dockerfile, substitute


def test_directives_escape_and_continuations_with_comments() -> None:
    text = (
        "# syntax=docker/dockerfile:1.7\n"
        "# escape=`\n"
        "\n"
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
        "RUN echo one `\n"
        "    # a comment line inside the continuation is dropped\n"
        "\n"
        "    two\n"
    )
    dockerfile = parse_dockerfile(text)
    assert dockerfile.directives == {"syntax": "docker/dockerfile:1.7", "escape": "`"}
    assert dockerfile.escape == "`"
    run = dockerfile.instructions[1]
    assert run.keyword == "RUN"
    assert run.arguments == "echo one     two"
    assert (run.line, run.end_line) == (5, 8)
    offset = run.arguments.index("two")
    assert (run.position(offset).line, run.position(offset).column) == (8, 5)


def test_directive_after_an_instruction_is_a_comment() -> None:
    dockerfile = parse_dockerfile("FROM scratch\n# escape=`\nRUN a \\\n b\n")
    assert dockerfile.escape == "\\"
    assert dockerfile.instructions[1].arguments == "a  b"


def test_multiple_heredocs_and_dash_form() -> None:
    text = "FROM alpine\nCOPY <<A.txt <<-'B.txt' /dst/\nalpha $HOME\nA.txt\n\tbeta\n\tB.txt\nRUN echo after\n"
    dockerfile = parse_dockerfile(text)
    copy = dockerfile.instructions[1]
    assert [h.name for h in copy.heredocs] == ["A.txt", "B.txt"]
    assert copy.heredocs[0].body == "alpha $HOME\n"
    assert not copy.heredocs[0].quoted
    assert copy.heredocs[1].body == "beta\n"
    assert copy.heredocs[1].quoted and copy.heredocs[1].strip_tabs
    assert copy.heredocs[1].origin[0].line == 5
    assert dockerfile.instructions[2].arguments == "echo after"
    assert dockerfile.instructions[2].line == 7


def test_heredoc_marker_inside_quotes_is_not_a_heredoc() -> None:
    dockerfile = parse_dockerfile("FROM a\nRUN echo '<<EOF' > f\nRUN true\n")
    assert dockerfile.instructions[1].heredocs == ()
    assert len(dockerfile.instructions) == 3


def test_flags_exec_form_and_stages() -> None:
    text = (
        "ARG BASE=python\nARG TAG=${PYVER:-3.12}-slim\n"
        "FROM --platform=$BUILDPLATFORM ${BASE}:${TAG} AS Build\n"
        "COPY --from=build --chown=1:1 /a /b\n"
        'CMD ["python", "-m", "app"]\n'
        "FROM build\n"
    )
    dockerfile = parse_dockerfile(text)
    assert dockerfile.global_args == {"BASE": "python", "TAG": "3.12-slim"}
    first, second = dockerfile.stages
    assert first.name == "build"
    assert first.platform == "$BUILDPLATFORM"
    assert first.resolved_image == "python:3.12-slim"
    assert first.from_instruction.position(0).column == 32
    copy = first.instructions[0]
    assert copy.flag("from") is not None and copy.flag("from").value == "build"  # type: ignore[union-attr]
    assert copy.arguments == "/a /b"
    assert first.instructions[1].exec_form == ("python", "-m", "app")
    assert second.image == "build"


def test_substitute_forms() -> None:
    variables: dict[str, str | None] = {"SET": "v", "EMPTY": "", "UNSET_VALUE": None}
    assert substitute("${SET:-d}", variables) == "v"
    assert substitute("${EMPTY:-d}", variables) == "d"
    assert substitute("${EMPTY-d}", variables) == ""
    assert substitute("${MISSING:-d}", variables) == "d"
    assert substitute("${SET:+alt}", variables) == "alt"
    assert substitute("${EMPTY:+alt}", variables) == ""
    assert substitute("$SET/x", variables) == "v/x"
    assert substitute("${UNSET_VALUE}", variables) is None
    assert substitute("$MISSING", variables) is None


def test_bom_crlf_and_lowercase_keywords() -> None:
    dockerfile = parse_dockerfile("\ufefffrom alpine:3\r\nrun apk add curl\r\n")
    assert [i.keyword for i in dockerfile.instructions] == ["FROM", "RUN"]
    assert dockerfile.stages[0].image == "alpine:3"


def test_unterminated_heredoc_and_trailing_escape() -> None:
    dockerfile = parse_dockerfile("FROM a\nRUN <<EOF\necho never closed\nRUN still \\")
    assert dockerfile.instructions[1].heredocs[0].body.startswith("echo never closed")


def test_huge_continuation_is_linear() -> None:
    text = "FROM a\nRUN true" + " \\\n && true" * 20_000 + "\n"
    dockerfile = parse_dockerfile(text)
    assert dockerfile.instructions[1].end_line == 20_002


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("FROMRUNCOPY \\\n\t#<>-'\"`$:={}[]EOFab")), max_size=300))
def test_parser_never_raises(text: str) -> None:
    parse_dockerfile(text)
