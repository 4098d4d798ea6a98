"""What a run used and made: hashes, versions, counts and timings (``manifest.json``)."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import falls_risk

PACKAGES: tuple[str, ...] = (
    "falls-risk",
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "splink",
    "lightgbm",
    "scikit-learn",
    "shap",
    "mlflow",
    "pandera",
)
# Files whose content is the result of a run; the manifest and summary hold timings and so differ
# between identical reruns.
RESULT_FILES: tuple[str, ...] = ("risk_list.csv", "scores.parquet", "explanations.parquet", "features.parquet")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def hash_files(paths: Iterable[Path], relative_to: Path | None = None) -> dict[str, str]:
    """sha256 of each file, keyed by its name (or its path relative to ``relative_to``)."""
    out = {}
    for path in sorted(Path(p) for p in paths):
        key = str(path.relative_to(relative_to)) if relative_to else path.name
        out[key] = sha256_file(path)
    return out


def output_hash(run_dir: Path) -> str:
    """One hash over the result files of a run (names and contents, in a fixed order)."""
    digest = hashlib.sha256()
    for name in RESULT_FILES:
        path = run_dir / name
        if path.exists():
            digest.update(name.encode() + b"\0" + sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def code_version() -> dict[str, str | bool | None]:
    """The package version and, when run from a git checkout, the commit and whether it was dirty."""
    info: dict[str, str | bool | None] = {"package": falls_risk.__version__, "commit": None, "dirty": None}
    src = Path(falls_risk.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        if commit.returncode == 0:
            info["commit"] = commit.stdout.strip()
            # Plumbing, not `git status`: it never writes the index.
            status = subprocess.run(
                ["git", "-C", str(src), "diff-index", "--name-only", "HEAD", "--", "."],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            info["dirty"] = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return info


class StageTimer:
    """Wall-clock seconds per stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)

    @property
    def total(self) -> float:
        return round(sum(self.seconds.values()), 3)
