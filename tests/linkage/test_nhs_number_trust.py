"""Issue 19.1 and 19.3: a placeholder NHS number links nobody; a spine row without a valid
number is still a person; the same extract linked twice gives the same links."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from falls_risk.identity import person_keys, spine_person_keys
from falls_risk.ingest.normalise import parse_nhs_numbers
from falls_risk.linkage import load_secret, run_linkage
from falls_risk.scoring.outputs import identities

PLACEHOLDER = "0000000000"


def test_thirty_women_carrying_one_placeholder_number_do_not_all_link_to_one_woman(
    mini_world: tuple[Path, Path], tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(mini_world[0], ws)
    population = pd.read_parquet(ws / "ingested" / "population.parquet")
    women = population[population["sex"] == "F"].iloc[:31]
    # The first woman's record in the population file carries the placeholder, as typed by the practice.
    holder = women.index[0]
    population["nhs_number"] = population["nhs_number"].astype(object)
    population.loc[holder, "nhs_number"] = PLACEHOLDER
    population["nhs_number"], population["nhs_number_invalid"] = parse_nhs_numbers(population["nhs_number"])
    population.to_parquet(ws / "ingested" / "population.parquet", index=False)
    # Thirty other women's ED attendances, each with the same placeholder number.
    ed = pd.read_parquet(ws / "ingested" / "ed_attendances.parquet")
    others = women.iloc[1:]
    extra = pd.DataFrame(
        {
            "forename": others["forename"].to_numpy(),
            "surname": others["surname"].to_numpy(),
            "date_of_birth": others["date_of_birth"].to_numpy(),
            "sex": "F",
            "postcode": others["postcode"].to_numpy(),
            "attendance_id": [f"EDX{i:04d}" for i in range(len(others))],
            "arrival_time": pd.Timestamp("2023-05-01 10:00"),
        }
    )
    extra["nhs_number"], extra["nhs_number_invalid"] = parse_nhs_numbers(pd.Series([PLACEHOLDER] * len(extra)))
    extra["row_number"] = range(len(ed) + 1, len(ed) + len(extra) + 1)
    pd.concat([ed, extra], ignore_index=True).to_parquet(ws / "ingested" / "ed_attendances.parquet", index=False)

    summary = run_linkage(ws, progress=False)
    secret = load_secret(workspace=ws)
    linked = pd.read_parquet(ws / "linked" / "ed_attendances.parquet").set_index("row_number")
    rows = linked.loc[extra["row_number"]]
    holder_key = spine_person_keys(secret, population.loc[[holder]])[0]
    assert holder_key is not None
    assert (rows["person_key"] != holder_key).all()
    assert (rows["link_method"] != "nhs_number").all()
    # Each woman's attendance goes to her own record (by her name, birth date and address) or stays unlinked.
    truth = person_keys(secret, others["nhs_number"])
    linked_rows = rows["person_key"].notna().to_numpy()
    assert linked_rows.sum() >= 25
    assert (rows["person_key"].to_numpy()[linked_rows] == pd.Series(truth).to_numpy()[linked_rows]).all()
    assert summary.sources["ed_attendances"]["nhs_number_refused"] >= 30
    # The placeholder's holder is still a person, flagged as having no valid number.
    pop = pd.read_parquet(ws / "linked" / "population.parquet").set_index("person_key")
    assert not pop.loc[holder_key, "nhs_number_valid"]
    assert summary.spine_people == len(population)
    # ... whom scoring names on the risk list by the same key (it no longer drops her).
    named = identities(ws / "ingested" / "population.parquet", secret).set_index("person_key")
    assert named.loc[holder_key, "surname"] == population.loc[holder, "surname"]


def test_a_mis_keyed_number_of_another_woman_is_counted_and_decided_by_the_model(
    mini_world: tuple[Path, Path], tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(mini_world[0], ws)
    population = pd.read_parquet(ws / "ingested" / "population.parquet")
    women = population[population["sex"] == "F"]
    a, b = women.iloc[0], women[(women["surname"] != women.iloc[0]["surname"])].iloc[0]
    ed = pd.read_parquet(ws / "ingested" / "ed_attendances.parquet")
    row = {
        "nhs_number": a["nhs_number"],  # a's number on b's attendance
        "nhs_number_invalid": False,
        "forename": b["forename"],
        "surname": b["surname"],
        "date_of_birth": b["date_of_birth"],
        "sex": "F",
        "postcode": b["postcode"],
        "attendance_id": "EDMISKEY",
        "arrival_time": pd.Timestamp("2023-05-01 10:00"),
        "row_number": len(ed) + 1,
    }
    if a["date_of_birth"] == b["date_of_birth"]:
        return  # a coincidence the rule rightly ignores; the world has none at this seed
    pd.concat([ed, pd.DataFrame([row])], ignore_index=True).to_parquet(
        ws / "ingested" / "ed_attendances.parquet", index=False
    )
    summary = run_linkage(ws, progress=False)
    secret = load_secret(workspace=ws)
    linked = pd.read_parquet(ws / "linked" / "ed_attendances.parquet").set_index("row_number")
    assert linked.loc[row["row_number"], "person_key"] != person_keys(secret, [a["nhs_number"]])[0]
    assert linked.loc[row["row_number"], "link_method"] != "nhs_number"
    assert summary.sources["ed_attendances"]["nhs_number_contradicted"] >= 1


def test_the_same_extract_linked_twice_gives_the_same_links(
    linked_workspace: Path, ingested_workspace: Path, tmp_path: Path
) -> None:
    # Issue 14: a second workspace, a model trained again from scratch: identical links.
    again = tmp_path / "again"
    shutil.copytree(ingested_workspace, again)
    run_linkage(again, progress=False)
    def model(ws: Path) -> dict:
        settings = json.loads((ws / "linkage" / "model.json").read_text())
        settings.pop("linker_uid", None)  # Splink's name for the run, not a parameter
        return settings

    assert model(again) == model(linked_workspace)  # every m and u, exactly
    for path in sorted((linked_workspace / "linked").glob("*.parquet")):
        before = pd.read_parquet(path)
        after = pd.read_parquet(again / "linked" / path.name)
        pd.testing.assert_frame_equal(before, after, check_exact=True, obj=path.name)
