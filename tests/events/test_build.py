"""The events table holds exactly the codes its vocabulary declares, each from its kind's source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from falls_risk.events import vocabulary as v


def test_synthetic_world_events_are_all_declared(feature_workspace: Path) -> None:
    events = pd.read_parquet(feature_workspace / "events" / "events.parquet", columns=["source", "code"])
    pairs = events.drop_duplicates()
    kinds = {code: v.kind_of(code) for code in pairs["code"]}  # raises on an undeclared code
    assert all(kinds[c].source == s for s, c in pairs.itertuples(index=False))
    # Every kind is real: the world has events of each.
    assert {k.text for k in kinds.values()} == {k.text for k in v.KINDS}
