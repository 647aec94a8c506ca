"""Download → verify → use as a data flow, and the other precision fixes found on official images.

Each technique has a failing sample (a real weakness, still reported) and benign ones (the
maintainers' idioms that verify what they fetch), written for the technique, not one file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.models import Severity
from unit.lint.lint_helpers import ids, lint_dockerfile, lint_tree, only

PIN = "@sha256:" + "c" * 64
SHA = "0" * 64
FROM = f"FROM debian{PIN}\n"
END = "USER 1000\n"
UNVERIFIED = "dockerfile-download-unverified"

#: Scripts (one or more RUNs) whose download is checked before use: nothing may be reported.
VERIFIED = {
    "string-compared-checksum": (
        "RUN curl -fsSLo x.tar.gz https://a.example/x.tar.gz \\\n"
        ' && if [ "$(openssl sha512 -r x.tar.gz)" = "abc *x.tar.gz" ]; then tar xzf x.tar.gz; else exit 1; fi\n'
    ),
    "cat-piped-hash-compared": (
        "RUN set -e; wget -O /tmp/x.pl https://a.example/x.pl; \\\n"
        ' if [ "$(cat /tmp/x.pl | openssl sha512 -r)" = "$SUM" ]; then chmod +x /tmp/x.pl; mv /tmp/x.pl /usr/bin/;'
        " else exit 1; fi\n"
    ),
    "mismatch-test-exits": (
        "RUN curl -fsSLo t.tgz https://a.example/t.tgz; "
        '[ "$(sha256sum t.tgz | cut -d" " -f1)" != "$SHA" ] && exit 1; tar xzf t.tgz\n'
    ),
    "if-check-else-exit": (
        "RUN curl -fLO https://a.example/k.pub \\\n"
        f' && if echo "{SHA} *k.pub" | sha512sum -c -; then mv k.pub /etc/apk/keys/; else exit 1; fi\n'
    ),
    "negated-if-exits": (
        "RUN curl -fsSLo t.tgz https://a.example/t.tgz; "
        f"if ! echo '{SHA}  t.tgz' | sha256sum -c -; then echo bad >&2; exit 1; fi; tar xzf t.tgz\n"
    ),
    "or-exit": (
        f"RUN curl -fsSLo t.tgz https://a.example/t.tgz; echo '{SHA}  t.tgz' | sha256sum -c - || exit 1; tar xzf t.tgz\n"
    ),
    "or-brace-exit": (
        "RUN curl -fsSLo t.tgz https://a.example/t.tgz; "
        f"echo '{SHA}  t.tgz' | sha256sum -c - || {{ echo bad; exit 1; }}; tar xzf t.tgz\n"
    ),
    "set-e-statement": (
        f"RUN set -eux; wget -O go.tgz https://a.example/go.tgz; echo '{SHA} *go.tgz' | sha256sum -c -; tar -C /usr -xzf go.tgz\n"
    ),
    "shell-with-e": (
        'SHELL ["/bin/bash", "-exo", "pipefail", "-c"]\n'
        f"RUN wget -O go.tgz https://a.example/go.tgz; echo '{SHA} *go.tgz' | sha256sum -c -; tar -xzf go.tgz\n"
    ),
    "checksum-file-from-literal": (
        f"RUN set -e; curl -fsSLo t.tgz https://a.example/t.tgz; echo '{SHA}  t.tgz' > t.sha256; "
        "sha256sum --check t.sha256; tar xzf t.tgz\n"
    ),
    "grep-of-signed-sums": (
        "RUN curl -fsSLO https://a.example/node-v1-linux-x64.tar.xz && curl -fsSLO https://a.example/SHASUMS256.txt \\\n"
        ' && grep " node-v1-linux-x64.tar.xz\\$" SHASUMS256.txt | sha256sum -c - \\\n'
        " && tar -xJf node-v1-linux-x64.tar.xz -C /usr/local\n"
    ),
    "rpm-k-after-pinned-key": (
        "RUN set -eux; curl --fail https://a.example/KEY --output /tmp/k; gpg --batch --import /tmp/k; \\\n"
        " gpg --batch --armor --export FF8AD1344597106ECE813B918A3872BF3228467C > /tmp/k; rpmkeys --import /tmp/k; \\\n"
        " curl --fail https://a.example/x.rpm --output /tmp/x.rpm; rpm -K /tmp/x.rpm; rpm -ivh /tmp/x.rpm\n"
    ),
    "gpg-verify-then-chmod-before": (
        "RUN set -eux; curl -fL -o /usr/local/bin/gosu https://a.example/gosu; "
        "curl -fL -o /usr/local/bin/gosu.asc https://a.example/gosu.asc; \\\n"
        " gpg --batch --keyserver hkps://keys.openpgp.org --recv-keys B42F6819007F00F88E364FD4036A9C25BF357DD4; \\\n"
        " chmod +x /usr/local/bin/gosu; gpg --batch --verify /usr/local/bin/gosu.asc /usr/local/bin/gosu; gosu --version\n"
    ),
    "minisign-next-run": (
        "RUN curl -fsSLo z.tgz https://a.example/z.tgz && curl -fsSLo z.tgz.minisig https://a.example/z.tgz.minisig\n"
        "RUN minisign -Vm z.tgz -P RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3\n"
        "RUN tar xzf z.tgz\n"
    ),
    "cosign-verify-blob": (
        "RUN curl -fsSLo t.tgz https://a.example/t.tgz && curl -fsSLo t.bundle https://a.example/t.bundle"
        " && cosign verify-blob --bundle t.bundle --certificate-identity i@example.com"
        " --certificate-oidc-issuer https://issuer.example t.tgz && tar xzf t.tgz\n"
    ),
    "hash-in-a-variable": (
        "RUN set -e; curl -fsSLo t.tgz https://a.example/t.tgz; "
        'actual="$(sha256sum t.tgz | cut -d" " -f1)"; [ "$actual" = "$SHA" ] || exit 1; tar xzf t.tgz\n'
    ),
    "moved-then-verified": (
        "RUN set -e; curl -fsSLo /tmp/t.tgz https://a.example/t.tgz; mv /tmp/t.tgz /opt/t.tgz; "
        f"echo '{SHA}  /opt/t.tgz' | sha256sum -c -; tar -C /opt -xzf /opt/t.tgz\n"
    ),
}

#: Scripts with a download used before (or without) an effective check: reported.
UNVERIFIED_SCRIPTS = {
    "no-check": "RUN set -eux; wget -O docker.tgz https://a.example/docker.tgz; tar --extract --file docker.tgz\n",
    "check-of-another-file": (
        "RUN set -e; curl -fsSLo a.tgz https://a.example/a.tgz; curl -fsSLo b.tgz https://a.example/b.tgz; "
        f"echo '{SHA}  a.tgz' | sha256sum -c -; tar xzf b.tgz\n"
    ),
    "check-after-use": (
        f"RUN set -e; curl -fsSLo t.tgz https://a.example/t.tgz; tar xzf t.tgz; echo '{SHA}  t.tgz' | sha256sum -c -\n"
    ),
    "check-that-does-not-stop": (
        "RUN curl -fsSLo t.tgz https://a.example/t.tgz; "
        f"if echo '{SHA}  t.tgz' | sha256sum -c -; then echo ok; fi; tar xzf t.tgz\n"
    ),
    "next-run-without-check": "RUN curl -fsSLo t.tgz https://a.example/t.tgz\nRUN tar xzf t.tgz\n",
    "nested-case-in-substitution": (
        "RUN curl -fsSL https://go.dev/dl/go1.22.linux-$(case $(uname -m) in x86_64) echo amd64 ;;"
        " aarch64) echo arm64 ;; esac).tar.gz | tar xz -C /usr/local\n"
    ),
    "chmod-then-no-check": "RUN wget -O /usr/local/bin/tool https://a.example/tool && chmod +x /usr/local/bin/tool\n",
}


@pytest.mark.parametrize("name", sorted(VERIFIED))
def test_verified_downloads_are_not_reported(name: str, tmp_path: Path) -> None:
    result = lint_dockerfile(tmp_path, FROM + VERIFIED[name] + END)
    assert UNVERIFIED not in ids(result), only(result, UNVERIFIED)


@pytest.mark.parametrize("name", sorted(UNVERIFIED_SCRIPTS))
def test_unverified_downloads_are_reported_high(name: str, tmp_path: Path) -> None:
    (finding,) = only(lint_dockerfile(tmp_path, FROM + UNVERIFIED_SCRIPTS[name] + END), UNVERIFIED)
    assert finding.severity is Severity.HIGH


def test_ineffective_check_is_named_in_the_finding(tmp_path: Path) -> None:
    (finding,) = only(
        lint_dockerfile(tmp_path, FROM + UNVERIFIED_SCRIPTS["check-that-does-not-stop"] + END), UNVERIFIED
    )
    assert "does not stop the build" in finding.title


def test_commit_pinned_url_is_medium(tmp_path: Path) -> None:
    text = (
        FROM + "ENV DIND_COMMIT 8d9e3502aba39127e4d12196dae16d306f76993d\n"
        "RUN set -eux; wget -O /usr/local/bin/dind "
        '"https://raw.githubusercontent.com/docker/docker/${DIND_COMMIT}/hack/dind"; chmod +x /usr/local/bin/dind\n'
        "RUN wget -O /usr/local/bin/x https://raw.githubusercontent.com/o/r/main/x; chmod +x /usr/local/bin/x\n" + END
    )
    pinned, branch = only(lint_dockerfile(tmp_path, text), UNVERIFIED)
    assert pinned.severity is Severity.MEDIUM and "git commit" in pinned.title
    assert branch.severity is Severity.HIGH


# -- local artefacts -------------------------------------------------------------------------------
def test_trust_disabled_for_local_repository_is_info_remote_stays_critical(tmp_path: Path) -> None:
    text = (
        FROM + 'RUN tempDir="$(mktemp -d)"; echo "deb [ trusted=yes ] file://$tempDir ./" > '
        "/etc/apt/sources.list.d/temp.list\n"
        "RUN echo 'deb [trusted=yes] https://apt.example.com stable main' > /etc/apt/sources.list.d/v.list\n" + END
    )
    local, remote = only(lint_dockerfile(tmp_path, text), "apt-trusted-yes")
    assert local.severity is Severity.INFO and "local repository" in local.title
    assert remote.severity is Severity.CRITICAL


def test_allow_untrusted_for_packages_built_earlier_is_info(tmp_path: Path) -> None:
    text = (
        f"FROM alpine{PIN} AS builder\nRUN abuild -r\n"
        f"FROM alpine{PIN}\n"
        "RUN --mount=type=bind,target=/tmp/packages/,source=/tmp/packages/,from=builder \\\n"
        "    apk add --no-cache --allow-untrusted /tmp/packages/nginx-module-*.apk\n"
        "RUN apk add --allow-untrusted --repository https://mirror.example/alpine foo=1.0\n"
        "RUN wget -O /tmp/x.apk https://a.example/x.apk && apk add --allow-untrusted /tmp/x.apk\n" + END
    )
    found = only(lint_dockerfile(tmp_path, text), "package-signature-check-disabled")
    assert [f.severity for f in found] == [Severity.INFO, Severity.CRITICAL, Severity.CRITICAL]


# -- medium/low noise --------------------------------------------------------------------------------
def test_yarn_version_is_not_an_install(tmp_path: Path) -> None:
    result = lint_dockerfile(tmp_path, f"FROM node{PIN}\nRUN yarn --version && yarn -v\nRUN yarn\n{END}")
    assert [f.location.line for f in only(result, "yarn-install-without-lock") if f.location] == [3]


def test_signed_by_in_a_shell_variable_is_expanded(tmp_path: Path) -> None:
    text = (
        FROM
        + 'RUN aptRepo="[ signed-by=/usr/local/share/keyrings/pg.asc ] https://apt.example.org/apt bookworm main"; \\\n'
        '    echo "deb $aptRepo" > /etc/apt/sources.list.d/pgdg.list\n'
        'RUN repo="https://apt.example.net/apt bookworm main"; echo "deb $repo" > /etc/apt/sources.list.d/x.list\n'
        + END
    )
    found = only(lint_dockerfile(tmp_path, text), "apt-source-without-signed-by")
    assert [f.location.line for f in found if f.location] == [4]


def test_buildkit_platform_args_in_stage_names(tmp_path: Path) -> None:
    text = (
        f"FROM alpine{PIN} AS base-amd64\nFROM alpine{PIN} AS base-arm64\n"
        "FROM base-${TARGETARCH} AS final\n"
        "FROM golang:1.22-${TARGETOS}\n"
        "ARG TAG\nFROM node:${TAG}\n" + END
    )
    found = only(lint_dockerfile(tmp_path, text), "dockerfile-unpinned-base")
    assert [f.location.line for f in found if f.location] == [4, 6]
    assert "tag only" in found[0].title


def test_pipes_that_cannot_fail_need_no_pipefail(tmp_path: Path) -> None:
    benign = (
        FROM + f"RUN echo '{SHA} *f' | sha256sum -c -\n"
        'RUN case "$(dpkg --print-architecture)" in amd64|arm64) a=1 ;; *) exit 1 ;; esac\n'
        "RUN { echo a; echo b; } | tee /etc/x.conf\n"
        'RUN grep " f$" SUMS | sha256sum -c -\n' + END
    )
    assert "dockerfile-pipe-without-pipefail" not in ids(lint_dockerfile(tmp_path / "a", benign))
    bad = FROM + "RUN apt-mark showmanual | xargs apt-mark auto\n" + END
    assert "dockerfile-pipe-without-pipefail" in ids(lint_dockerfile(tmp_path / "b", bad))


def test_root_with_privilege_drop_is_low_and_says_why(tmp_path: Path) -> None:
    dockerfile = (
        FROM + "RUN apt-get install -y gosu=1.17-1\nCOPY docker-entrypoint.sh /usr/local/bin/\n"
        'ENTRYPOINT ["docker-entrypoint.sh"]\nCMD ["postgres"]\n'
    )
    entry = '#!/bin/sh\nif [ "$(id -u)" = 0 ]; then exec gosu postgres "$0" "$@"; fi\nexec "$@"\n'
    (finding,) = only(
        lint_tree(tmp_path / "a", {"Dockerfile": dockerfile, "docker-entrypoint.sh": entry}), "dockerfile-root-user"
    )
    assert finding.severity is Severity.LOW and "docker-entrypoint.sh drops privileges with gosu" in finding.title
    # the script is there and does not drop: stays medium
    (plain,) = only(
        lint_tree(tmp_path / "b", {"Dockerfile": dockerfile, "docker-entrypoint.sh": '#!/bin/sh\nexec "$@"\n'}),
        "dockerfile-root-user",
    )
    assert plain.severity is Severity.MEDIUM
    # no script beside the Dockerfile: the installed tool and the ENTRYPOINT are the evidence
    (inferred,) = only(lint_tree(tmp_path / "c", {"Dockerfile": dockerfile}), "dockerfile-root-user")
    assert inferred.severity is Severity.LOW and "installs gosu" in inferred.title
    (none,) = only(lint_dockerfile(tmp_path / "d", FROM + 'CMD ["x"]\n'), "dockerfile-root-user")
    assert none.severity is Severity.MEDIUM


# -- PowerShell --------------------------------------------------------------------------------------
PS = f"FROM mcr.microsoft.com/windows/servercore{PIN}\n" + (
    'SHELL ["powershell", "-Command", "$ErrorActionPreference = \'Stop\';"]\n'
)


def test_powershell_download_verified_by_get_filehash(tmp_path: Path) -> None:
    text = PS + (
        "RUN Invoke-WebRequest -Uri $url -OutFile 'go.zip'; \\\n"
        "    if ((Get-FileHash go.zip -Algorithm sha256).Hash -ne $sha256) { Write-Host 'FAILED!'; exit 1; }; \\\n"
        "    Expand-Archive go.zip -DestinationPath C:\\\\; \\\n"
        "    Invoke-WebRequest -Uri https://a.example/p.exe -OutFile $plugin; \\\n"
        "    if ((Get-FileHash $plugin).Hash -eq $env:P_SHA) { & $plugin /S } else { throw 'bad' }\n" + END
    )
    assert UNVERIFIED not in ids(lint_dockerfile(tmp_path, text))


def test_powershell_unverified_msi_and_zip(tmp_path: Path) -> None:
    text = PS + (
        "RUN Invoke-WebRequest -Uri https://a.example/x.msi -OutFile x.msi; \\\n"
        "    Start-Process msiexec -Wait -ArgumentList '/i', 'x.msi', '/quiet'\n"
        "RUN Invoke-WebRequest -Uri $env:DOCKER_URL -OutFile 'docker.zip'; (Get-FileHash docker.zip).Hash; \\\n"
        "    Expand-Archive docker.zip -DestinationPath $env:ProgramFiles\n"
        "RUN iex ((New-Object System.Net.WebClient).DownloadString('https://a.example/install.ps1'))\n" + END
    )
    result = lint_dockerfile(tmp_path, text)
    msi, zip_file = only(result, UNVERIFIED)
    assert msi.location is not None and msi.location.line == 3 and "Start-Process" in msi.title
    assert zip_file.location is not None and "mismatch does not stop" in zip_file.title
    assert [f.location.line for f in only(result, "dockerfile-curl-pipe-shell") if f.location] == [7]


# -- parse diagnostics (issue 9, rule 5) ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "severity", "words"),
    [
        (FROM + "RUN <<EOF\napt-get update\nUSER 1000\n", Severity.HIGH, "never terminated"),
        (FROM + "RUN apt-get update && \\\n", Severity.MEDIUM, "line continuation"),
        ("# escape=x\n" + FROM + END, Severity.MEDIUM, "invalid escape directive"),
    ],
)
def test_parse_diagnostics(text: str, severity: Severity, words: str, tmp_path: Path) -> None:
    (finding,) = only(lint_dockerfile(tmp_path, text), "dockerfile-parse-error")
    assert finding.severity is severity and words in finding.title


def test_well_formed_dockerfile_has_no_parse_diagnostic(tmp_path: Path) -> None:
    text = "# escape=`\n" + FROM + "RUN <<-EOF\n\techo hi\n\tEOF\nRUN echo a `\n  b\n" + END
    assert "dockerfile-parse-error" not in ids(lint_dockerfile(tmp_path, text))


def test_powershell_native_verifier_as_last_statement_verifies(tmp_path: Path) -> None:
    text = PS + (
        'RUN Invoke-WebRequest -Uri "$env:WAR_URL" -OutFile C:/war/jenkins.war ; '
        'Invoke-WebRequest -Uri "$env:WAR_ASC_URL" -OutFile C:/war/jenkins.war.asc\n'
        "RUN & 'C:/Program Files/GnuPG/bin/gpgv.exe' --keyring C:/war/k.pgp C:/war/jenkins.war.asc C:/war/jenkins.war\n"
        "RUN Copy-Item C:/war/jenkins.war C:/jenkins/jenkins.war\n"
        "RUN Invoke-WebRequest -Uri https://a.example/t.zip -OutFile t.zip ; "
        "& gpgv.exe --keyring k.pgp t.zip.asc t.zip ; Expand-Archive t.zip -DestinationPath C:/t ; Write-Host done\n"
        + END
    )
    (finding,) = only(lint_dockerfile(tmp_path, text), UNVERIFIED)
    # a failing native command does not stop Windows PowerShell unless it is the last statement
    assert finding.location is not None and finding.location.line == 6 and "t.zip" in finding.title


def test_allow_untrusted_on_downloads_verified_earlier_is_info(tmp_path: Path) -> None:
    text = (
        f"FROM alpine{PIN}\n"
        "RUN curl -O https://a.example/tools.apk && curl -O https://a.example/tools.sig\n"
        "RUN gpg --verify tools.sig tools.apk\n"
        "RUN apk add --allow-untrusted tools.apk\n"
        "RUN curl -O https://a.example/other.apk\n"
        "RUN apk add --allow-untrusted other.apk\n" + END
    )
    result = lint_dockerfile(tmp_path, text)
    assert [f.severity for f in only(result, "package-signature-check-disabled")] == [Severity.INFO, Severity.CRITICAL]
    assert [f.location.line for f in only(result, UNVERIFIED) if f.location] == [5]
