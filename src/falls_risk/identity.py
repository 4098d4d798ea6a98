"""Who a record is about: the one NHS-number rule and the one ``person_key``.

An NHS number is ten digits; the tenth is the modulus-11 check digit of the first nine (weights
10 down to 2). Agencies write it with spaces or hyphens (``943 476 5919``), which are dropped.
Anything else (a letter, nine digits, a failed check) is not a number to trust, so it
normalises to None. Ingest applies the rule once (an invalid number becomes missing and is
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


def normalise_nhs_number(value: object) -> str | None:
    """Spaces and hyphens dropped; the 10 digits if they pass the modulus-11 check, else None."""
    if _missing(value):
        return None
    digits = _SEPARATORS.sub("", str(value))
    if not _TEN_DIGITS.fullmatch(digits):
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
    return digits.where(valid)


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
