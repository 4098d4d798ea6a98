from __future__ import annotations

import stat
from pathlib import Path

import pytest

from falls_risk.errors import LinkageError
from falls_risk.linkage.secret import SECRET_ENV, create_secret_file, load_secret


def test_env_secret_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "a-long-enough-secret-value")
    assert load_secret() == b"a-long-enough-secret-value"


def test_missing_secret_says_how_to_create_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(LinkageError, match="secrets.token_hex"):
        load_secret()


def test_key_file_is_created_private_and_read(tmp_path: Path) -> None:
    path = create_secret_file(tmp_path / "keys" / "secret.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = load_secret(path)
    assert len(first) >= 32
    assert create_secret_file(path) == path and load_secret(path) == first  # never overwritten


def test_key_file_inside_workspace_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    key = create_secret_file(ws / "secret.key")
    with pytest.raises(LinkageError, match="inside the workspace"):
        load_secret(key, workspace=ws)


def test_short_secret_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "short.key"
    key.write_text("abc\n")
    with pytest.raises(LinkageError, match="at least 16"):
        load_secret(key)
