"""An optional randomised holdout: a reproducible share of the flagged tier kept off the list.

Only a randomised comparison says whether acting on the list helps (PRISMATIC found no benefit
from risk stratification alone). With ``score --holdout-percent P`` each flagged person is held
out when the keyed hash of their person_key and the run's month, read as a number in [0, 1), is
below P / 100. The draw is therefore random with respect to everything about the person, the same
on every re-run of the month (never re-drawn), and unknowable without the secret. Held-out people
are recorded in ``scores.parquet`` (``holdout``, pseudonymised) and counted in the ledger; they are
withheld from everything the practitioners receive. Whether to draw a holdout at all is an
ethics and information-governance decision (``docs/monitoring.md``); the default is off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from falls_risk.errors import ScoringError
from falls_risk.identity import keyed_hashes
from falls_risk.scoring.tiers import HIGH

HOLDOUT_DOMAIN = "holdout"
HOLDOUT_COLUMN = "holdout"
_HEX_DIGITS = 13  # 52 bits: exactly representable as a float in [0, 1)


def check_percent(percent: float) -> float:
    if not 0 <= percent <= 50:
        raise ScoringError(
            f"--holdout-percent {percent}: give a share of the flagged tier between 0 (off, the default) and 50."
        )
    return float(percent)


def draws(secret: bytes, person_keys: pd.Series, month: str) -> np.ndarray:
    """Each person's uniform draw in [0, 1) for ``month`` (keyed: the same every time)."""
    hashes = keyed_hashes(secret, (f"{key}:{month}" for key in person_keys), domain=HOLDOUT_DOMAIN)
    return np.array([int(h[:_HEX_DIGITS], 16) for h in hashes], dtype=np.float64) / float(16**_HEX_DIGITS)


def assign_holdout(scores: pd.DataFrame, secret: bytes, month: str, percent: float) -> pd.DataFrame:
    """``scores`` with a boolean ``holdout``: flagged people whose draw falls below percent / 100."""
    out = scores.copy()
    flagged = (out["tier"] == HIGH).to_numpy()
    held = np.zeros(len(out), dtype=bool)
    if check_percent(percent) > 0 and flagged.any():
        held[flagged] = draws(secret, out.loc[flagged, "person_key"], month) < percent / 100
    out[HOLDOUT_COLUMN] = held
    return out


def shown(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores practitioners' outputs are built from: everyone but the held-out people."""
    if HOLDOUT_COLUMN not in scores.columns:
        return scores
    return scores[~scores[HOLDOUT_COLUMN]].reset_index(drop=True)


def check_same_percent(recorded: list[dict], percent: float, month: str) -> None:
    """A re-run of a month keeps the month's holdout: refuse another percentage."""
    if not recorded:
        return
    before = float(recorded[-1].get("holdout_percent", 0) or 0)
    if before != float(percent):
        raise ScoringError(
            f"Month {month} was scored with --holdout-percent {before:g}; a re-run must keep it (the holdout is "
            f"never re-drawn), but {percent:g} was given. Re-run with --holdout-percent {before:g}."
        )
