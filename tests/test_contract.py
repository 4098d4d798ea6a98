"""The contract is defined once in code; the documentation must say the same thing."""

import re
from pathlib import Path

from falls_risk.contract import DIRECT_IDENTIFIERS, PERSON_SOURCES, SOURCES, Kind

DOC = Path(__file__).resolve().parents[1] / "docs" / "extract_contract.md"


def _documented_sources() -> dict[str, dict[str, bool]]:
    """Parse the sources table of docs/extract_contract.md: {source: {column: required}}."""
    sources = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("source", "") or set(cells[0]) <= {"-"}:
            continue
        if cells[0] not in SOURCES:
            continue
        columns = {}
        for raw in re.sub(r"\([^)]*\)", "", cells[2]).split(","):
            match = re.match(r"\s*(\*\*)?([a-z_0-9]+)", raw)
            if match:
                columns[match.group(2)] = bool(match.group(1))
        sources[cells[0]] = columns
    return sources


def test_documented_sources_and_columns_match_the_code():
    documented = _documented_sources()
    assert set(documented) == set(SOURCES)
    for name, source in SOURCES.items():
        assert documented[name] == {c.name: c.required for c in source.columns}, name


def test_only_population_is_a_required_source():
    assert [s.name for s in SOURCES.values() if s.required_source] == ["population"]


def test_sources_without_nhs_numbers_are_the_hard_linkage_cases():
    without = {name for name in PERSON_SOURCES if "nhs_number" not in SOURCES[name].column_names}
    assert without == {"social_care", "police_incidents", "housing_adaptations"}


def test_every_code_column_declares_its_vocabulary():
    for source in SOURCES.values():
        for column in source.columns:
            if column.kind in (Kind.CODE, Kind.SEX):
                assert column.vocabulary, f"{source.name}.{column.name}"


def test_direct_identifiers_cover_names_dates_of_birth_and_addresses():
    assert {"nhs_number", "forename", "surname", "date_of_birth", "postcode", "address_line"} <= DIRECT_IDENTIFIERS


def test_record_ids_are_unique_except_police_incidents():
    non_unique = {s.name for s in SOURCES.values() if s.id_column and not s.id_unique}
    assert non_unique == {"police_incidents"}
