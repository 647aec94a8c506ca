"""Pure pieces of profile, harden and drift: no sandbox needed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chainwarden.errors import UsageError
from chainwarden.runtime.drift import BehaviourChecker, file_kind
from chainwarden.runtime.harden import _filter_status, _is_info_file_of, keep_reason
from chainwarden.runtime.interface import ProfileError
from chainwarden.runtime.profile import Profile, ProgramRun, elf_interpreter, load_profile, parse_http_request
from chainwarden.runtime.sandbox import ProcessSpec, parse_probe


def test_elf_interpreter_of_a_real_dynamic_binary() -> None:
    fd = os.open("/bin/ls", os.O_RDONLY)
    try:
        assert (elf_interpreter(fd) or "").startswith("/lib")
    finally:
        os.close(fd)
    fd = os.open("/bin/busybox", os.O_RDONLY)  # static: no loader
    try:
        assert elf_interpreter(fd) is None
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/lib64/ld-linux-x86-64.so.2", "dynamic loader"),
        ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "dynamic loader"),
        ("/etc/ld.so.cache", "dynamic loader"),
        ("/etc/nsswitch.conf", "name-service"),
        ("/etc/ssl/certs/ca-certificates.crt", "CA certificates"),
        ("/usr/share/zoneinfo/Europe/Paris", "timezone"),
        ("/var/lib/dpkg/status", "package database"),
        ("/usr/lib/python3/dist-packages/x-1.dist-info/METADATA", "package database"),
        ("/usr/bin/python3", None),
        ("/usr/lib/locale/C.utf8/LC_CTYPE", None),  # locales only when the probes used one
    ],
)
def test_keep_rules_come_from_paths(path: str, reason: str | None) -> None:
    got = keep_reason(path, ["/usr/bin/python3"])
    assert (got is None) if reason is None else (got is not None and reason in got)


def test_locale_kept_when_used() -> None:
    assert keep_reason("/usr/lib/locale/C.utf8/LC_CTYPE", ["/usr/lib/locale/locale-archive"])


def test_dpkg_status_filter_keeps_other_stanzas_verbatim() -> None:
    text = "Package: a\nArchitecture: amd64\nDescription: x\n more\n\nPackage: b\nArchitecture: all\n\n"
    assert _filter_status(text, {("b", "all")}) == "Package: a\nArchitecture: amd64\nDescription: x\n more\n"
    assert _filter_status(text, {("a", "amd64"), ("b", "all")}) == ""


def test_dpkg_info_files_match_exact_package_names() -> None:
    removed = {("libgtk2", "amd64")}
    assert _is_info_file_of("libgtk2.list", removed)
    assert _is_info_file_of("libgtk2:amd64.md5sums", removed)
    assert not _is_info_file_of("libgtk2.0-0.list", removed)


def test_file_kind_ranks_executables_first(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/elf").write_bytes(b"\x7fELF....")
    (tmp_path / "bin/script").write_text("#!/bin/sh\n")
    (tmp_path / "libx.so.1").write_bytes(b"\x7fELF")
    (tmp_path / "data").write_text("x")
    assert file_kind(tmp_path, "/bin/elf") == ("executable", 0)
    assert file_kind(tmp_path, "/libx.so.1") == ("library", 1)
    assert file_kind(tmp_path, "/bin/script") == ("script", 2)
    assert file_kind(tmp_path, "/data") == ("file", 3)


def test_behaviour_checker_reports_once() -> None:
    baseline = Profile({"reference": "x", "kind": "oci"}, "none")
    baseline.programs.append(ProgramRun(1, "/bin/sh", "/usr/bin/dash", ("sh",)))
    baseline.image_files = {"/usr/bin/dash": "sha256:0", "/usr/bin/curl": "sha256:1"}
    checker = BehaviourChecker(baseline)
    assert checker.program("/bin/sh", "/usr/bin/dash", ["sh"]) is None
    new = checker.program("/usr/bin/curl", "/usr/bin/curl", ["curl"])
    assert new is not None and new.kind == "new-program"
    assert checker.program("/usr/bin/curl", "/usr/bin/curl", ["curl"]) is None
    dropped = checker.program("/tmp/x", "/tmp/x", ["x"])
    assert dropped is not None and dropped.kind == "program-not-in-image"
    assert checker.endpoint("connect", "inet", "1.2.3.4", 443) is not None
    assert checker.written_file("/tmp/scratch") is None
    assert checker.written_file("/etc/passwd") is not None


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"format": "other"}', json.dumps({"format": "chainwarden-profile/1", "target": {}})],
)
def test_malformed_profiles_are_one_line_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert "\n" not in str(info.value)


def test_profile_round_trips_through_json(tmp_path: Path) -> None:
    profile = Profile({"reference": "oci:x", "kind": "oci", "digest": None, "config_digest": None}, "none")
    profile.programs.append(ProgramRun(1, "/bin/sh", "/usr/bin/dash", ("sh", "-c", "true")))
    path = tmp_path / "p.json"
    path.write_text(profile.dumps())
    assert load_profile(path).to_json() == profile.to_json()


def test_probe_and_http_parsing() -> None:
    assert parse_probe("python3 -c 'print(1)'") == ("python3", "-c", "print(1)")
    assert parse_http_request("get:/health") == ("GET", "/health")
    with pytest.raises(UsageError):
        parse_http_request("/health")
    with pytest.raises(UsageError):
        parse_probe("'unbalanced")


def test_process_spec_honours_the_image_config() -> None:
    spec = ProcessSpec.from_image_config(
        {"Entrypoint": ["/entry"], "Cmd": ["serve"], "Env": ["A=1", "broken"], "WorkingDir": "/app", "User": "app"}
    )
    assert spec.argv == ("/entry", "serve")
    assert spec.environment()["A"] == "1" and "PATH" in spec.environment()
    assert (spec.workdir, spec.user) == ("/app", "app")
    assert ProcessSpec.from_image_config({"Cmd": "echo hi"}).argv == ("/bin/sh", "-c", "echo hi")
    assert ProcessSpec.from_image_config({"Cmd": ["x"]}, ("y",)).argv == ("y",)
