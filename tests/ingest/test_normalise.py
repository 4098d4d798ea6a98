"""Normalisers: NHS numbers as ingest flags them, postcodes, names, codes and date parsing.

The NHS-number rule itself is tested in tests/test_identity.py."""

from __future__ import annotations

import re

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from falls_risk.identity import normalise_nhs_number
from falls_risk.ingest import normalise as nz
from falls_risk.ingest.normalise import normalise_name, normalise_postcode


def test_vectorised_nhs_parse_flags_invalid_and_keeps_missing_unflagged() -> None:
    raw = pd.Series(["943 476 5919", "9434765918", None, "943-476-5919"], dtype="str")
    clean, invalid = nz.parse_nhs_numbers(raw)
    assert clean.tolist()[0] == "9434765919" and clean.tolist()[3] == "9434765919"
    assert clean.isna().tolist() == [False, True, True, False]
    assert invalid.tolist() == [False, True, False, False]


CANONICAL_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")
outward = st.builds(
    lambda area, district, extra: area + district + extra,
    st.text(alphabet="ABCDEFGHIJKLMNOPRSTUWYZ", min_size=1, max_size=2),
    st.text(alphabet="0123456789", min_size=1, max_size=1),
    st.text(alphabet="0123456789ABCDEFGHJKMNPRSTUVWXY", min_size=0, max_size=1),
)
inward = st.builds(
    lambda d, letters: d + letters,
    st.text(alphabet="0123456789", min_size=1, max_size=1),
    st.text(alphabet="ABDEFGHJLNPQRSTUWXYZ", min_size=2, max_size=2),
)


@given(outward, inward, st.sampled_from(["", " ", "  ", "\t"]), st.booleans())
def test_postcodes_get_upper_case_and_one_space_before_the_inward_code(
    out_code: str, in_code: str, gap: str, lower: bool
) -> None:
    written = f" {out_code}{gap}{in_code} "
    written = written.lower() if lower else written
    result = normalise_postcode(written)
    assert result == f"{out_code} {in_code}"
    assert CANONICAL_POSTCODE.match(result)


@given(st.text(max_size=12))
def test_postcode_normalisation_is_idempotent(text: str) -> None:
    once = normalise_postcode(text)
    assert normalise_postcode(once) == once
    if once is not None:
        assert once == once.upper() and "  " not in once


def test_postcodes_that_are_not_postcodes_are_not_made_to_look_like_one() -> None:
    assert normalise_postcode("not known") == "NOTKNOWN"
    assert normalise_postcode("   ") is None


def test_names_are_case_folded_with_accents_stripped() -> None:
    assert normalise_name("  José  O'Néill ") == "jose o'neill"
    assert normalise_name("STRAßE") == "strasse"
    assert normalise_name("Zoë-Ann") == "zoe-ann"
    assert normalise_name("  ") is None


@given(st.text(max_size=20))
def test_name_normalisation_is_idempotent(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once


def test_dates_are_strict_iso_unless_a_format_is_declared() -> None:
    raw = pd.Series(["2024-02-29", "2023-02-29", "29/02/2024", None, "2024-13-01"], dtype="str")
    parsed, failed = nz.parse_dates(raw)
    assert parsed.iloc[0] == pd.Timestamp("2024-02-29")
    assert failed.tolist() == [False, True, True, False, True]
    parsed, failed = nz.parse_dates(raw, ["%d/%m/%Y"])
    assert parsed.iloc[2] == pd.Timestamp("2024-02-29")
    assert parsed.iloc[0] == pd.Timestamp("2024-02-29")  # ISO is always accepted as well
    assert failed.tolist() == [False, True, False, False, True]


def test_datetimes_accept_t_or_space() -> None:
    raw = pd.Series(["2024-01-05T10:15:00", "2024-01-05 10:15:00", "2024-01-05 10:15", "2024-01-05 25:00"])
    parsed, failed = nz.parse_datetimes(raw.astype("str"))
    assert parsed.iloc[0] == parsed.iloc[1] == parsed.iloc[2] == pd.Timestamp("2024-01-05 10:15")
    assert failed.tolist() == [False, False, False, True]


def test_icd10_lists_lose_dots_and_reject_non_codes() -> None:
    raw = pd.Series(["s72.0; w01.0", "I10", "S72.0;banana", ";"], dtype="str")
    parsed, failed = nz.parse_icd10_lists(raw)
    assert parsed.tolist()[:2] == ["S720;W010", "I10"]
    assert failed.tolist() == [False, False, True, True]


def test_codes_fold_case_spaces_and_hyphens() -> None:
    assert nz.normalise_code(" Home Care ") == "home_care"
    assert nz.normalise_code("CHEST-PAIN") == "chest_pain"


digits9 = st.text(alphabet="0123456789", min_size=9, max_size=9)


@given(
    st.lists(
        st.one_of(
            st.none(),
            digits9.map(lambda s: s + "0"),
            digits9.map(lambda s: s[:3] + " " + s[3:] + "7"),
            st.text(alphabet="0123456789 -x", max_size=13),
        ),
        max_size=30,
    )
)
def test_vectorised_nhs_check_agrees_with_the_scalar_reference(values: list[str | None]) -> None:
    clean, invalid = nz.parse_nhs_numbers(pd.Series(values, dtype="str"))
    expected = [normalise_nhs_number(v) for v in values]
    assert [None if pd.isna(c) else c for c in clean.tolist()] == expected
    assert invalid.tolist() == [v is not None and e is None for v, e in zip(values, expected, strict=True)]
