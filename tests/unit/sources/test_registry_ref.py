"""Registry references, auth challenges and credentials: the parts with no network."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainwarden.errors import ConfigError, UsageError
from chainwarden.sources.registry import (
    DOCKER_HUB_REGISTRY,
    ENV_PASSWORD,
    ENV_USERNAME,
    Credentials,
    ImageReference,
    RegistryClient,
    find_credentials,
    parse_challenges,
    parse_reference,
)

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("127.0.0.1:5000/app:1", "127.0.0.1:5000", "app", "1", None),
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", "latest", None),
        ("localhost/app", "localhost", "app", "latest", None),
        (f"localhost:5000/a/b/c@{DIGEST}", "localhost:5000", "a/b/c", None, DIGEST),
        ("[::1]:5000/app:v1.2", "[::1]:5000", "app", "v1.2", None),
        ("[::1]/app", "[::1]", "app", "latest", None),
        ("[2001:db8::1]:443/team/app", "[2001:db8::1]:443", "team/app", "latest", None),
        ("ghcr.io/owner/repo:tag", "ghcr.io", "owner/repo", "tag", None),
        (f"ghcr.io/owner/repo:tag@{DIGEST}", "ghcr.io", "owner/repo", "tag", DIGEST),
        (
            "registry.example.com:8443/a.b/c_d/e__f/g-h--i:T_1.0-rc",
            "registry.example.com:8443",
            "a.b/c_d/e__f/g-h--i",
            "T_1.0-rc",
            None,
        ),
        ("Registry.Example.COM/app", "Registry.Example.COM", "app", "latest", None),
        # Docker Hub shorthand, as docker resolves it
        ("debian:12", DOCKER_HUB_REGISTRY, "library/debian", "12", None),
        ("debian", DOCKER_HUB_REGISTRY, "library/debian", "latest", None),
        (f"debian@{DIGEST}", DOCKER_HUB_REGISTRY, "library/debian", None, DIGEST),
        ("bitnami/redis:7", DOCKER_HUB_REGISTRY, "bitnami/redis", "7", None),
        ("docker.io/debian:12", DOCKER_HUB_REGISTRY, "library/debian", "12", None),
        ("index.docker.io/library/debian", DOCKER_HUB_REGISTRY, "library/debian", "latest", None),
        ("docker.io/bitnami/redis", DOCKER_HUB_REGISTRY, "bitnami/redis", "latest", None),
        ("registry-1.docker.io/debian", DOCKER_HUB_REGISTRY, "library/debian", "latest", None),
    ],
)
def test_valid_references(text: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert ref.manifest_reference == (digest or tag)
    assert parse_reference(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not an image reference"),
        ("app name", "not an image reference"),
        ("app\x1b[31m", "not an image reference"),
        ("app:", "invalid tag ''"),
        ("app:-bad", "invalid tag '-bad'"),
        ("app:" + "x" * 129, "invalid tag"),
        ("127.0.0.1:5000/App:1", "invalid repository name component 'App' (repository names must be lowercase)"),
        ("app@sha512:" + "ab" * 64, "only sha256 digests are supported, got 'sha512'"),
        ("app@sha256:abc", "invalid digest"),
        ("app@sha256:" + "AB" * 32, "invalid digest"),
        ("app@", "only sha256 digests"),
        ("host.example:99999/app", "invalid port 99999"),
        ("host.example:0/app", "invalid port 0"),
        ("-bad.example/app", "invalid registry host '-bad.example'"),
        ("bad_host.example/app", "invalid registry host"),
        ("[not-ipv6]/app", "invalid registry host"),
        ("host.example:5000/", "no repository name"),
        ("/app", "invalid repository name component ''"),
        ("a//b", "invalid repository name component ''"),
        ("a/b/", "invalid repository name component ''"),
        ("a/-b", "invalid repository name component '-b'"),
        ("a/b_", "invalid repository name component 'b_'"),
        ("a/b___c", "invalid repository name component 'b___c'"),
        ("host.example/" + "a" * 250, "longer than 255"),
    ],
)
def test_invalid_references_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_reference(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "\x1b" not in str(caught.value)


def test_reference_properties() -> None:
    assert parse_reference("[::1]:5000/app").host == "[::1]"
    assert parse_reference("[::1]:5000/app").is_loopback
    assert parse_reference("localhost:5000/app").is_loopback
    assert parse_reference("127.0.0.1/app").is_loopback
    assert not parse_reference("127.0.0.2:5000/app").is_loopback
    assert not parse_reference("registry.example/app").is_loopback
    assert str(parse_reference(f"ghcr.io/o/r:t@{DIGEST}")) == f"ghcr.io/o/r:t@{DIGEST}"


_component = st.from_regex(r"[a-z0-9]{1,6}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,6}){0,2}", fullmatch=True)
_host = st.sampled_from(["localhost", "127.0.0.1:5000", "[::1]:5000", "registry.example.com", "ghcr.io:443"])
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(host=_host, path=st.lists(_component, min_size=1, max_size=4), tag=st.none() | _tag, pinned=st.booleans())
def test_generated_references_round_trip(host: str, path: list[str], tag: str | None, pinned: bool) -> None:
    text = f"{host}/{'/'.join(path)}" + (f":{tag}" if tag else "") + (f"@{DIGEST}" if pinned else "")
    ref = parse_reference(text)
    assert ref.registry == host
    assert ref.repository == "/".join(path)
    assert ref.digest == (DIGEST if pinned else None)
    assert ref.tag == (tag or (None if pinned else "latest"))
    assert parse_reference(str(ref)) == ref


@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_raises_usage_error(text: str) -> None:
    outcome: ImageReference | UsageError
    try:
        outcome = parse_reference(text)
    except UsageError as exc:
        outcome = exc
    if isinstance(outcome, UsageError):
        assert "\n" not in str(outcome)
    else:
        assert outcome.repository
        assert outcome.tag or outcome.digest


# -- challenges ------------------------------------------------------------------------------


def test_docker_hub_bearer_challenge() -> None:
    header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull"'
    assert parse_challenges([header]) == [
        (
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/debian:pull",
            },
        )
    ]


def test_challenge_quoting_and_several_headers() -> None:
    challenges = parse_challenges(
        [
            'Basic realm="say \\"hi\\", please"',
            'Bearer realm="https://t.example/token",scope="repository:a:pull,push", error=invalid_token',
            "",
        ]
    )
    assert challenges == [
        ("basic", {"realm": 'say "hi", please'}),
        ("bearer", {"realm": "https://t.example/token", "scope": "repository:a:pull,push", "error": "invalid_token"}),
    ]


# -- credentials ------------------------------------------------------------------------------


def _write_config(directory: Path, config: object) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return {"DOCKER_CONFIG": str(directory)}


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_environment_credentials_win() -> None:
    environ = {ENV_USERNAME: "alice", ENV_PASSWORD: "pw", "DOCKER_CONFIG": "/nonexistent"}
    assert find_credentials("ghcr.io", environ) == Credentials("alice", "pw", "environment")


def test_half_set_environment_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=f"set both {ENV_USERNAME} and {ENV_PASSWORD}"):
        find_credentials("ghcr.io", {ENV_USERNAME: "alice"})


@pytest.mark.parametrize(
    ("key", "registry"),
    [
        ("https://index.docker.io/v1/", DOCKER_HUB_REGISTRY),
        ("docker.io", DOCKER_HUB_REGISTRY),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
        ("GHCR.IO", "ghcr.io"),
    ],
)
def test_docker_config_auths_keys(tmp_path: Path, key: str, registry: str) -> None:
    environ = _write_config(tmp_path, {"auths": {key: {"auth": _auth("bob", "pa:ss")}}})
    credentials = find_credentials(registry, environ)
    assert credentials is not None
    assert (credentials.username, credentials.password) == ("bob", "pa:ss")
    assert credentials.origin == str(tmp_path / "config.json")


def test_docker_config_other_hosts_and_shapes(tmp_path: Path) -> None:
    environ = _write_config(
        tmp_path,
        {
            "auths": {
                "127.0.0.1:5000": {"auth": _auth("a", "b")},
                "quay.io": {"username": "plain", "password": "text"},
                "empty.example": {},
            },
            "credsStore": "desktop",
        },
    )
    assert find_credentials("127.0.0.1:5001", environ) is None  # another port is another registry
    assert find_credentials("quay.io", environ) == Credentials("plain", "text", str(tmp_path / "config.json"))
    assert find_credentials("empty.example", environ) is None
    assert find_credentials("ghcr.io", {"DOCKER_CONFIG": str(tmp_path / "missing")}) is None
    assert find_credentials("ghcr.io", _write_config(tmp_path / "list", [1, 2])) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (json.dumps({"auths": {"ghcr.io": {"auth": "!!!"}}}).encode(), "auths['ghcr.io'].auth is not base64"),
        (json.dumps({"auths": {"ghcr.io": {"auth": _auth("", "x")}}}).encode(), "is not base64 of 'user:password'"),
        (json.dumps({"auths": {"ghcr.io": {"auth": base64.b64encode(b"nocolon").decode()}}}).encode(), "user:password"),
    ],
)
def test_malformed_docker_config_is_a_one_line_config_error(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "config.json").write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        find_credentials("ghcr.io", {"DOCKER_CONFIG": str(tmp_path)})
    assert message in str(caught.value)
    assert str(tmp_path / "config.json") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_huge_docker_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_bytes(b" " * (5 * 1024 * 1024))
    with pytest.raises(ConfigError, match="larger than"):
        find_credentials("ghcr.io", {"DOCKER_CONFIG": str(tmp_path)})


def test_credentials_never_show_the_password() -> None:
    credentials = Credentials("alice", "hunter2", "environment")
    assert "hunter2" not in repr(credentials)
    assert "hunter2" not in str(credentials)
    assert credentials.basic_header() == "Basic " + _auth("alice", "hunter2")


# -- transport choice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "insecure", "base_url"),
    [
        ("localhost:5000/app", False, "http://localhost:5000"),
        ("127.0.0.1:5000/app", False, "http://127.0.0.1:5000"),
        ("[::1]:5000/app", False, "http://[::1]:5000"),
        ("127.0.0.2:5000/app", False, "https://127.0.0.2:5000"),
        ("registry.example:5000/app", False, "https://registry.example:5000"),
        ("debian", False, f"https://{DOCKER_HUB_REGISTRY}"),
        # insecure: unverified TLS first (plain http only as a fallback)
        ("registry.example:5000/app", True, "https://registry.example:5000"),
        ("localhost:5000/app", True, "https://localhost:5000"),
    ],
)
def test_plain_http_only_for_loopback_or_insecure(text: str, insecure: bool, base_url: str) -> None:
    with RegistryClient(parse_reference(text), f"registry:{text}", insecure=insecure) as client:
        assert client.base_url == base_url
