"""Cut daily deliveries from a synthetic world, as agencies would send them to ``falls-risk notify``.

A delivery is the extract contract: the population spine (always) plus the records of each daily
source that are new in a window of days: ambulance calls, ED attendances, police incidents and
housing applications by their event date, inpatient spells by discharge date (PEDW delivers a
spell when it ends). Rows are copied as the world wrote them, identifier dirt and bad rows
included, so the delivery is validated and quarantined like any extract.

``DIR/extract`` holds the delivery and ``DIR/truth/record_person.parquet`` each of its rows' true
person (the world's truth, renumbered to the delivery's rows), for evaluating notifications.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from falls_risk.catalog import TRUTH_RECORD_PERSON
from falls_risk.errors import FallsRiskError

# The sources delivered daily and the column that says when a record is new.
DAILY_SOURCES: dict[str, str] = {
    "ambulance_calls": "call_time",
    "ed_attendances": "arrival_time",
    "police_incidents": "incident_date",
    "inpatient_spells": "discharge_date",
    "housing_adaptations": "application_date",
}


def cut_delivery(world: Path, out: Path, since: date, until: date | None = None) -> dict[str, int]:
    """Write the delivery of records new in ``[since, until)`` (one day by default) from the world
    in ``world`` (``falls-risk synth --out``) to ``out``. Returns rows per source."""
    world, out = Path(world), Path(out)
    until = until or since + timedelta(days=1)
    extract = world / "extract"
    if not (extract / "population.csv").exists():
        raise FallsRiskError(f"{extract} holds no population.csv: give the folder `falls-risk synth --out` wrote.")
    truth = TRUTH_RECORD_PERSON.load(world / "truth")
    (out / "extract").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True, mode=0o700)
    rows: dict[str, int] = {}
    truth_parts = [truth[truth["source"] == "population"]]
    population = pd.read_csv(extract / "population.csv", dtype=str, keep_default_na=False)
    population.to_csv(out / "extract" / "population.csv", index=False)
    rows["population"] = len(population)
    for source, column in DAILY_SOURCES.items():
        path = extract / f"{source}.csv"
        if not path.exists():
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        when = pd.to_datetime(frame[column].str.slice(0, 10), errors="coerce", format="%Y-%m-%d")
        keep = (when >= pd.Timestamp(since)) & (when < pd.Timestamp(until))
        cut = frame[keep.to_numpy()]
        cut.to_csv(out / "extract" / f"{source}.csv", index=False)
        rows[source] = len(cut)
        old_rows = pd.Series(range(1, len(frame) + 1))[keep.to_numpy()].to_numpy()
        renumber = dict(zip(old_rows, range(1, len(cut) + 1), strict=True))
        mine = truth[(truth["source"] == source) & truth["row_number"].isin(old_rows)].copy()
        mine["row_number"] = mine["row_number"].map(renumber)
        truth_parts.append(mine)
    TRUTH_RECORD_PERSON.save(out / "truth", pd.concat(truth_parts, ignore_index=True))
    return rows
