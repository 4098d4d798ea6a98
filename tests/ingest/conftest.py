"""Fixtures for ingest tests (helpers live in ingest_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest.ingest_fixtures import canonical_tables, write_extract


@pytest.fixture
def extract_dir(tmp_path: Path) -> Path:
    """A valid canonical extract of every source, as CSV."""
    return write_extract(tmp_path / "extract", canonical_tables())
