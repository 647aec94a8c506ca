"""The progress bar shows counts in the unit of the work, not bytes for everything."""

from __future__ import annotations

from rich.progress import DownloadColumn, MofNCompleteColumn

from chainwarden.cli.common import RichProgress


def test_record_progress_is_a_count_not_a_byte_size() -> None:
    progress = RichProgress()
    progress.enabled = True
    progress.start(None, "importing", unit="records")
    try:
        columns = progress._progress.columns
        assert not any(isinstance(c, DownloadColumn) for c in columns)
        assert any(getattr(c, "text_format", None) == "records" for c in columns)
    finally:
        progress.finish()
    progress.start(10, "importing", unit="records")
    try:
        assert any(isinstance(c, MofNCompleteColumn) for c in progress._progress.columns)
    finally:
        progress.finish()


def test_download_progress_stays_in_bytes() -> None:
    progress = RichProgress()
    progress.enabled = True
    progress.start(1000, "downloading")
    try:
        assert any(isinstance(c, DownloadColumn) for c in progress._progress.columns)
    finally:
        progress.finish()
