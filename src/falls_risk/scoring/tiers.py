"""Risk tiers sized by what the teams can take on.

A team can see a fixed number of people a month (``capacity``), or a share of the eligible
population (``top_percent``), either across the whole region or in each local authority. The
people with the highest calibrated probability fill the ``high`` tier (the flagged list), the next
band of the same size is ``moderate`` (who to watch next month), everyone else is ``low``.
Ties are broken by ``person_key`` so the same input always gives the same list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from falls_risk.errors import ScoringError

HIGH = "high"
MODERATE = "moderate"
LOW = "low"
TIERS: tuple[str, ...] = (HIGH, MODERATE, LOW)

OVERALL = "overall"
PER_LOCAL_AUTHORITY = "local_authority"


@dataclass(frozen=True)
class TierPolicy:
    """How many people the flagged (``high``) tier holds.

    Exactly one of ``capacity`` (people) or ``top_percent`` (0-100, of the eligible) is set.
    ``per`` is ``"overall"`` or ``"local_authority"``; with ``"local_authority"`` the capacity is
    for each local authority (an int for all, or a mapping of local authority to places).
    """

    capacity: int | dict[str, int] | None = None
    top_percent: float | None = None
    per: str = OVERALL

    def __post_init__(self) -> None:
        if (self.capacity is None) == (self.top_percent is None):
            raise ScoringError(
                "Give exactly one of --capacity (people the teams can see) or --top-percent "
                f"(share of the eligible population); got capacity={self.capacity!r}, "
                f"top_percent={self.top_percent!r}."
            )
        if self.per not in (OVERALL, PER_LOCAL_AUTHORITY):
            raise ScoringError(
                f"Invalid tier grouping {self.per!r}: expected 'overall' or 'local_authority'."
            )
        if self.top_percent is not None and not 0 < self.top_percent <= 100:
            raise ScoringError(
                f"--top-percent must be above 0 and at most 100; got {self.top_percent!r}."
            )
        if isinstance(self.capacity, dict):
            if self.per != PER_LOCAL_AUTHORITY:
                raise ScoringError(
                    "A capacity per local authority needs per='local_authority' (--per-local-authority)."
                )
            bad = {k: v for k, v in self.capacity.items() if not isinstance(v, int) or v < 0}
            if bad:
                raise ScoringError(f"Capacities must be whole numbers >= 0; got {bad!r}.")
        elif self.capacity is not None and (not isinstance(self.capacity, int) or self.capacity < 1):
            raise ScoringError(f"--capacity must be a whole number >= 1; got {self.capacity!r}.")

    def places(self, group: str | None, eligible: int) -> int:
        """The size of the flagged tier for one group of ``eligible`` people."""
        if self.top_percent is not None:
            return min(eligible, math.ceil(eligible * self.top_percent / 100))
        if isinstance(self.capacity, dict):
            if group not in self.capacity:
                raise ScoringError(
                    f"No capacity given for local authority {group!r}. Add it to the capacity "
                    f"mapping (known: {sorted(self.capacity)})."
                )
            return min(eligible, self.capacity[group])
        assert self.capacity is not None
        return min(eligible, self.capacity)

    def describe(self) -> str:
        size = f"top {self.top_percent:g}%" if self.top_percent is not None else f"capacity {self.capacity}"
        where = "in each local authority" if self.per == PER_LOCAL_AUTHORITY else "overall"
        return f"{size} {where}"

    def to_dict(self) -> dict[str, object]:
        return {"capacity": self.capacity, "top_percent": self.top_percent, "per": self.per}


def assign_tiers(
    scores: pd.DataFrame,
    policy: TierPolicy,
    *,
    probability: str = "probability",
    group_column: str = "local_authority",
) -> pd.DataFrame:
    """Return ``scores`` with ``rank`` (1 = highest risk, within the group) and ``tier``.

    ``scores`` needs ``person_key`` and ``probability`` (and ``group_column`` when tiers are per
    local authority). The row order of the input is kept.
    """
    missing = [c for c in ("person_key", probability) if c not in scores.columns]
    if policy.per == PER_LOCAL_AUTHORITY and group_column not in scores.columns:
        missing.append(group_column)
    if missing:
        raise ScoringError(f"Cannot assign tiers: the score table lacks column(s) {missing}.")
    if scores[probability].isna().any():
        n = int(scores[probability].isna().sum())
        raise ScoringError(f"{n} people have no probability; every eligible person must be scored.")

    out = scores.copy()
    if policy.per == PER_LOCAL_AUTHORITY:
        groups = out[group_column].astype("string").fillna("(unknown)")
    else:
        groups = pd.Series(OVERALL, index=out.index, dtype="string")
    # Highest probability first; person_key breaks ties so reruns give the same list.
    order = np.lexsort((out["person_key"].astype(str).to_numpy(), -out[probability].to_numpy(float),
                        groups.to_numpy(str)))
    ranks = np.empty(len(out), dtype=np.int64)
    tiers = np.empty(len(out), dtype=object)
    sorted_groups = groups.to_numpy(str)[order]
    # Boundaries of each group's run in the sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    stops = np.r_[starts[1:], len(order)]
    for start, stop in zip(starts, stops, strict=True):
        idx = order[start:stop]
        n_high = policy.places(None if policy.per == OVERALL else str(sorted_groups[start]), len(idx))
        rank = np.arange(1, len(idx) + 1)
        ranks[idx] = rank
        tiers[idx] = np.where(rank <= n_high, HIGH, np.where(rank <= 2 * n_high, MODERATE, LOW))
    out["rank"] = ranks
    out["tier"] = pd.Categorical(tiers, categories=list(TIERS))
    return out
