"""Fixtures of the features tests: the tiny hand-built linked workspace (see features_fixtures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.features.features_fixtures import write_tiny_workspace


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-built linked workspace (read-only: copy before writing into it)."""
    return write_tiny_workspace(tmp_path_factory.mktemp("tiny_ws"))


@pytest.fixture()
def tiny_copy(tiny_workspace: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_workspace, tmp_path / "ws"))
