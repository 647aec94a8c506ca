"""Keys as cosign writes them: cosign's own test keys decrypt, ours have cosign's exact shape."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from chainwarden.errors import KeyFileError, VerificationError
from chainwarden.signing import keys

FIXTURES = Path(__file__).parent / "fixtures" / "cosign-keys"
PASSWORD = b"hello"


@pytest.mark.parametrize("name", ["cosign-labelled.key", "sigstore.key"])
def test_cosign_test_keys_decrypt_and_sign(name: str) -> None:
    key = keys.load_private_key((FIXTURES / name).read_bytes(), PASSWORD, name)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    signature = keys.sign(key, b"payload")
    keys.verify_signature(key.public_key(), signature, b"payload", "test")
    with pytest.raises(VerificationError, match="does not verify"):
        keys.verify_signature(key.public_key(), signature, b"payload!", "test")


def test_sec1_body_is_refused_as_cosign_refuses_it() -> None:
    with pytest.raises(KeyFileError, match="SEC1, not PKCS#8"):
        keys.load_private_key((FIXTURES / "cosign-ec-sec1.key").read_bytes(), PASSWORD, "k")


def test_wrong_password() -> None:
    with pytest.raises(KeyFileError, match="wrong password"):
        keys.load_private_key((FIXTURES / "sigstore.key").read_bytes(), b"hell0", "k")


def test_generated_key_has_cosigns_exact_shape() -> None:
    pair = keys.generate_key_pair(b"s3cret", scrypt_n=1024)
    text = pair.private_pem.decode()
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"
    assert lines[-1] == "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----"
    assert all(len(line) == 64 for line in lines[1:-2])
    body = json.loads(base64.b64decode("".join(lines[1:-1])))
    assert list(body) == ["kdf", "cipher", "ciphertext"]
    assert list(body["kdf"]) == ["name", "params", "salt"]
    assert body["kdf"]["name"] == "scrypt"
    assert body["kdf"]["params"] == {"N": 1024, "r": 8, "p": 1}
    assert len(base64.b64decode(body["kdf"]["salt"])) == 32
    assert body["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(body["cipher"]["nonce"])) == 24
    # secretbox adds a 16-byte Poly1305 tag to the 138-byte PKCS#8 DER of a P-256 key
    assert len(base64.b64decode(body["ciphertext"])) == 138 + 16
    assert re.fullmatch(
        r"-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n", pair.public_pem.decode()
    )
    private = keys.load_private_key(pair.private_pem, b"s3cret", "new")
    public = keys.load_public_key(pair.public_pem, "new.pub")
    assert keys.key_id(private.public_key()) == keys.key_id(public)


def test_default_cost_is_cosigns() -> None:
    pair = keys.generate_key_pair(b"")
    body = json.loads(base64.b64decode("".join(pair.private_pem.decode().splitlines()[1:-1])))
    assert body["kdf"]["params"]["N"] == 65536
    keys.load_private_key(pair.private_pem, b"", "empty password")


def _envelope(**changes: object) -> bytes:
    pair = keys.generate_key_pair(b"x", scrypt_n=1024)
    body = json.loads(base64.b64decode("".join(pair.private_pem.decode().splitlines()[1:-1])))
    for path, value in changes.items():
        target = body
        parts = path.split("__")
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
    return keys._pem(keys.PEM_SIGSTORE, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kdf__params__N": 1 << 30}, "out of range"),
        ({"kdf__params__N": 1000}, "out of range"),
        ({"kdf__params__N": "1024"}, "integers"),
        ({"kdf__name": "argon2"}, "unsupported key derivation"),
        ({"cipher__name": "aes-gcm"}, "unsupported cipher"),
        ({"cipher__nonce": "AAAA"}, "nonce is 3 bytes"),
        ({"ciphertext": "%%%"}, "not valid base64"),
    ],
)
def test_hostile_envelopes_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        keys.load_private_key(_envelope(**changes), b"x", "k")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no PEM block"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a cosign key"),
        (
            b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            "not JSON",
        ),
        (b"x" * (keys.MAX_KEY_FILE + 1), "larger than"),
    ],
)
def test_malformed_key_files(data: bytes, message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        keys.load_private_key(data, b"x", "k")


def test_public_key_must_be_pkix() -> None:
    with pytest.raises(KeyFileError, match="not a PUBLIC KEY"):
        keys.load_public_key((FIXTURES / "sigstore.key").read_bytes(), "k")


def test_password_from_env() -> None:
    assert keys.password_from_env({}) is None
    assert keys.password_from_env({"COSIGN_PASSWORD": "a"}) == b"a"
    assert keys.password_from_env({"COSIGN_PASSWORD": "a", "CHAINWARDEN_PASSWORD": ""}) == b""
