"""``mirror`` input validation: destinations and ``--from-file`` lists (no registry needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.errors import UsageError
from chainwarden.policy.mirror import read_image_list


def test_from_file_lines_and_prefix(tmp_path: Path) -> None:
    listing = tmp_path / "images.txt"
    listing.write_text("# base images\nnginx:1.27\n\nghcr.io/org/app:2 reg.example/org/app:stable  # pinned\n")
    assert read_image_list(listing, "reg.example/mirror/") == [
        ("nginx:1.27", "reg.example/mirror/nginx"),
        ("ghcr.io/org/app:2", "reg.example/org/app:stable"),
    ]


@pytest.mark.parametrize(
    ("text", "prefix", "message"),
    [
        ("", "reg.example/m", "no images listed"),
        ("a b c\n", "reg.example/m", "expected 'SRC \\[DST\\]'"),
        ("nginx:1\n", None, "no destination"),
        ("Not A Ref\n", "reg.example/m", "expected 'SRC"),
    ],
)
def test_from_file_mistakes(tmp_path: Path, text: str, prefix: str | None, message: str) -> None:
    listing = tmp_path / "images.txt"
    listing.write_text(text)
    with pytest.raises(UsageError, match=message):
        read_image_list(listing, prefix)
