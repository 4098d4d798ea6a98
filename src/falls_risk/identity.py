"""Who a record is about: the one NHS-number rule and the one ``person_key``.

An NHS number is ten digits; the tenth is the modulus-11 check digit of the first nine (weights
10 down to 2). Agencies write it with spaces or hyphens (``943 476 5919``), which are dropped.
Anything else (a letter, nine digits, a failed check) is not a number to trust, so it
normalises to None. So does a *placeholder*: a number that passes modulus 11 but is nobody's,
typed when the real one is unknown (``0000000000``, ``9999999999``, any ten repeated digits,
``0123456789``) or from the NHS's test range (``999`` followed by seven digits, never issued to a
patient). Linked on, one placeholder would pour the records of many people onto one
(:data:`PLACEHOLDER_NHS_NUMBERS`, :func:`is_placeholder_nhs_number`). Ingest applies the rule once (an invalid number becomes missing and is
flagged ``nhs_number_invalid``); linkage and scoring read ingest's normalised column, so no
SQL or later stage re-implements it.

``person_key`` = HMAC-SHA256(secret, ``person:`` + normalised NHS number), truncated to 128
bits: the same person gets the same key in every run with the same secret, and nobody without
the secret can go back from a key to an NHS number (or test a guessed one). ``keyed_hash`` is
the one keyed hash of the project (persons, households, clerical-review records), each kind in
its own domain so that keys of different kinds never coincide. The secret itself is loaded by
:func:`falls_risk.linkage.secret.load_secret`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

NHS_WEIGHTS = np.arange(10, 1, -1)  # weights 10..2 for the first nine digits
KEY_HEX_CHARS = 32
PERSON_DOMAIN = "person"

# Numbers written when the real one is unknown. Every ten-repeated-digit number passes modulus 11
# (the check digit of nine d's is d), as do 0123456789 and 9876543210, so the check alone lets them in.
PLACEHOLDER_NHS_NUMBERS: frozenset[str] = frozenset(
    {str(d) * 10 for d in range(10)} | {"0123456789", "9876543210"}
)
# NHS test numbers: the 999 range is kept for testing and never issued to a patient.
TEST_RANGE_PREFIX = "999"

_SEPARATORS = re.compile(r"[\s-]")
_TEN_DIGITS = re.compile(r"[0-9]{10}")


# --- the NHS number: scalar definition ------------------------------------------------------


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit for nine digits, or None when no valid number can have them."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def is_placeholder_nhs_number(digits: object) -> bool:
    """True for ten digits that are a known placeholder or in the NHS test range (not a person)."""
    if _missing(digits):
        return False
    text = _SEPARATORS.sub("", str(digits))
    return text in PLACEHOLDER_NHS_NUMBERS or (len(text) == 10 and text.startswith(TEST_RANGE_PREFIX))


def normalise_nhs_number(value: object) -> str | None:
    """Spaces and hyphens dropped; the 10 digits if they pass the modulus-11 check and are not a
    placeholder, else None."""
    if _missing(value):
        return None
    digits = _SEPARATORS.sub("", str(value))
    if not _TEN_DIGITS.fullmatch(digits) or is_placeholder_nhs_number(digits):
        return None
    return digits if nhs_check_digit(digits[:9]) == int(digits[9]) else None


def nhs_number_is_valid(value: object) -> bool:
    return normalise_nhs_number(value) is not None


# --- the NHS number: vectorised -------------------------------------------------------------


def check_digits(first_nine: np.ndarray) -> np.ndarray:
    """Modulus-11 check digits of an ``(n, 9)`` array of digits; 10 where no number is valid."""
    check = 11 - (np.asarray(first_nine, dtype=np.int64) @ NHS_WEIGHTS) % 11
    return np.where(check == 11, 0, check)


def valid_nhs_mask(digits: pd.Series) -> np.ndarray:
    """Vectorised modulus-11 check of strings that are already exactly 10 digits."""
    if len(digits) == 0:
        return np.zeros(0, dtype=bool)
    matrix = np.frombuffer("".join(digits.tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 10)
    matrix = matrix.astype(np.int64) - ord("0")
    return check_digits(matrix[:, :9]) == matrix[:, 9]


def _normalise_distinct(values: pd.Series) -> pd.Series:
    # Most values are already 10 digits (every value ingest wrote): strip separators from the rest only.
    digits = values.copy()
    written = ~values.str.fullmatch(_TEN_DIGITS.pattern).fillna(True).to_numpy(dtype=bool)
    digits[written] = values[written].str.replace(_SEPARATORS.pattern, "", regex=True)
    shaped = digits.str.fullmatch(_TEN_DIGITS.pattern).fillna(False).to_numpy(dtype=bool)
    valid = np.zeros(len(values), dtype=bool)
    valid[shaped] = valid_nhs_mask(digits[shaped])
    valid &= ~placeholder_mask(digits)
    return digits.where(valid)


def placeholder_mask(digits: pd.Series) -> np.ndarray:
    """Vectorised :func:`is_placeholder_nhs_number` of separator-free strings."""
    text = digits.astype("str")
    known = text.isin(PLACEHOLDER_NHS_NUMBERS).to_numpy(dtype=bool)
    test_range = (text.str.len().eq(10) & text.str.startswith(TEST_RANGE_PREFIX)).fillna(False)
    return known | test_range.to_numpy(dtype=bool)


def normalise_nhs_numbers(raw: pd.Series) -> pd.Series:
    """:func:`normalise_nhs_number` of every value (a ``str`` Series, None where missing or
    invalid), computed once per distinct value: extracts repeat NHS numbers heavily."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    if len(uniques) == 0:
        return pd.Series(pd.array([None] * len(raw), dtype="str"), index=raw.index)
    cleaned = _normalise_distinct(pd.Series(uniques, dtype="str")).array
    out = pd.Series(cleaned.take(np.where(codes >= 0, codes, 0)), index=raw.index, dtype="str")
    out[codes < 0] = None
    return out


# --- keys -----------------------------------------------------------------------------------


def keyed_hash(secret: bytes, value: str, *, domain: str) -> str:
    """HMAC-SHA256 of ``domain:value`` as hex, truncated to 128 bits.

    The domain keeps keys of different kinds (person, household, review record) unrelated even
    when their inputs coincide.
    """
    digest = hmac.new(secret, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()
    return digest[:KEY_HEX_CHARS]


def person_key(secret: bytes, nhs_number: object) -> str | None:
    """The person's key: the keyed hash of the normalised NHS number (None when there is none)."""
    normalised = normalise_nhs_number(nhs_number)
    return None if normalised is None else keyed_hash(secret, normalised, domain=PERSON_DOMAIN)


def keyed_hashes(secret: bytes, values: Iterable[str], *, domain: str) -> list[str]:
    """:func:`keyed_hash` of many values: the keyed state is set up once and copied per value."""
    keyed = hmac.new(secret, digestmod=hashlib.sha256)
    out = []
    for value in values:
        one = keyed.copy()
        one.update(f"{domain}:{value}".encode())
        out.append(one.hexdigest()[:KEY_HEX_CHARS])
    return out


def person_keys(secret: bytes, nhs_numbers: Iterable[object]) -> list[str | None]:
    """:func:`person_key` of each NHS number, hashing each distinct number once."""
    values = nhs_numbers if isinstance(nhs_numbers, pd.Series) else pd.Series(list(nhs_numbers), dtype=object)
    codes, distinct = pd.factorize(normalise_nhs_numbers(values), use_na_sentinel=True)
    keys = np.array([*keyed_hashes(secret, distinct, domain=PERSON_DOMAIN), None], dtype=object)
    return keys[codes].tolist()  # code -1 (no valid number) takes the trailing None


# --- keys derived from the secret (the ledger's key, the key's fingerprint) --------------------

FINGERPRINT_DOMAIN = "fingerprint"
# A constant, hashed with the secret: equal fingerprints mean the same secret, and the fingerprint
# tells nothing about the secret itself (it is one HMAC output, not the key).
FINGERPRINT_CONSTANT = "falls-risk key fingerprint v1"


def derived_key(secret: bytes, purpose: str) -> bytes:
    """A 256-bit key for one ``purpose`` (HMAC-SHA256 of the secret over it, as in HKDF-Expand
    with one block): the ledger's MAC key is unrelated to the person keys made with the secret."""
    return hmac.new(secret, f"falls-risk derived key:{purpose}".encode(), hashlib.sha256).digest()


def key_fingerprint(secret: bytes) -> str:
    """Which secret this is, safe to record beside data made with it: the keyed hash of a constant."""
    return keyed_hash(secret, FINGERPRINT_CONSTANT, domain=FINGERPRINT_DOMAIN)


def mac(key: bytes, message: bytes) -> str:
    """Full HMAC-SHA256 of ``message`` as hex (the scoring ledger's line hash)."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def macs_equal(a: str, b: str) -> bool:
    """Compare two MACs in constant time (no timing hint about how much of a forgery was right)."""
    return hmac.compare_digest(a.encode(), b.encode())


# --- spine rows without a valid NHS number --------------------------------------------------

DEMOGRAPHIC_DOMAIN = "person-demographic"
DEMOGRAPHIC_COLUMNS = ("forename", "surname", "date_of_birth", "sex")


def _demographic_text(forename: object, surname: object, date_of_birth: object, sex: object) -> str | None:
    parts = []
    for value in (forename, surname, date_of_birth):
        if _missing(value) or value is pd.NaT:
            return None
        text = pd.Timestamp(value).strftime("%Y-%m-%d") if not isinstance(value, str) else value
        text = " ".join(text.lower().split())
        if not text:
            return None
        parts.append(text)
    parts.append("" if _missing(sex) else str(sex).strip().upper())
    return "|".join(parts)


def spine_person_keys(secret: bytes, spine: pd.DataFrame) -> list[str | None]:
    """The ``person_key`` of every population row, valid NHS number or not.

    A row with a valid number gets :func:`person_key`. A row whose number is missing, invalid or a
    placeholder is still a person (a mis-typed number must not drop someone from the list): it
    gets a *demographic key*, the keyed hash of forename, surname, date of birth and sex in its
    own domain, so it can never equal a key made from an NHS number. Records reach such a person
    only through probabilistic linkage. None when the name or date of birth is missing too.
    Linkage and scoring both key the spine with this one function.
    """
    keys = person_keys(secret, spine["nhs_number"])
    missing = [i for i, k in enumerate(keys) if k is None]
    if missing:
        columns = [spine[c].to_numpy(dtype=object) if c in spine else [None] * len(spine) for c in DEMOGRAPHIC_COLUMNS]
        for i in missing:
            text = _demographic_text(*(column[i] for column in columns))
            keys[i] = None if text is None else keyed_hash(secret, text, domain=DEMOGRAPHIC_DOMAIN)
    return keys
