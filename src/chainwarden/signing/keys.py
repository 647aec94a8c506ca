"""Signing keys exactly as cosign writes and reads them.

A private key file is PEM ``ENCRYPTED SIGSTORE PRIVATE KEY`` (older cosign:
``ENCRYPTED COSIGN PRIVATE KEY``) whose body is the JSON of
go-securesystemslib's ``encrypted`` package::

    {"kdf": {"name": "scrypt", "params": {"N": 65536, "r": 8, "p": 1}, "salt": "<b64 32 bytes>"},
     "cipher": {"name": "nacl/secretbox", "nonce": "<b64 24 bytes>"},
     "ciphertext": "<b64 secretbox(PKCS#8 DER)>"}

The scrypt cost ``N`` is read from the file (65536 today, 32768 in keys older
cosign wrote) but bounded, so a hostile file cannot ask for gigabytes. The
plaintext must be PKCS#8: cosign refuses a SEC1 (``EC PRIVATE KEY``) body, and
so does chainwarden. A public key is a PKIX ``PUBLIC KEY`` PEM.

``hashlib.scrypt`` derives the key and PyNaCl's ``SecretBox`` (libsodium's
XSalsa20-Poly1305, the same construction as Go's ``nacl/secretbox``) seals it;
``cryptography`` parses, generates and signs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.secret
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from chainwarden.errors import KeyFileError, VerificationError

PEM_SIGSTORE = "ENCRYPTED SIGSTORE PRIVATE KEY"
PEM_COSIGN = "ENCRYPTED COSIGN PRIVATE KEY"
PRIVATE_PEM_TYPES = (PEM_SIGSTORE, PEM_COSIGN)
ENV_PASSWORDS = ("CHAINWARDEN_PASSWORD", "COSIGN_PASSWORD")
#: scrypt cost cosign uses since v2 (sigstore/sigstore cryptoutils); older keys have 32768.
SCRYPT_N = 65536
SCRYPT_R = 8
SCRYPT_P = 1
#: Highest cost accepted from a file: 2**20 is 1 GiB of scrypt memory at r=8, far past any real key.
MAX_SCRYPT_N = 1 << 20
MAX_KEY_FILE = 64 * 1024
SALT_SIZE = 32

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_ECDSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A freshly made key pair as the bytes of ``cosign.key`` and ``cosign.pub``."""

    private_pem: bytes = field(repr=False)
    public_pem: bytes


def password_from_env(environ: Mapping[str, str] | None = None) -> bytes | None:
    """``CHAINWARDEN_PASSWORD``, else ``COSIGN_PASSWORD``; None when neither is set (an empty value counts)."""
    environ = os.environ if environ is None else environ
    for name in ENV_PASSWORDS:
        if name in environ:
            return environ[name].encode()
    return None


def generate_key_pair(password: bytes, *, scrypt_n: int = SCRYPT_N) -> KeyPair:
    """A new ECDSA P-256 key, encrypted as cosign's ``generate-key-pair`` writes it."""
    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(encrypt_private_key(key, password, scrypt_n=scrypt_n), public_key_pem(key.public_key()))


def public_key_pem(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def encrypt_private_key(key: PrivateKey, password: bytes, *, scrypt_n: int = SCRYPT_N) -> bytes:
    """PEM ``ENCRYPTED SIGSTORE PRIVATE KEY`` of ``key`` (PKCS#8 DER inside), byte-compatible with cosign."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt = secrets.token_bytes(SALT_SIZE)
    nonce = secrets.token_bytes(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_derive(password, salt, scrypt_n, SCRYPT_R, SCRYPT_P))
    ciphertext = box.encrypt(der, nonce).ciphertext
    # field order and spelling as Go's encoding/json writes go-securesystemslib's structs
    body = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    return _pem(PEM_SIGSTORE, json.dumps(body, separators=(",", ":")).encode())


def load_private_key(data: bytes, password: bytes, where: str) -> PrivateKey:
    """Decrypt a cosign private key file; :class:`KeyFileError` says what is wrong."""
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{where}: larger than {MAX_KEY_FILE} bytes; not a key file")
    pem_type, body = _single_pem(data, where)
    if pem_type not in PRIVATE_PEM_TYPES:
        raise KeyFileError(
            f"{where}: PEM type {pem_type!r} is not a cosign key (want {PEM_SIGSTORE!r} or {PEM_COSIGN!r}); "
            "import other keys with cosign import-key-pair"
        )
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{where}: encrypted key body is not JSON") from exc
    salt, n, r, p, nonce, ciphertext = _parse_envelope(document, where)
    box = nacl.secret.SecretBox(_derive(password, salt, n, r, p))
    try:
        der = box.decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError as exc:
        raise KeyFileError(f"{where}: wrong password (or corrupted key file)") from exc
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{where}: decrypted key is not PKCS#8 DER") from exc
    if not _is_pkcs8(der):
        # cosign parses with x509.ParsePKCS8PrivateKey: a SEC1 "EC PRIVATE KEY" body is refused
        raise KeyFileError(f"{where}: decrypted key is SEC1, not PKCS#8 (cosign refuses such keys too)")
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyFileError(f"{where}: unsupported key type {type(key).__name__}")
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name not in _ECDSA_HASHES:
        raise KeyFileError(f"{where}: unsupported elliptic curve {key.curve.name}")
    return key


def load_public_key(data: bytes, where: str) -> PublicKey:
    """A PKIX ``PUBLIC KEY`` PEM (what ``cosign.pub`` holds)."""
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{where}: larger than {MAX_KEY_FILE} bytes; not a key file")
    pem_type, _ = _single_pem(data, where)
    if pem_type != "PUBLIC KEY":
        raise KeyFileError(f"{where}: PEM type {pem_type!r} is not a PUBLIC KEY")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{where}: malformed public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise KeyFileError(f"{where}: unsupported key type {type(key).__name__}")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in _ECDSA_HASHES:
        raise KeyFileError(f"{where}: unsupported elliptic curve {key.curve.name}")
    return key


def key_id(key: PublicKey) -> str:
    """Hex sha256 of the key's DER SubjectPublicKeyInfo (stable across PEM formatting)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def hash_algorithm(key: PublicKey | PrivateKey) -> hashes.HashAlgorithm:
    """The digest cosign pairs with the key: by curve for ECDSA, SHA-256 otherwise."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return _ECDSA_HASHES[key.curve.name]()
    return hashes.SHA256()


def sign(key: PrivateKey, data: bytes) -> bytes:
    """A signature over ``data`` (ECDSA DER / RSA PKCS#1 v1.5 / Ed25519), as cosign makes it."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hash_algorithm(key)))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


def verify_signature(key: PublicKey, signature: bytes, data: bytes, what: str) -> None:
    """Raise :class:`VerificationError` unless ``signature`` over ``data`` verifies with ``key``."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        _require_der(signature, what)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_algorithm(key)))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, data)
    except InvalidSignature as exc:
        raise VerificationError(f"{what}: signature does not verify with the given key") from exc
    except ValueError as exc:  # e.g. not DER at all
        raise VerificationError(f"{what}: malformed signature ({exc})") from exc


def signature_verifies(key: PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` over ``data`` verifies with ``key`` (:func:`verify_signature` as a test)."""
    try:
        verify_signature(key, signature, data, "")
    except VerificationError:
        return False
    return True


def verify_prehashed(key: PublicKey, signature: bytes, digest: bytes, what: str) -> None:
    """Like :func:`verify_signature` over a SHA-256 ``digest`` already computed (hashedrekord)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        _require_der(signature, what)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        else:
            raise VerificationError(f"{what}: an Ed25519 key cannot verify a prehashed message")
    except InvalidSignature as exc:
        raise VerificationError(f"{what}: signature does not verify with the given key") from exc
    except ValueError as exc:
        raise VerificationError(f"{what}: malformed signature ({exc})") from exc


# -- helpers -------------------------------------------------------------------


def _require_der(signature: bytes, what: str) -> None:
    """An ECDSA signature must be a DER SEQUENCE of two INTEGERs; say so when it is not."""
    try:
        decode_dss_signature(signature)
    except ValueError as exc:
        raise VerificationError(f"{what}: malformed signature (not a DER ECDSA signature)") from exc


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    # 128·r·N bytes of memory, plus headroom
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=129 * r * n + (1 << 20), dklen=32)


def _parse_envelope(document: object, where: str) -> tuple[bytes, int, int, int, bytes, bytes]:
    document_ = document if isinstance(document, dict) else {}
    kdf, cipher = document_.get("kdf"), document_.get("cipher")
    params = kdf.get("params") if isinstance(kdf, dict) else None
    if not isinstance(kdf, dict) or not isinstance(cipher, dict) or not isinstance(params, dict):
        raise KeyFileError(f"{where}: encrypted key body lacks kdf/cipher/ciphertext")
    name, cipher_name = kdf.get("name"), cipher.get("name")
    n, r, p = params.get("N"), params.get("r"), params.get("p")
    salt_text, nonce_text, ciphertext_text = kdf.get("salt"), cipher.get("nonce"), document_.get("ciphertext")
    if name != "scrypt":
        raise KeyFileError(f"{where}: unsupported key derivation {name!r} (want scrypt)")
    if cipher_name != "nacl/secretbox":
        raise KeyFileError(f"{where}: unsupported cipher {cipher_name!r} (want nacl/secretbox)")
    if type(n) is not int or type(r) is not int or type(p) is not int:
        raise KeyFileError(f"{where}: scrypt parameters must be integers")
    if n < 2 or n & (n - 1) or n > MAX_SCRYPT_N or not 0 < r <= 32 or not 0 < p <= 16:
        raise KeyFileError(f"{where}: scrypt parameters N={n} r={r} p={p} out of range (N a power of 2 ≤ 2**20)")
    salt = _b64(salt_text, where, "salt")
    nonce = _b64(nonce_text, where, "nonce")
    ciphertext = _b64(ciphertext_text, where, "ciphertext")
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise KeyFileError(f"{where}: nonce is {len(nonce)} bytes, want {nacl.secret.SecretBox.NONCE_SIZE}")
    return salt, n, r, p, nonce, ciphertext


def _b64(value: object, where: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise KeyFileError(f"{where}: {what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{where}: {what} is not valid base64") from exc


def _single_pem(data: bytes, where: str) -> tuple[str, bytes]:
    blocks = _PEM_RE.findall(data)
    if not blocks:
        raise KeyFileError(f"{where}: no PEM block found")
    if len(blocks) > 1:
        raise KeyFileError(f"{where}: {len(blocks)} PEM blocks; want exactly one")
    pem_type, body = blocks[0]
    try:
        decoded = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{where}: PEM body is not valid base64") from exc
    return pem_type.decode("ascii"), decoded


def _pem(pem_type: str, body: bytes) -> bytes:
    encoded = base64.b64encode(body).decode()
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return (f"-----BEGIN {pem_type}-----\n" + "\n".join(lines) + f"\n-----END {pem_type}-----\n").encode()


def _is_pkcs8(der: bytes) -> bool:
    """PKCS#8 PrivateKeyInfo: SEQUENCE { INTEGER 0, SEQUENCE AlgorithmIdentifier, OCTET STRING }.

    SEC1 ECPrivateKey is SEQUENCE { INTEGER 1, OCTET STRING … }: the second
    element's tag tells them apart.
    """
    if len(der) < 4 or der[0] != 0x30:
        return False
    offset = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    # version INTEGER (02 01 00 or 02 01 01 for OneAsymmetricKey v2)
    if der[offset : offset + 2] != b"\x02\x01":
        return False
    return len(der) > offset + 3 and der[offset + 3] == 0x30
