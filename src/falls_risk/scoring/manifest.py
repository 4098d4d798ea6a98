"""What a run used and made: hashes, versions, counts and timings (``RunManifest``)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import falls_risk
from falls_risk.catalog import RUN_MANIFEST, RUN_RESULTS

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
    for artefact in RUN_RESULTS:
        path = artefact.path(run_dir)
        if path.exists():
            digest.update(artefact.file_name.encode() + b"\0" + sha256_file(path).encode() + b"\n")
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


@dataclass(frozen=True)
class ModelUsed:
    name: str | None
    version: str | None
    run_id: str | None
    uri: str
    kind: str
    registry_version: str


@dataclass(frozen=True)
class AlertPeriod:
    since: str
    until: str
    late_deliveries_from: str


@dataclass(frozen=True)
class PreviousRunRef:
    month: str
    sequence: int | None
    output_hash: str | None


@dataclass(frozen=True)
class RunManifest:
    """Everything a monthly run used and made, written beside its outputs (``catalog.RUN_MANIFEST``)."""

    month: str
    as_of: str
    extract_date: str
    extract_dir: str
    created_at: str
    model: ModelUsed
    policy: dict[str, Any]
    policy_text: str
    alert_period: AlertPeriod
    previous_run: PreviousRunRef | None
    input_hashes: dict[str, str]
    row_counts: dict[str, int]
    ingest: dict[str, dict[str, int]]
    linkage: dict[str, Any]
    timings_seconds: dict[str, float]
    drift: list[dict[str, Any]]
    warnings: list[str]
    output_files: dict[str, str]
    output_hash: str
    package_versions: dict[str, str] = field(default_factory=package_versions)
    code_version: dict[str, Any] = field(default_factory=code_version)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str) + "\n"

    def write_into(self, folder: Path) -> None:
        """Into a run folder being staged (the whole folder is renamed into place afterwards)."""
        RUN_MANIFEST.path(folder).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> RunManifest:
        data = RUN_MANIFEST.load(folder)
        previous = data["previous_run"]
        return cls(**{
            **data,
            "model": ModelUsed(**data["model"]),
            "alert_period": AlertPeriod(**data["alert_period"]),
            "previous_run": None if previous is None else PreviousRunRef(**previous),
        })
