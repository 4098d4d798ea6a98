"""A scoring run's working folder: the month's workspace, with identifiers, for the run's life only.

The run ingests, links and builds features in ``catalog.SCORING_WORK`` (``RUNS/.work/<month>``,
mode 0700). It writes its process id there; the folder is removed when the run ends (unless kept
on purpose), and a folder whose run died (killed, power cut) is removed by the next run, because
it holds the month's ingested extracts, names and addresses included.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from falls_risk.catalog import SCORING_WORK
from falls_risk.errors import ScoringError
from falls_risk.workspace import Workspace

# The process id of the run using a working folder; gone once the run has finished with it.
WORK_OWNER = "owner.pid"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to someone else
        pass
    return True


def clear_abandoned_work(root: Path) -> list[Path]:
    """Remove working folders whose run died before cleaning up. A folder whose run is still
    going, or that was kept on purpose (``keep_work``: no owner file), stays."""
    removed = []
    for folder in sorted(SCORING_WORK.path(root, month="*").parent.glob("*")):
        try:
            owner = int((folder / WORK_OWNER).read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            continue
        if owner != os.getpid() and _running(owner):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


@contextlib.contextmanager
def working_folder(root: Path, month: str, *, keep: bool = False) -> Iterator[Workspace]:
    """The month's fresh working workspace; removed afterwards unless ``keep``."""
    clear_abandoned_work(root)
    folder = SCORING_WORK.path(root, month=month)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, mode=0o700)
    (folder / WORK_OWNER).write_text(str(os.getpid()), encoding="utf-8")
    try:
        yield Workspace(folder)
    finally:
        if keep:
            (folder / WORK_OWNER).unlink(missing_ok=True)  # kept on purpose, not abandoned
        else:
            shutil.rmtree(folder, ignore_errors=True)


# The lock a scoring run holds on its runs folder from its checks to its ledger entry.
RUN_LOCK = "score.lock"


def _lock_file(path: Path, root: Path, month: str) -> int:
    """An open descriptor of ``path`` holding its exclusive lock; refuse when another run holds it.
    The file is removed when released, so it is re-checked after locking: if the path was removed
    (a run just finished) or replaced meanwhile, lock the new file instead."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another run"
            os.close(fd)
            raise ScoringError(
                f"Another `falls-risk score` is running in {root} ({holder}); two runs at once would race "
                f"for month {month} and the ledger. Wait for it to finish, then run this one again."
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def run_lock(root: Path, month: str) -> Iterator[None]:
    """Hold the runs folder's scoring lock (fcntl, released by the kernel if the run dies); refuse
    at once when another run holds it, since two runs would race for the month and the ledger.
    The lock file is removed on release (nothing is left in the work folder)."""
    folder = SCORING_WORK.path(root, month=month).parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / RUN_LOCK
    fd = _lock_file(path, root, month)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}, month {month}".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # while still holding the lock: a waiting run re-checks the path
        os.close(fd)
