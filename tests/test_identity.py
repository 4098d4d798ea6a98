"""The one NHS-number rule (10 digits, modulus-11 check) and the one person key, scalar and vectorised."""

from __future__ import annotations

import hashlib
import hmac
import re

import duckdb
import numpy as np
import pandas as pd
from hypothesis import assume, given
from hypothesis import strategies as st

from falls_risk.identity import (
    PLACEHOLDER_NHS_NUMBERS,
    check_digits,
    is_placeholder_nhs_number,
    keyed_hash,
    keyed_hashes,
    nhs_check_digit,
    nhs_number_is_valid,
    normalise_nhs_number,
    normalise_nhs_numbers,
    person_key,
    person_keys,
)

digits9 = st.text(alphabet="0123456789", min_size=9, max_size=9)
# What agencies write: numbers with and without their check digit, spaced, hyphenated, typed
# as text with letters or other punctuation, or missing.
written = st.one_of(
    st.none(),
    digits9.map(lambda s: s + (str(nhs_check_digit(s)) if nhs_check_digit(s) is not None else "0")),
    digits9.map(lambda s: s[:3] + " " + s[3:6] + "-" + s[6:] + "7"),
    st.text(alphabet="0123456789 -x./", max_size=14),
)


def with_check(stem: str) -> str | None:
    """A valid number from nine digits (None when none is, or it would be a placeholder)."""
    check = nhs_check_digit(stem)
    number = None if check is None else stem + str(check)
    return None if number is None or is_placeholder_nhs_number(number) else number


@given(digits9)
def test_a_number_with_its_check_digit_is_valid(stem: str) -> None:
    number = with_check(stem)
    assume(number is not None)
    assert nhs_number_is_valid(number)
    assert normalise_nhs_number(number) == number


@given(digits9, st.integers(0, 9), st.integers(1, 9))
def test_changing_any_one_digit_makes_the_number_invalid(stem: str, position: int, delta: int) -> None:
    # Modulus 11 with weights 10..2 catches every single-digit error.
    number = with_check(stem)
    assume(number is not None)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert not nhs_number_is_valid(changed)


@given(digits9, st.integers(0, 8))
def test_swapping_two_adjacent_different_digits_makes_it_invalid(stem: str, position: int) -> None:
    number = with_check(stem)
    assume(number is not None and number[position] != number[position + 1])
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    assert not nhs_number_is_valid(swapped)


@given(digits9, st.lists(st.sampled_from([" ", "  ", "-"]), min_size=10, max_size=10))
def test_spaces_and_hyphens_are_stripped(stem: str, separators: list[str]) -> None:
    number = with_check(stem)
    assume(number is not None)
    spaced = "".join(d + s for d, s in zip(number, separators, strict=True))
    assert normalise_nhs_number(f"  {spaced}") == number


def test_nine_digit_stems_with_check_value_ten_have_no_valid_number() -> None:
    stem = next(f"{n:09d}" for n in range(10**6) if nhs_check_digit(f"{n:09d}") is None)
    assert all(not nhs_number_is_valid(stem + str(d)) for d in range(10))


def test_known_numbers_and_non_numbers() -> None:
    assert nhs_number_is_valid("943 476 5919")  # the NHS's own published example
    assert not nhs_number_is_valid("9434765918")
    assert not nhs_number_is_valid("94347659")
    assert not nhs_number_is_valid("943476591X")
    assert not nhs_number_is_valid("943.476.5919")  # only spaces and hyphens are separators
    assert not nhs_number_is_valid(None)
    assert not nhs_number_is_valid(pd.NA)
    assert not nhs_number_is_valid(float("nan"))


@given(st.lists(written, max_size=30))
def test_vectorised_normaliser_agrees_with_the_scalar_definition(values: list[str | None]) -> None:
    out = normalise_nhs_numbers(pd.Series(values, dtype="str"))
    assert [None if pd.isna(v) else v for v in out] == [normalise_nhs_number(v) for v in values]
    assert out.index.equals(pd.RangeIndex(len(values)))


@given(st.lists(digits9, min_size=1, max_size=30))
def test_vectorised_check_digits_agree_with_the_scalar_definition(stems: list[str]) -> None:
    matrix = np.array([[int(d) for d in s] for s in stems])
    expected = [10 if nhs_check_digit(s) is None else nhs_check_digit(s) for s in stems]
    assert check_digits(matrix).tolist() == expected


# --- the rules linkage used to apply again, kept here as oracles ------------------------------
# Before issue 13, linkage re-normalised ingested NHS numbers: in Python (every non-digit
# dropped, empty -> None) and in SQL (the same with regexp_replace). Ingest's output is now read
# as it is. These tests show that nothing changed for any value ingest can write.


def _old_linkage_python(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return re.sub(r"\D", "", str(value)) or None


def _old_linkage_sql(values: list[str | None]) -> list[str | None]:
    frame = pd.DataFrame({"i": range(len(values)), "v": pd.Series(values, dtype=object)})
    con = duckdb.connect()
    con.register("t", frame)
    rows = con.sql("SELECT NULLIF(regexp_replace(CAST(v AS VARCHAR), '[^0-9]', '', 'g'), '') FROM t ORDER BY i")
    return [r[0] for r in rows.fetchall()]


@given(st.lists(written, min_size=1, max_size=30))
def test_ingested_numbers_were_already_what_linkage_made_of_them(values: list[str | None]) -> None:
    ingested = [normalise_nhs_number(v) for v in values]
    assert [_old_linkage_python(v) for v in ingested] == ingested
    assert _old_linkage_sql(ingested) == ingested


@given(written)
def test_normalising_twice_changes_nothing(value: str | None) -> None:
    once = normalise_nhs_number(value)
    assert normalise_nhs_number(once) == once
    assert once is None or re.fullmatch(r"[0-9]{10}", once)


# --- person_key -----------------------------------------------------------------------------
SECRET = b"secret-number-one-xx"


def test_person_key_is_keyed_stable_and_normalised() -> None:
    a = person_keys(SECRET, ["943 476 5919", "9434765919", None])
    b = person_keys(b"secret-number-two-xx", ["9434765919"])
    assert a[0] == a[1] and len(a[0]) == 32 and a[2] is None
    assert a[0] != b[0]
    assert "9434765919" not in a[0]
    assert person_key(SECRET, "943-476-5919") == a[0]


def test_a_number_that_fails_its_check_has_no_person_key() -> None:
    assert person_key(SECRET, "9434765918") is None
    assert person_keys(SECRET, ["9434765918", "x"]) == [None, None]


def test_keys_of_different_kinds_never_coincide() -> None:
    assert keyed_hash(SECRET, "9434765919", domain="household") != person_key(SECRET, "9434765919")


@given(st.lists(written, max_size=20))
def test_vectorised_person_keys_agree_with_the_scalar_one(values: list[str | None]) -> None:
    expected = [person_key(SECRET, v) for v in values]
    assert person_keys(SECRET, values) == expected
    assert person_keys(SECRET, pd.Series(values, dtype="str")) == expected


def _old_person_key(secret: bytes, value: object) -> str | None:
    # linkage/secret.py before issue 13: HMAC of "person:" + the digits of the value.
    digits = _old_linkage_python(value)
    if digits is None:
        return None
    return hmac.new(secret, f"person:{digits}".encode(), hashlib.sha256).hexdigest()[:32]


@given(st.lists(written, max_size=20))
def test_person_keys_of_ingested_numbers_are_the_keys_linkage_always_made(values: list[str | None]) -> None:
    # Workspaces keyed before issue 13 keep their keys: same secret, same person, same key.
    ingested = [normalise_nhs_number(v) for v in values]
    assert person_keys(SECRET, ingested) == [_old_person_key(SECRET, v) for v in ingested]


@given(st.lists(st.text(max_size=12), max_size=10), st.sampled_from(["person", "household", "review-record"]))
def test_many_keyed_hashes_are_each_the_keyed_hash(values: list[str], domain: str) -> None:
    assert keyed_hashes(SECRET, values, domain=domain) == [keyed_hash(SECRET, v, domain=domain) for v in values]


def test_placeholder_numbers_pass_modulus_11_but_are_refused_by_both_paths() -> None:
    # Every one passes the check digit, so the check alone would let them through to linkage.
    placeholders = [*sorted(PLACEHOLDER_NHS_NUMBERS), "9990000018", "999 123 4560"]
    for number in sorted(PLACEHOLDER_NHS_NUMBERS):
        assert nhs_check_digit(number[:9]) == int(number[9]), number
    assert [normalise_nhs_number(n) for n in placeholders] == [None] * len(placeholders)
    vectorised = normalise_nhs_numbers(pd.Series([*placeholders, "9434765919"], dtype="str"))
    assert vectorised.isna().tolist() == [True] * len(placeholders) + [False]
    assert not is_placeholder_nhs_number("9434765919")
