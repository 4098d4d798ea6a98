"""A workspace folder, and how every stage writes into it safely.

A workspace is one folder that the pipeline stages fill in order; what lives where (and which
module writes and reads it) is listed once, in :mod:`falls_risk.catalog`.

Every write goes to a temporary path beside the target and is renamed into place, so a failed
or interrupted run leaves the earlier outputs intact.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Workspace:
    """One workspace folder (its artefacts are named in :mod:`falls_risk.catalog`)."""

    root: Path

    def __init__(self, root: str | os.PathLike[str] | Workspace) -> None:
        object.__setattr__(self, "root", root.root if isinstance(root, Workspace) else Path(root))


def sql_path(path: str | os.PathLike[str]) -> str:
    """A path as a DuckDB string literal (quotes doubled: a folder may be called o'brien)."""
    return "'" + str(path).replace("'", "''") + "'"


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def exchange_paths(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Atomically swap two existing paths (Linux ``renameat2(RENAME_EXCHANGE)``). False where the
    system or filesystem cannot, so the caller falls back to renames."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), os.fspath(b))


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], staging_dir: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (or in ``staging_dir``, which must be on the same
    filesystem); rename it over ``target`` on success.

    Works for files and directories. On error the temporary path is removed and ``target``
    is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=staging_dir or target.parent))
    staged = tmp / target.name
    try:
        yield staged
        if not staged.exists():
            raise RuntimeError(f"nothing was written to the staging path for {target}")
        if target.is_dir() and not target.is_symlink():
            # Swap the folders in one step, so no moment passes with neither in place (a kill
            # between two renames would lose the old folder); two renames where that is not possible.
            if not exchange_paths(staged, target):
                old = tmp / (target.name + ".old")
                os.replace(target, old)
                os.replace(staged, target)
        else:
            os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_parquet(table: pa.Table | Any, target: str | os.PathLike[str]) -> Path:
    """Write a pyarrow Table or pandas DataFrame to ``target`` atomically."""
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with atomic_path(target) as staged:
        pq.write_table(table, staged)
    return Path(target)


def write_text(text: str, target: str | os.PathLike[str]) -> Path:
    with atomic_path(target) as staged:
        staged.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(data: Any, target: str | os.PathLike[str]) -> Path:
    return write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", target)


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def private_temp_dir(root: str | os.PathLike[str], stage: str) -> Path:
    """A fresh folder (mode 0700) inside ``root`` for one run of ``stage``'s temporary files
    (DuckDB's spill files hold whatever the stage holds: NHS numbers, names). Never the system
    temporary folder, which nothing sweeps; folders left by runs that died are removed here.
    The caller removes its folder when done."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    prefix = f".{stage}-tmp-"
    for stale in root.glob(f"{prefix}*"):
        pid = stale.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_running(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=root))  # mkdtemp: mode 0700
