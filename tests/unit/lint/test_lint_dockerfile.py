"""Dockerfile rules on tricky, realistic input: positions, nesting, stages, set -e semantics."""

from __future__ import annotations

from pathlib import Path

from chainwarden.models import Severity
from unit.lint.lint_helpers import ids, lint_dockerfile, only

PIN = "@sha256:" + "b" * 64


def test_finding_points_at_the_offending_word_inside_a_continuation(tmp_path: Path) -> None:
    text = (
        f"FROM python{PIN}\n"
        "RUN set -eux; \\\n"
        "    # comment lines inside continuations are allowed\n"
        "    pip install --no-cache-dir \\\n"
        "        flask==3.0.3 \\\n"
        "        requests\n"
        "USER 1000\n"
    )
    (finding,) = only(lint_dockerfile(tmp_path, text), "pip-install-unpinned")
    assert finding.location is not None
    assert (finding.location.path, finding.location.line, finding.location.column) == ("Dockerfile", 6, 9)
    assert finding.evidence == ("requests",)
    assert "requests" in finding.title
    assert finding.remediation and finding.description


def test_unpinned_base_variants(tmp_path: Path) -> None:
    text = (
        "ARG IMG=node\nARG V\n"
        "FROM ${IMG} AS a\n"  # no tag
        "FROM node:latest AS b\n"
        "FROM node:20 AS c\n"
        "FROM registry.local:5000/team/app AS d\n"  # registry port is not a tag
        "FROM node:${V} AS e\n"  # unknown build arg
        f"FROM node:20{PIN} AS f\n"
        "FROM a\nFROM scratch\n"
    )
    titles = [f.title for f in only(lint_dockerfile(tmp_path, text), "dockerfile-unpinned-base")]
    assert len(titles) == 5
    assert "no tag" in titles[0] and "${IMG} → node" in titles[0]
    assert ":latest" in titles[1]
    assert "tag only" in titles[2]
    assert "no tag" in titles[3]
    assert "build argument" in titles[4]


def test_curl_pipe_shell_forms(tmp_path: Path) -> None:
    text = (
        f"FROM debian{PIN}\n"
        "RUN curl -fsSL https://a.example/i.sh | sudo -E bash -\n"
        "RUN bash <(curl -s https://b.example/i.sh)\n"
        'RUN sh -c "$(wget -qO- https://c.example/i.sh)"\n'
        'RUN eval "$(curl -fsSL https://d.example/env)"\n'
        "RUN wget -qO- https://e.example/get.py | python3 - --user\n"
        '["RUN"]\n'
        'RUN ["/bin/bash", "-c", "curl -s https://f.example/x | bash"]\n'
        "RUN curl -fsSLo /tmp/k.asc https://g.example/k.asc\n"
        "USER 1\n"
    )
    lines = [f.location.line for f in only(lint_dockerfile(tmp_path, text), "dockerfile-curl-pipe-shell") if f.location]
    assert lines == [2, 3, 4, 5, 6, 8]


def test_download_then_execute_needs_an_effective_check(tmp_path: Path) -> None:
    digest = "0" * 64
    text = (
        f"FROM debian{PIN}\n"
        "RUN wget https://a.example/tool && chmod +x tool && ./tool\n"  # 2: bad
        f"RUN curl -LO https://b.example/b.deb && echo '{digest}  b.deb' | sha256sum -c && dpkg -i b.deb\n"  # ok
        "RUN curl -fsSLo c.tgz https://c.example/c.tgz; sha256sum c.tgz; tar xzf c.tgz\n"  # 4: printing is no check
        f"RUN set -e; curl -fsSLo d.tgz https://d.example/d.tgz; echo '{digest}  d.tgz' | sha256sum -c -; tar xzf d.tgz\n"
        "RUN curl -fsSL https://e.example/e.tgz | tar -xz -C /opt\n"  # 6: piped into tar
        "RUN curl -fsSLo f.sig https://f.example/f.sig && curl -fsSLo f.tgz https://f.example/f.tgz"
        " && gpg --verify f.sig f.tgz && tar xzf f.tgz\n"  # ok
        "RUN curl -fsSLo g.tgz https://g.example/g.tgz\n"  # downloaded, never used here: not reported
        "USER 1\n"
    )
    lines = [
        f.location.line for f in only(lint_dockerfile(tmp_path, text), "dockerfile-download-unverified") if f.location
    ]
    assert lines == [2, 4, 6]


def test_stage_inheritance_of_user_and_tools(tmp_path: Path) -> None:
    text = (
        f"FROM debian{PIN} AS base\nRUN apt-get install -y gcc=12 make=4\nUSER app\nFROM base AS final\nRUN echo hi\n"
    )
    result = lint_dockerfile(tmp_path, text)
    assert "dockerfile-root-user" not in ids(result)
    (tools,) = only(result, "dockerfile-build-tools-in-final-stage")
    assert "gcc" in tools.title and "make" in tools.title
    assert tools.location is not None and tools.location.line == 2


def test_build_tools_removed_in_the_same_image_are_fine(tmp_path: Path) -> None:
    text = (
        f"FROM debian{PIN}\n"
        "RUN apt-get install -y gcc=12 libffi-dev=3 && pip install cffi==1.16.0"
        " && apt-get purge -y gcc libffi-dev\n"
        "RUN apk add --virtual .deps build-base=0.5 && apk del .deps\n"
        "USER 1\n"
    )
    assert "dockerfile-build-tools-in-final-stage" not in ids(lint_dockerfile(tmp_path, text))


def test_secret_arg_without_value_is_medium_and_values_are_masked(tmp_path: Path) -> None:
    text = f"FROM a{PIN}\nARG NPM_TOKEN\nENV GH_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyz\nUSER 1\n"
    arg, env = only(lint_dockerfile(tmp_path, text), "dockerfile-secret-in-env-or-arg")
    assert arg.severity is Severity.MEDIUM
    assert env.severity is Severity.HIGH
    assert "0123456789abcdef" not in " ".join(env.evidence) + env.title


def test_pip_env_and_flags(tmp_path: Path) -> None:
    text = (
        f"FROM python{PIN}\n"
        "ENV PIP_INDEX_URL=http://mirror.example/simple PIP_EXTRA_INDEX_URL=https://x.example/simple\n"
        "RUN pip install --trusted-host=x.example --index-url=https://pypi.org/simple -r req.txt --require-hashes\n"
        "USER 1\n"
    )
    found = ids(lint_dockerfile(tmp_path, text))
    for rule in ("pip-insecure-index", "pip-index-not-allowed", "pip-extra-index-url", "pip-trusted-host"):
        assert rule in found, rule
    assert "pip-install-without-hashes" not in found


def test_tls_and_signature_flags(tmp_path: Path) -> None:
    text = (
        f"FROM debian{PIN}\n"
        "RUN curl -fsSLk https://a.example/x -o x\n"
        "RUN wget --no-check-certificate https://b.example/y\n"
        "RUN git config --global http.sslVerify false\n"
        "RUN yum install -y --nogpgcheck foo\n"
        "RUN apk add --allow-untrusted foo=1\n"
        "RUN curl -fsSL https://c.example/z -o z\n"
        "USER 1\n"
    )
    result = lint_dockerfile(tmp_path, text)
    tls = [f.location.line for f in only(result, "tls-verification-disabled") if f.location]
    assert tls == [2, 3, 4]
    signatures = [f.location.line for f in only(result, "package-signature-check-disabled") if f.location]
    assert signatures == [5, 6]


def test_apt_sources_written_by_heredoc_and_echo(tmp_path: Path) -> None:
    text = (
        f"FROM debian{PIN}\n"
        "RUN cat <<EOF > /etc/apt/sources.list.d/vendor.list\n"
        "deb [trusted=yes] http://apt.vendor.example stable main\n"
        "EOF\n"
        'RUN echo "deb https://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bp.list\n'
        "USER 1\n"
    )
    result = lint_dockerfile(tmp_path, text)
    (trusted,) = only(result, "apt-trusted-yes")
    assert trusted.location is not None and trusted.location.line == 3
    assert "apt-source-without-signed-by" not in ids(result)  # trusted=yes reported instead
    assert [f.location.line for f in only(result, "apt-third-party-source") if f.location] == [3]


def test_package_managers_lock_rules(tmp_path: Path) -> None:
    text = (
        f"FROM node{PIN}\n"
        "COPY package.json yarn.lock ./\n"
        "RUN yarn --production\n"  # bare yarn == yarn install
        "RUN yarn add lodash@4.17.21 left-pad\n"
        "RUN pnpm i --prod\n"
        "RUN go get example.com/m@master && go install example.com/t@v1.2.3\n"
        "RUN gem install rails:7.1.3 && gem install puma\n"
        "USER 1\n"
    )
    result = lint_dockerfile(tmp_path, text)
    assert [f.location.line for f in only(result, "yarn-install-without-lock") if f.location] == [3]
    (unpinned,) = only(result, "npm-install-unpinned")
    assert "left-pad" in unpinned.title and "lodash" not in unpinned.title
    assert "pnpm-install-without-lock" in ids(result)
    (go,) = only(result, "go-install-latest")
    assert "@master" in go.title
    (gem,) = only(result, "gem-install-unpinned")
    assert "puma" in gem.title and "rails" not in gem.title


def test_pipefail_from_shell_or_set(tmp_path: Path) -> None:
    text = (
        f"FROM debian{PIN} AS a\n"
        'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\n'
        "RUN a | b\n"
        "FROM a\n"  # inherits SHELL
        "RUN c | d\n"
        f"FROM debian{PIN}\n"
        "RUN set -o pipefail && e | f\n"
        "RUN g | h\n"
        "USER 1\n"
    )
    lines = [
        f.location.line for f in only(lint_dockerfile(tmp_path, text), "dockerfile-pipe-without-pipefail") if f.location
    ]
    assert lines == [8]


def test_non_ascii_and_binary_garbage_do_not_crash(tmp_path: Path) -> None:
    result = lint_dockerfile(
        tmp_path,
        "FROM ünïcode:1\nRUN \x00\x01 | \udcff\nUSER 1\n".encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
    )
    assert "dockerfile-unpinned-base" in ids(result)


def test_env_copied_from_a_build_arg_is_reported(tmp_path: Path) -> None:
    text = f"FROM a{PIN}\nARG NPM_TOKEN\nENV NPM_TOKEN=${{NPM_TOKEN}} AUTH_MODE=oauth\nUSER 1\n"
    findings = only(lint_dockerfile(tmp_path, text), "dockerfile-secret-in-env-or-arg")
    assert [(f.location.line if f.location else 0, f.severity) for f in findings] == [
        (2, Severity.MEDIUM),
        (3, Severity.MEDIUM),
    ]
    assert "image config" in findings[1].title


def test_powershell_run_lines_are_read_as_powershell_not_posix_shell(tmp_path: Path) -> None:
    text = (
        "# escape=`\n"
        f"FROM mcr.microsoft.com/windows/servercore{PIN}\n"
        'SHELL ["powershell", "-Command"]\n'
        "RUN iwr https://x.example/i.ps1 -UseBasicParsing | iex ; `\n"
        "    curl.exe -k https://y.example/z -o z\n"
        "USER ContainerUser\n"
    )
    # ``iwr … | iex`` runs a download (PowerShell model); nothing from a POSIX reading of the line
    assert ids(lint_dockerfile(tmp_path, text)) == ["dockerfile-curl-pipe-shell"]


def test_oversized_dockerfile_is_skipped(tmp_path: Path) -> None:
    result = lint_dockerfile(tmp_path, "FROM a\n" + "RUN true\n" * 300_000)
    assert result.findings == ()
    assert [s.what for s in result.skipped] == ["Dockerfile"]


def test_config_files_written_by_run(tmp_path: Path) -> None:
    text = (
        f"FROM node{PIN}\n"
        "RUN echo '//registry.npmjs.org/:_authToken=npm_0123456789abcdefghijklmnopqrstuv' > ~/.npmrc\n"
        'RUN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc && npm ci && rm .npmrc\n'
        "RUN pip config set global.extra-index-url https://pypi.acme.example/simple\n"
        "COPY <<EOF /etc/pip.conf\n"
        "[global]\n"
        "trusted-host = pypi.acme.example\n"
        "EOF\n"
        "RUN cat <<EOF > /etc/pip.conf\n"
        "[global]\n"
        "index-url = http://pypi.acme.example/simple\n"
        "EOF\n"
        "USER 1\n"
    )
    result = lint_dockerfile(tmp_path, text)
    assert [f.location.line for f in only(result, "npmrc-plaintext-token") if f.location] == [2]
    assert [f.location.line for f in only(result, "pip-extra-index-url") if f.location] == [4]
    assert [f.location.line for f in only(result, "pip-insecure-index") if f.location] == [11]
    assert [f.location.line for f in only(result, "pip-trusted-host") if f.location] == [7]


def test_official_images_apt_mark_auto_idiom(tmp_path: Path) -> None:
    text = (
        f"FROM debian{PIN}\n"
        "RUN set -eux; \\\n"
        '    savedAptMark="$(apt-mark showmanual)"; \\\n'
        "    apt-get update; apt-get install -y --no-install-recommends gcc=12 libc6-dev=2 make=4; \\\n"
        "    make install; \\\n"
        "    apt-mark auto '.*' > /dev/null; [ -z \"$savedAptMark\" ] || apt-mark manual $savedAptMark; \\\n"
        "    apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false\n"
        "RUN apt-get install -y g++=12\n"
        "USER 1\n"
    )
    (tools,) = only(lint_dockerfile(tmp_path, text), "dockerfile-build-tools-in-final-stage")
    assert tools.location is not None and tools.location.line == 8
