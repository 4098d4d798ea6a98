"""A tiny handmade world in the ingested format, for unit tests of linkage.

Small enough to train a model in a few seconds; dirty in the ways the contract describes:
nicknames, typos, day/month swaps, movers carrying an old postcode, surname changes, missing
and mis-keyed NHS numbers, and people who are not in the spine.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from falls_risk.identity import is_placeholder_nhs_number

FORENAMES_F = [
    "margaret",
    "mary",
    "elizabeth",
    "susan",
    "anne",
    "gwen",
    "rhian",
    "joan",
    "patricia",
    "carol",
    "sian",
    "helen",
    "dorothy",
    "catherine",
    "nia",
    "megan",
    "jean",
    "barbara",
    "eira",
    "glenys",
]
FORENAMES_M = [
    "william",
    "john",
    "david",
    "robert",
    "thomas",
    "gareth",
    "richard",
    "michael",
    "peter",
    "alan",
    "dafydd",
    "rhys",
    "edward",
    "james",
    "keith",
    "brian",
    "emlyn",
    "huw",
    "geraint",
    "ivor",
]
NICKNAMES = {
    "william": "bill",
    "margaret": "peggy",
    "elizabeth": "betty",
    "robert": "bob",
    "richard": "dick",
    "edward": "ted",
    "patricia": "pat",
    "michael": "mike",
    "thomas": "tom",
    "catherine": "kate",
}
SURNAMES = (
    ["jones"] * 12
    + ["davies"] * 8
    + ["williams"] * 6
    + ["evans"] * 5
    + ["thomas"] * 4
    + [
        "roberts",
        "hughes",
        "lewis",
        "morgan",
        "griffiths",
        "price",
        "owen",
        "jenkins",
        "phillips",
        "rees",
        "edwards",
        "james",
        "powell",
        "pritchard",
        "bevan",
        "llewellyn",
        "prosser",
        "vaughan",
    ]
)
STREETS = [
    "high street",
    "church road",
    "station road",
    "heol y parc",
    "mill lane",
    "park view",
    "bryn road",
    "castle street",
    "the crescent",
    "maes y coed",
]


def nhs_number(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        total = sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        number = "".join(map(str, digits)) + str(check)
        if check != 10 and not is_placeholder_nhs_number(number):
            return number


def postcode(rng: random.Random) -> str:
    return f"CF{rng.randint(1, 48)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"


def make_people(n: int, rng: random.Random) -> pd.DataFrame:
    rows = []
    for i in range(n):
        sex = rng.choice("MF")
        dob = date(1925, 1, 1) + timedelta(days=rng.randint(0, 365 * 40))
        rows.append(
            {
                "nhs_number": nhs_number(rng),
                "forename": rng.choice(FORENAMES_M if sex == "M" else FORENAMES_F),
                "surname": rng.choice(SURNAMES),
                "date_of_birth": dob,
                "sex": sex,
                "postcode": postcode(rng),
                "address_line": f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
                "lsoa_code": f"W0100{rng.randint(1000, 1099)}",
                "local_authority": "Cardiff",
                "registration_date": date(2000, 1, 1),
                "deregistration_date": None,
                "date_of_death": None,
                "old_postcode": postcode(rng),
                "old_address": f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
                "old_surname": rng.choice(SURNAMES),
                "person_id": i,
            }
        )
    return pd.DataFrame(rows)


def typo(name: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(name))
    return name[:i] + rng.choice("aeioulnrst") + name[i + 1 :]


def dirty_identity(person: dict, rng: random.Random) -> dict:
    out = {k: person[k] for k in ("forename", "surname", "date_of_birth", "sex", "postcode", "address_line")}
    roll = rng.random()
    if roll < 0.15 and person["forename"] in NICKNAMES:
        out["forename"] = NICKNAMES[person["forename"]]
    elif roll < 0.25:
        out["forename"] = typo(out["forename"], rng)
    if rng.random() < 0.08:
        out["surname"] = typo(out["surname"], rng)
    if rng.random() < 0.05 and person["sex"] == "F":
        out["surname"] = person["old_surname"]
    d = person["date_of_birth"]
    roll = rng.random()
    if roll < 0.05 and d.day <= 12 and d.day != d.month:
        out["date_of_birth"] = date(d.year, d.day, d.month)
    elif roll < 0.08:
        out["date_of_birth"] = date(d.year + rng.choice([-1, 1]), d.month, min(d.day, 28))
    elif roll < 0.12:
        out["date_of_birth"] = None
    if rng.random() < 0.2:
        out["postcode"], out["address_line"] = person["old_postcode"], person["old_address"]
    if rng.random() < 0.05:
        out["postcode"] = None
    return out


def build_world(root: Path, *, people: int = 600, seed: int = 3) -> tuple[Path, Path]:
    """Write WS/ingested/*.parquet and TRUTH/record_person.parquet; return (workspace, truth_dir)."""
    rng = random.Random(seed)
    everyone = make_people(people, rng)
    outsiders = everyone.iloc[: people // 10]  # not registered: absent from the spine
    spine = everyone.iloc[people // 10 :]
    ws, truth_dir = root / "ws", root / "truth"
    (ws / "ingested").mkdir(parents=True)
    truth_dir.mkdir(parents=True)
    pop = spine.drop(columns=["old_postcode", "old_address", "old_surname", "person_id"]).reset_index(
        drop=True
    )
    pop["row_number"] = range(1, len(pop) + 1)
    pop.to_parquet(ws / "ingested" / "population.parquet", index=False)
    pd.DataFrame(
        {"lsoa_code": [f"W0100{i}" for i in range(1000, 1100)], "wimd_rank": range(1, 101)}
    ).to_parquet(ws / "ingested" / "deprivation.parquet", index=False)
    truth = []
    social, ed, gp = [], [], []
    people_dicts = everyone.to_dict("records")
    for person in people_dicts:
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            row = dirty_identity(person, rng)
            row["record_id"] = f"SC{len(social) + 1:06d}"
            row["client_id"] = f"C{person['person_id']:05d}"
            row["service_type"] = "home_care"
            row["start_date"] = date(2022, 1, 1)
            row["row_number"] = len(social) + 1
            social.append(row)
            truth.append(("social_care", row["row_number"], row["record_id"], person["nhs_number"]))
        for _ in range(rng.choice([0, 0, 1, 2])):
            row = dirty_identity(person, rng)
            roll = rng.random()
            row["nhs_number"] = None if roll < 0.3 else person["nhs_number"]
            row["nhs_number_invalid"] = False
            row["attendance_id"] = f"ED{len(ed) + 1:06d}"
            row["arrival_time"] = pd.Timestamp("2023-03-01 10:00")
            row["row_number"] = len(ed) + 1
            row.pop("address_line")
            ed.append(row)
            truth.append(("ed_attendances", row["row_number"], row["attendance_id"], person["nhs_number"]))
        for _ in range(rng.choice([1, 2])):
            gp.append(
                {
                    "nhs_number": person["nhs_number"],
                    "event_date": date(2021, 5, 1),
                    "snomed_code": "1912002",
                    "row_number": len(gp) + 1,
                }
            )
            truth.append(("gp_events", len(gp), None, person["nhs_number"]))
    pd.DataFrame(social).to_parquet(ws / "ingested" / "social_care.parquet", index=False)
    pd.DataFrame(ed).to_parquet(ws / "ingested" / "ed_attendances.parquet", index=False)
    pd.DataFrame(gp).to_parquet(ws / "ingested" / "gp_events.parquet", index=False)
    pd.DataFrame(truth, columns=["source", "row_number", "record_id", "nhs_number"]).to_parquet(
        truth_dir / "record_person.parquet", index=False
    )
    assert len(outsiders) > 0
    return ws, truth_dir


@pytest.fixture(scope="session")
def mini_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(workspace with WS/ingested, truth dir): read-only; copy before writing."""
    return build_world(tmp_path_factory.mktemp("mini"))


@pytest.fixture(scope="session")
def mini_linked(mini_world: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini world linked once (read-only)."""
    import shutil

    from falls_risk.linkage import run_linkage

    ws = tmp_path_factory.mktemp("mini_linked") / "ws"
    shutil.copytree(mini_world[0], ws)
    run_linkage(ws, progress=False)
    return ws
