"""The pseudonymisation secret that every keyed hash (:mod:`falls_risk.identity`) is made with.

The secret comes from ``FALLS_RISK_SECRET`` or a key file; it is never written into the
workspace. With the same secret every month, a person keeps the same ``person_key``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from falls_risk.errors import LinkageError

SECRET_ENV = "FALLS_RISK_SECRET"
DEFAULT_KEY_FILE = Path("~/.config/falls-risk/secret.key")
MIN_SECRET_BYTES = 16

_HOW_TO_CREATE = (
    f"Set {SECRET_ENV} to a long random string, or create a key file, e.g.\n"
    '  mkdir -p ~/.config/falls-risk && python -c "import secrets; print(secrets.token_hex(32))" '
    "> ~/.config/falls-risk/secret.key && chmod 600 ~/.config/falls-risk/secret.key\n"
    "Keep the key outside the workspace and use the same key every month, or person keys change."
)


def load_secret(key_file: str | os.PathLike[str] | None = None, *, workspace: Path | None = None) -> bytes:
    """Return the pseudonymisation secret.

    Order: ``key_file`` if given, else ``FALLS_RISK_SECRET``, else the default key file
    ``~/.config/falls-risk/secret.key``. A key file inside ``workspace`` is refused: the key
    must never travel with the pseudonymised data.
    """
    if key_file is None:
        env_value = os.environ.get(SECRET_ENV, "").strip()
        if env_value:
            return _checked(env_value.encode("utf-8"), f"${SECRET_ENV}")
        path = DEFAULT_KEY_FILE.expanduser()
        if not path.exists():
            raise LinkageError(
                f"No pseudonymisation secret: {SECRET_ENV} is not set and {path} does not exist. "
                + _HOW_TO_CREATE
            )
    else:
        path = Path(key_file).expanduser()
        if not path.exists():
            raise LinkageError(f"Key file {path} does not exist. " + _HOW_TO_CREATE)
    if workspace is not None and _is_within(path, Path(workspace)):
        raise LinkageError(
            f"Key file {path} is inside the workspace {workspace}; the secret must never travel with the "
            "pseudonymised data. Move it outside the workspace and pass --key-file with the new path."
        )
    return _checked(path.read_bytes().strip(), str(path))


def create_secret_file(path: str | os.PathLike[str]) -> Path:
    """Write a new random secret to ``path`` (mode 600) unless one exists; return the path."""
    path = Path(path).expanduser()
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return path


def _checked(secret: bytes, where: str) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise LinkageError(
            f"The secret in {where} is {len(secret)} bytes; use at least {MIN_SECRET_BYTES}. "
            + _HOW_TO_CREATE
        )
    return secret


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
