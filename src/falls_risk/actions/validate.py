"""What teams did, read and checked like an agency extract.

An actions file has one row per person and action: ``nhs_number``, ``action_date`` and
``action`` (from :data:`ACTIONS`), optionally ``notification_id``, ``list_month`` (``YYYY-MM``,
the run whose list the action answers), ``team`` and ``note``. It is read by ingest's own readers
and normalised and validated by ingest's own rules (the same pandera schema machinery, the same
reasons), so a team sees the same messages for both; bad rows are quarantined with every reason,
never dropped. The NHS number is pseudonymised at once (``identity.person_keys`` with the
workspace's secret); the free-text ``note`` is never kept beyond the quarantine, because free text
can name people.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from falls_risk.contract import Column, Kind, Source
from falls_risk.errors import ExtractError
from falls_risk.identity import person_keys
from falls_risk.ingest.mapping import SourceMapping
from falls_risk.ingest.readers import SourceFile, read_source
from falls_risk.ingest.validate import NHS_INVALID, REASONS, ROW_NUMBER, normalise_source, validate_source

# What a team can record; "acted on" are the ones that are an intervention.
CONTACTED, ASSESSED, REFERRED, MEDICATION_REVIEW, ADAPTATION = (
    "contacted", "assessed", "referred", "medication_review", "adaptation")
DECLINED, UNREACHABLE, ALREADY_KNOWN, NO_ACTION = "declined", "unreachable", "already_known", "no_action"
ACTIONS: tuple[str, ...] = (CONTACTED, ASSESSED, REFERRED, MEDICATION_REVIEW, ADAPTATION,
                            DECLINED, UNREACHABLE, ALREADY_KNOWN, NO_ACTION)
ACTED_ON: frozenset[str] = frozenset({CONTACTED, ASSESSED, REFERRED, MEDICATION_REVIEW, ADAPTATION})

ACTIONS_SOURCE = Source(
    name="actions",
    row_is="one action a team took (or could not take) for one person",
    agency="falls and community teams",
    event_date_column="action_date",
    columns=(
        Column("nhs_number", Kind.NHS_NUMBER, True),
        Column("action_date", Kind.DATE, True),
        Column("action", Kind.CODE, True, ACTIONS,
               description="assessed = multifactorial falls assessment; referred = falls service, OT, strength "
               "and balance"),
        Column("notification_id", Kind.ID),
        Column("list_month", Kind.TEXT, description="YYYY-MM: the monthly list the action answers"),
        Column("team", Kind.TEXT),
        Column("note", Kind.TEXT, description="free text; quarantine only, never in the ledger"),
    ),
)

# The columns an action keeps in the ledger (pseudonymised; no note).
LEDGER_COLUMNS = ("person_key", "action_date", "action", "team", "notification_id", "list_month", "row_number",
                  "has_note")
INVALID_NHS_REASON = "nhs_number fails the modulus-11 check"
LIST_MONTH_REASON = "list_month not YYYY-MM"
FUTURE_REASON = "action_date after the import date"
DUPLICATE_REASON = "same person, date, action and team as an earlier row"
ALREADY_RECORDED_REASON = "already in the actions ledger"


@dataclass(frozen=True)
class ValidatedActions:
    """An actions file split: accepted actions (pseudonymised) and quarantined rows (raw, with reasons)."""

    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    reasons: dict[str, int]

    @property
    def read(self) -> int:
        return len(self.accepted) + len(self.quarantined)


def _text(series: pd.Series) -> pd.Series:
    return series.astype("object").where(series.notna(), None)


def validate_actions(
    path: Path, secret: bytes, *, today: dt.date, recorded: set[tuple[str, str, str, str]] = frozenset()
) -> ValidatedActions:
    """Read ``path`` (CSV, Parquet or Excel) and split it; ``recorded`` holds the (person_key,
    action_date, action, team) already in the ledger, so a re-sent row is quarantined, not doubled."""
    path = Path(path)
    if not path.is_file():
        raise ExtractError(f"{path} does not exist. Give the actions file (CSV, Parquet or Excel).")
    raw = read_source(SourceFile("actions", path), SourceMapping()).frame
    missing = [c for c in ACTIONS_SOURCE.required_columns if c not in raw.columns]
    if missing:
        raise ExtractError(
            f"{path}: missing required column(s) {', '.join(missing)} (columns found: "
            f"{', '.join(map(str, raw.columns))}). An actions file needs nhs_number, action_date and action."
        )
    norm = normalise_source(ACTIONS_SOURCE, raw, SourceMapping())
    frame = norm.frame
    extra: dict[str, np.ndarray] = {
        INVALID_NHS_REASON: frame[NHS_INVALID].to_numpy(dtype=bool),
        LIST_MONTH_REASON: (frame["list_month"].notna()
                            & ~frame["list_month"].str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").fillna(False)
                            ).to_numpy(dtype=bool),
        FUTURE_REASON: (frame["action_date"] > pd.Timestamp(today)).fillna(False).to_numpy(dtype=bool),
    }
    keys = pd.Series(person_keys(secret, frame["nhs_number"]), index=frame.index, dtype="object")
    identity = pd.DataFrame({"k": keys, "d": frame["action_date"].dt.strftime("%Y-%m-%d"),
                             "a": frame["action"], "t": frame["team"].fillna("")})
    complete = identity[["k", "d", "a"]].notna().all(axis=1).to_numpy()
    extra[DUPLICATE_REASON] = complete & identity.duplicated(keep="first").to_numpy()
    extra[ALREADY_RECORDED_REASON] = complete & np.array(
        [tuple(r) in recorded for r in identity.itertuples(index=False, name=None)], dtype=bool)
    for reason, mask in extra.items():
        if mask.any():
            norm.parse_failures[reason] = mask
    validated = validate_source(norm, None)
    accepted = validated.accepted.to_pandas()
    actions = pd.DataFrame({
        "person_key": person_keys(secret, accepted["nhs_number"]),
        "action_date": pd.to_datetime(accepted["action_date"]).dt.strftime("%Y-%m-%d"),
        "action": accepted["action"],
        "team": _text(accepted["team"]),
        "notification_id": _text(accepted["notification_id"]),
        "list_month": _text(accepted["list_month"]),
        "row_number": accepted[ROW_NUMBER].astype(int),
        "has_note": accepted["note"].notna(),
    }, columns=list(LEDGER_COLUMNS))
    quarantined = validated.quarantined.to_pandas()
    if REASONS not in quarantined.columns:
        quarantined[REASONS] = pd.Series(dtype="object")
    return ValidatedActions(accepted=actions, quarantined=quarantined, reasons=dict(validated.reasons))
