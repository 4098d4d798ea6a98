"""Checks that refuse an unsafe scoring run, each with a message that says what to do."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from falls_risk.catalog import RUN_MANIFEST
from falls_risk.errors import FallsRiskError, ScoringError, format_examples

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_of(as_of: date) -> str:
    return f"{as_of.year:04d}-{as_of.month:02d}"


def check_as_of(as_of: date, today: date | None = None) -> None:
    today = today or date.today()
    if as_of > today:
        raise ScoringError(
            f"--as-of {as_of.isoformat()} is in the future (today is {today.isoformat()}). Score as of "
            "today or an earlier date."
        )


def check_output_dir(out: Path, as_of: date) -> str:
    """The run's month; refuse an ``--out`` folder named for, or holding, a different month."""
    month = month_of(as_of)
    if MONTH_RE.match(out.name) and out.name != month:
        raise ScoringError(
            f"--out {out} is named for month {out.name}, but --as-of {as_of.isoformat()} is in {month}. "
            f"Use --out {out.parent / month} so one month never overwrites another."
        )
    if out.exists() and not out.is_dir():
        raise ScoringError(f"--out {out} is a file; give a folder for the month's outputs, e.g. {out.parent / month}.")
    if RUN_MANIFEST.exists(out):
        try:
            recorded = RUN_MANIFEST.load(out)["month"]
        except (FallsRiskError, KeyError, TypeError, OSError):
            recorded = None
        if recorded is not None and recorded != month:
            raise ScoringError(
                f"{out} holds the run for {recorded}; refusing to overwrite it with {month}. Choose "
                f"another --out, e.g. {out.parent / month}."
            )
    elif out.exists() and any(out.iterdir()):
        raise ScoringError(
            f"{out} exists and is not a scoring run folder (no {RUN_MANIFEST.file_name}). Choose an empty or "
            "new --out."
        )
    return month


def check_month_folder(entries: Sequence[dict[str, Any]], month: str, out: Path) -> None:
    """A month is always written to the same folder of the output root."""
    for entry in entries:
        if entry.get("month") == month and entry.get("output_dir") not in (None, out.name):
            raise ScoringError(
                f"Month {month} was already scored into {out.parent / entry['output_dir']}; re-run it "
                "there (--out) rather than in a second folder."
            )
        if entry.get("output_dir") == out.name and entry.get("month") != month:
            raise ScoringError(
                f"{out} already holds month {entry['month']} (ledger entry {entry.get('sequence')}); "
                f"a different month never overwrites another. Use --out {out.parent / month}."
            )


def check_extract_not_older(extract_date: date, previous: dict[str, Any] | None) -> None:
    if previous is None or not previous.get("extract_date"):
        return
    before = date.fromisoformat(str(previous["extract_date"]))
    if extract_date < before:
        raise ScoringError(
            f"The extract is dated {extract_date.isoformat()}, older than the extract of the previous "
            f"run ({previous['month']}, extract dated {before.isoformat()}). Use the latest extract, or "
            "pass --extract-date if the date was inferred wrongly."
        )


def check_model_compatible(
    model_features: Sequence[str],
    model_registry_version: str | None,
    registry_features: Sequence[str],
    registry_version: str,
    model_label: str,
) -> None:
    """The model must read only features this code computes, from the same registry version.

    A model may use a subset of the registry (an experiment can leave features out), but every
    feature it reads must be computed here with the same definition, which the registry version
    (a hash of every definition) guarantees.
    """
    problems = []
    if model_registry_version != registry_version:
        problems.append(
            f"it was trained with feature registry version {model_registry_version!r}, this code has "
            f"{registry_version!r}"
        )
    missing = [f for f in model_features if f not in registry_features]
    if missing:
        problems.append(f"it needs features this code does not compute: {format_examples(missing)}")
    if problems:
        raise ScoringError(
            f"Model {model_label} does not match this version of falls-risk: "
            + "; ".join(problems)
            + ". Retrain and register a model with this code (`falls-risk train`), or install the "
            "falls-risk version the model was trained with."
        )


def check_key_file(key_file: Path | None, runs_root: Path) -> None:
    """The key file must be readable by its owner only, and never kept with the runs it keys
    (the default key file too, when neither --key-file nor FALLS_RISK_SECRET is given)."""
    if key_file is None:
        from falls_risk.linkage.secret import DEFAULT_KEY_FILE, SECRET_ENV

        if os.environ.get(SECRET_ENV, "").strip():
            return
        key_file = DEFAULT_KEY_FILE
    path = Path(key_file).expanduser()
    if not path.exists():
        return  # load_secret says how to create one
    try:
        path.resolve().relative_to(Path(runs_root).resolve())
        inside = True
    except ValueError:
        inside = False
    if inside:
        raise ScoringError(
            f"Key file {path} is inside the runs folder {runs_root}; the key must never travel with the outputs "
            "it pseudonymises. Move it elsewhere (e.g. ~/.config/falls-risk/secret.key) and pass --key-file."
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ScoringError(
            f"Key file {path} can be read by others (mode {mode:04o}); anyone who reads it can re-identify "
            f"people from their keys. Run `chmod 600 {path}` and score again."
        )

