"""The pandera schemas generated from the contract, and how their failures become reasons."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from falls_risk.contract import SOURCES, Kind
from falls_risk.ingest import build_schema
from falls_risk.ingest.mapping import EMPTY_SOURCE_MAPPING
from falls_risk.ingest.readers import locate, read_source
from falls_risk.ingest.schema import row_reasons, row_reasons_from_failure_cases
from falls_risk.ingest.validate import normalise_source
from tests.ingest.ingest_fixtures import write_extract
from tests.ingest.test_run_ingest import dirty_tables


def test_every_source_gets_a_schema_with_every_contract_column() -> None:
    for name, source in SOURCES.items():
        schema = build_schema(source, dt.date(2025, 1, 1))
        assert set(source.column_names) <= set(schema.columns), name
        for col in source.columns:
            component = schema.columns[col.name]
            assert component.nullable is (not col.required), (name, col.name)
            assert component.unique is (col.name == source.id_column and source.id_unique), (name, col.name)
            if col.vocabulary:
                assert any("not one of" in c.error for c in component.checks), (name, col.name)
        if "nhs_number" in source.column_names:
            assert "nhs_number_invalid" in schema.columns
    # police incident ids repeat once per person; gp_events have no id
    assert not build_schema(SOURCES["police_incidents"], None).columns["incident_id"].unique


def normalised_dirty(tmp_path: Path):
    extract = write_extract(tmp_path / "extract", dirty_tables())
    for name, source in SOURCES.items():
        file = locate(extract, name, EMPTY_SOURCE_MAPPING)
        yield name, normalise_source(source, read_source(file, EMPTY_SOURCE_MAPPING).frame, EMPTY_SOURCE_MAPPING)


def test_fast_row_reasons_equal_pandera_lazy_validation_failure_cases(tmp_path: Path) -> None:
    seen_any = False
    for name, norm in normalised_dirty(tmp_path):
        schema = build_schema(norm.source, dt.date(2025, 1, 1))
        fast = row_reasons(schema, norm.frame)
        reference = row_reasons_from_failure_cases(schema, norm.frame)
        assert fast.keys() == reference.keys(), name
        for reason in fast:
            np.testing.assert_array_equal(fast[reason], reference[reason], err_msg=f"{name}: {reason}")
        seen_any |= bool(fast)
    assert seen_any


def test_a_frame_with_a_wrong_dtype_is_an_ingest_bug_not_a_data_error(tmp_path: Path) -> None:
    _, norm = next(normalised_dirty(tmp_path))
    frame = norm.frame.astype({"date_of_birth": "str"})
    with pytest.raises(RuntimeError, match="structural"):
        row_reasons(build_schema(SOURCES["population"], None), frame)


def test_dtypes_follow_the_column_kinds() -> None:
    schema = build_schema(SOURCES["ed_attendances"], None)
    kinds = {c.name: c.kind for c in SOURCES["ed_attendances"].columns}
    assert kinds["arrival_time"] is Kind.DATETIME
    assert str(schema.columns["arrival_time"].dtype).startswith("datetime64")
    assert "str" in str(schema.columns["attendance_id"].dtype)
    assert str(build_schema(SOURCES["deprivation"], None).columns["wimd_rank"].dtype) == "Int64"
