"""Predicate types and shapes are validated before anything is signed."""

from __future__ import annotations

import pytest

from chainwarden.errors import SigningError
from chainwarden.signing.attest import PREDICATE_TYPES, check_predicate, predicate_type_uri

GOOD = {
    "cyclonedx": {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []},
    "spdx": {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": []},
    "slsaprovenance1": {"buildDefinition": {"buildType": "x"}, "runDetails": {"builder": {"id": "y"}}},
    "slsaprovenance": {"builder": {"id": "y"}, "buildType": "x"},
    "openvex": {"@context": "https://openvex.dev/ns/v0.2.0", "statements": []},
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_predicate_of_its_type_is_accepted(name: str) -> None:
    check_predicate(PREDICATE_TYPES[name], GOOD[name])


@pytest.mark.parametrize("name", sorted(GOOD))
def test_predicate_of_another_type_is_refused(name: str) -> None:
    other = next(n for n in sorted(GOOD) if PREDICATE_TYPES[n] != PREDICATE_TYPES[name])
    with pytest.raises(SigningError, match="predicate for"):
        check_predicate(PREDICATE_TYPES[name], GOOD[other])


def test_custom_and_uri_types_take_any_object_but_not_other_json() -> None:
    check_predicate(predicate_type_uri("custom"), {"anything": 1})
    check_predicate(predicate_type_uri("https://example.com/my-predicate/v1"), {})
    with pytest.raises(SigningError, match="JSON object"):
        check_predicate(predicate_type_uri("custom"), ["a list"])


@pytest.mark.parametrize("text", ["not a uri", "", "cyclone"])
def test_unknown_type_names_are_refused(text: str) -> None:
    with pytest.raises(SigningError, match="neither one of"):
        predicate_type_uri(text)
