"""sigstore-conformance ``bundle-verify`` cases, every one, through chainwarden's verifiers.

A case with ``key.pub`` goes through chainwarden's own keyed verifier, every
other case through the keyless path (sigstore-python). ``_fail`` cases must be
rejected with a :class:`VerificationError` (or, for a malformed trusted root, a
:class:`SigningError`), never a crash.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.errors import SigningError
from chainwarden.signing.bundle import Artifact, parse_bundle, verify_keyless, verify_with_key
from chainwarden.signing.keys import load_public_key
from chainwarden.signing.trustroot import default_trusted_root, load_trusted_root

ROOT = Path(__file__).parent / "fixtures" / "conformance"
CASES = sorted(path.name for path in ROOT.iterdir() if path.is_dir())
DEFAULT_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"


def verify_case(case: Path) -> None:
    artifact_path = case / "artifact" if (case / "artifact").exists() else ROOT / "a.txt"
    artifact = Artifact.from_bytes(artifact_path.read_bytes())
    root = load_trusted_root(case / "trusted_root.json") if (case / "trusted_root.json").exists() else None
    trusted_root = root or default_trusted_root()
    bundle = parse_bundle((case / "bundle.sigstore.json").read_bytes(), case.name)
    if (case / "key.pub").exists():
        key = load_public_key((case / "key.pub").read_bytes(), "key.pub")
        verify_with_key(bundle, artifact, key, trusted_root)
        return
    identity = (case / "identity").read_text().strip() if (case / "identity").exists() else DEFAULT_IDENTITY
    issuer = (case / "issuer").read_text().strip() if (case / "issuer").exists() else DEFAULT_ISSUER
    verify_keyless(bundle, artifact, trusted_root, identity=identity, issuer=issuer)


def test_all_cases_present() -> None:
    assert len(CASES) == 70


@pytest.mark.parametrize("name", CASES)
def test_bundle_verify(name: str) -> None:
    case = ROOT / name
    if name.endswith("_fail"):
        with pytest.raises(SigningError):
            verify_case(case)
    else:
        verify_case(case)
