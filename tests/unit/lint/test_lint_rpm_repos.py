"""yum/dnf/zypper and apk repository rules: files, Dockerfile RUN lines, images; no noise on distro defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.config import Config
from chainwarden.lint import lint_view
from chainwarden.lint.rpm_repos import command_hits
from chainwarden.sources.rootfs import DirectoryView
from unit.lint.lint_helpers import ids, lint_tree, only

# /etc/yum.repos.d/rocky.repo as Rocky Linux 9 ships it (rocky-repos), first sections
ROCKY_REPO = """# rocky.repo
#
# The mirrorlist system uses the connecting IP address of the client and the
# update status of each mirror to pick current mirrors that are geographically
# close to the client.  You should use this for Rocky updates unless you are
# manually picking other mirrors.
#
# If the mirrorlist does not work for you, you can try the commented out
# baseurl line instead.

[baseos]
name=Rocky Linux $releasever - BaseOS
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever$rltype
#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/BaseOS/$basearch/os/
gpgcheck=1
enabled=1
countme=1
metadata_expire=6h
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9

[baseos-debug]
name=Rocky Linux $releasever - BaseOS - Debug
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever-debug$rltype
#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/BaseOS/$basearch/debug/tree/
gpgcheck=1
enabled=0
metadata_expire=6h
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9
"""
DNF_CONF = "[main]\ngpgcheck=1\ninstallonly_limit=3\nclean_requirements_on_remove=True\nbest=True\n"
ALPINE_REPOSITORIES = (
    "https://dl-cdn.alpinelinux.org/alpine/v3.19/main\nhttps://dl-cdn.alpinelinux.org/alpine/v3.19/community\n"
)


def test_distribution_defaults_are_quiet(tmp_path: Path) -> None:
    result = lint_tree(
        tmp_path,
        {
            "etc/yum.repos.d/rocky.repo": ROCKY_REPO,
            "etc/dnf/dnf.conf": DNF_CONF,
            "etc/apk/repositories": ALPINE_REPOSITORIES,
        },
    )
    assert ids(result) == []
    assert set(result.files) >= {"etc/yum.repos.d/rocky.repo", "etc/dnf/dnf.conf", "etc/apk/repositories"}


def test_vendor_repo_problems(tmp_path: Path) -> None:
    repo = (
        "[vendor]\nname=Vendor\nbaseurl=http://rpm.example.com/el9/$basearch\nenabled=1\ngpgcheck=0\nsslverify=false\n"
        "\n[vendor-keys]\nbaseurl=https://rpm.example.com/keys\ngpgkey=http://rpm.example.com/KEY\n"
    )
    result = lint_tree(tmp_path, {"etc/yum.repos.d/vendor.repo": repo})
    assert sorted(ids(result)) == sorted(
        [
            "package-repo-http",
            "rpm-repo-gpgcheck-disabled",
            "rpm-repo-sslverify-disabled",
            "rpm-third-party-repo",
            "rpm-third-party-repo",
            "package-signing-key-over-http",
        ]
    )
    [gpgcheck] = only(result, "rpm-repo-gpgcheck-disabled")
    assert gpgcheck.location is not None and gpgcheck.location.line == 5


def test_main_gpgcheck_off_in_dnf_conf(tmp_path: Path) -> None:
    result = lint_tree(tmp_path, {"etc/dnf/dnf.conf": "[main]\ngpgcheck=0\n"})
    assert ids(result) == ["rpm-repo-gpgcheck-disabled"]


def test_zypper_repo_without_key(tmp_path: Path) -> None:
    repo = "[vendor]\nname=Vendor\nenabled=1\nautorefresh=1\nbaseurl=https://download.example.com/repo/openSUSE_Leap_15.5/\ntype=rpm-md\n"
    result = lint_tree(tmp_path, {"etc/zypp/repos.d/vendor.repo": repo})
    assert sorted(ids(result)) == ["rpm-repo-without-gpgkey", "rpm-third-party-repo"]


DOCKERFILE_HEAD = "FROM rockylinux/rockylinux@sha256:" + "a" * 64 + "\n"


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("RUN dnf --setopt=gpgcheck=0 install -y foo-1.0\n", "rpm-repo-gpgcheck-disabled"),
        ("RUN dnf install -y --setopt sslverify=false foo-1.0\n", "rpm-repo-sslverify-disabled"),
        ("RUN dnf install -y --nogpgcheck foo-1.0\n", "package-signature-check-disabled"),
        ("RUN rpm -i --nosignature /tmp/foo.rpm\n", "package-signature-check-disabled"),
        ("RUN rpm --import http://rpm.example.com/KEY\n", "package-signing-key-over-http"),
        ("RUN dnf config-manager --add-repo http://rpm.example.com/vendor.repo\n", "package-repo-http"),
        ("RUN zypper addrepo https://download.example.com/repo vendor\n", "rpm-third-party-repo"),
        ("RUN echo gpgcheck=0 >> /etc/yum.repos.d/vendor.repo\n", "rpm-repo-gpgcheck-disabled"),
        ("RUN echo http://apk.example.com/v3.19 >> /etc/apk/repositories\n", "package-repo-http"),
        ("RUN apk add --allow-untrusted /tmp/foo.apk\n", "package-signature-check-disabled"),
        (
            "RUN cat <<EOF > /etc/yum.repos.d/vendor.repo\n[vendor]\nbaseurl=https://rpm.example.com/\n"
            "sslverify=0\ngpgkey=https://rpm.example.com/KEY\nEOF\n",
            "rpm-repo-sslverify-disabled",
        ),
    ],
)
def test_dockerfile_commands(tmp_path: Path, run: str, expected: str) -> None:
    result = lint_tree(tmp_path, {"Dockerfile": DOCKERFILE_HEAD + run})
    assert expected in ids(result), ids(result)


def test_dockerfile_benign_installs_are_quiet_for_these_rules(tmp_path: Path) -> None:
    run = (
        "RUN dnf install -y --setopt=install_weak_deps=False curl-7.76.1 && "
        "rpm --import https://rpm.example.com/KEY && dnf clean all\n"
    )
    result = lint_tree(tmp_path, {"Dockerfile": DOCKERFILE_HEAD + run})
    mine = {
        "rpm-repo-gpgcheck-disabled",
        "rpm-repo-sslverify-disabled",
        "package-signing-key-over-http",
        "package-repo-http",
        "rpm-third-party-repo",
    }
    assert not mine & set(ids(result))


def test_image_configuration_is_audited(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc/yum.repos.d").mkdir(parents=True)
    (root / "etc/yum.repos.d/rocky.repo").write_text(ROCKY_REPO)
    (root / "etc/yum.repos.d/vendor.repo").write_text("[vendor]\nbaseurl=https://rpm.example.com/\n")
    (root / "etc/dnf").mkdir()
    (root / "etc/dnf/dnf.conf").write_text("[main]\ngpgcheck=0\n")
    result = lint_view(DirectoryView(root), Config())
    found = sorted((f.rule_id, f.location.path if f.location else "") for f in result.findings)
    # the vendor repository inherits gpgcheck=0 from [main]: no gpgkey finding, the gpgcheck one is on dnf.conf
    assert found == [
        ("rpm-repo-gpgcheck-disabled", "/etc/dnf/dnf.conf"),
        ("rpm-third-party-repo", "/etc/yum.repos.d/vendor.repo"),
    ]


def test_command_hits_need_the_option_context() -> None:
    assert command_hits(["dnf", "install", "gpgcheck=0"]) == []
    assert command_hits(["zypper", "--gpg-auto-import-keys", "refresh"]) == [
        ("zypper-auto-import-keys", 1, "zypper --gpg-auto-import-keys")
    ]
