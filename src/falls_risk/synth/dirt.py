"""Identifier dirt, as real agency systems have it.

Each person source has a :class:`DirtProfile`: how often its NHS numbers are missing, spaced,
mis-keyed (the modulus-11 check then fails) or someone else's valid number; how often names
are nicknames, typos, in another case, without their Welsh accents, hyphenated or the previous
surname; how often dates of birth are missing, have day and month swapped or the year off by
one, or a placeholder (1 January of the year, 1900-01-01); placeholder NHS numbers
(0000000000, 9999999999); how often postcodes are missing, unspaced, lower case or stale after a move. All functions
are vectorised over records and draw from the generator they are given.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from falls_risk.synth.reference import name_tables

_KEYBOARD_NEIGHBOURS = {
    "a": "sq",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "q": "w",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "x": "zc",
    "y": "tu",
    "z": "x",
}


@dataclass(frozen=True)
class DirtProfile:
    nhs_missing: float = 0.0
    nhs_spaces: float = 0.0
    nhs_miskeyed: float = 0.0
    nhs_wrong_person: float = 0.0
    nhs_placeholder: float = 0.0  # 0000000000 or 9999999999 typed when the number is unknown
    nickname: float = 0.0
    forename_typo: float = 0.0
    surname_typo: float = 0.0
    name_case: float = 0.0
    accent_stripped: float = 0.5
    previous_surname: float = 0.0
    hyphenated: float = 0.0
    dob_missing: float = 0.0
    dob_swapped: float = 0.0
    dob_year_off: float = 0.0
    dob_first_january: float = 0.0  # only the year known: 1 January of it
    dob_1900: float = 0.0  # 1900-01-01 typed for "unknown"
    postcode_missing: float = 0.0
    postcode_unspaced: float = 0.0
    postcode_lower: float = 0.0
    postcode_stale: float = 0.0
    address_variant: float = 0.0
    code_case: float = 0.0
    datetime_space: float = 0.0


PROFILES: dict[str, DirtProfile] = {
    "population": DirtProfile(
        name_case=0.03, accent_stripped=0.0, postcode_unspaced=0.02, address_variant=0.02
    ),
    "inpatient_spells": DirtProfile(
        nhs_missing=0.03,
        nhs_spaces=0.05,
        nhs_miskeyed=0.004,
        nhs_wrong_person=0.001,
        dob_missing=0.01,
        dob_swapped=0.006,
        dob_year_off=0.003,
        postcode_missing=0.02,
        postcode_unspaced=0.05,
        postcode_lower=0.02,
        postcode_stale=0.15,
        code_case=0.04,
    ),
    "ed_attendances": DirtProfile(
        nhs_missing=0.08,
        nhs_spaces=0.12,
        nhs_miskeyed=0.006,
        nhs_wrong_person=0.001,
        nickname=0.08,
        forename_typo=0.015,
        surname_typo=0.015,
        name_case=0.15,
        previous_surname=0.01,
        hyphenated=0.004,
        dob_missing=0.02,
        dob_swapped=0.01,
        dob_year_off=0.004,
        postcode_missing=0.04,
        postcode_unspaced=0.1,
        postcode_lower=0.05,
        postcode_stale=0.2,
        code_case=0.05,
        datetime_space=0.15,
        nhs_placeholder=0.004,
        dob_first_january=0.005,
        dob_1900=0.003,
    ),
    "ambulance_calls": DirtProfile(
        nhs_missing=0.35,
        nhs_spaces=0.15,
        nhs_miskeyed=0.01,
        nhs_wrong_person=0.002,
        nickname=0.15,
        forename_typo=0.03,
        surname_typo=0.03,
        name_case=0.3,
        accent_stripped=0.8,
        previous_surname=0.01,
        hyphenated=0.004,
        dob_missing=0.1,
        dob_swapped=0.015,
        dob_year_off=0.01,
        postcode_missing=0.08,
        postcode_unspaced=0.2,
        postcode_lower=0.1,
        postcode_stale=0.25,
        code_case=0.05,
        datetime_space=0.5,
        nhs_placeholder=0.01,
        dob_first_january=0.02,
        dob_1900=0.01,
    ),
    "gp_events": DirtProfile(nhs_spaces=0.01, nhs_miskeyed=0.0002, code_case=0.0),
    "prescriptions": DirtProfile(nhs_spaces=0.01, nhs_miskeyed=0.0002, code_case=0.005),
    "social_care": DirtProfile(
        nickname=0.06,
        forename_typo=0.02,
        surname_typo=0.02,
        name_case=0.1,
        previous_surname=0.03,
        hyphenated=0.01,
        dob_missing=0.03,
        dob_swapped=0.01,
        dob_year_off=0.005,
        postcode_missing=0.03,
        postcode_unspaced=0.1,
        postcode_lower=0.05,
        postcode_stale=0.25,
        address_variant=0.3,
        code_case=0.05,
        dob_first_january=0.005,
    ),
    "police_incidents": DirtProfile(
        nickname=0.2,
        forename_typo=0.05,
        surname_typo=0.05,
        name_case=0.5,
        accent_stripped=0.9,
        previous_surname=0.03,
        hyphenated=0.01,
        dob_missing=0.15,
        dob_swapped=0.02,
        dob_year_off=0.01,
        postcode_missing=0.1,
        postcode_unspaced=0.25,
        postcode_lower=0.1,
        postcode_stale=0.3,
        code_case=0.08,
        dob_first_january=0.02,
        dob_1900=0.01,
    ),
    "housing_adaptations": DirtProfile(
        nickname=0.05,
        forename_typo=0.02,
        surname_typo=0.02,
        name_case=0.1,
        previous_surname=0.02,
        hyphenated=0.005,
        dob_missing=0.3,
        dob_swapped=0.01,
        dob_year_off=0.005,
        postcode_missing=0.02,
        postcode_unspaced=0.1,
        postcode_lower=0.05,
        postcode_stale=0.1,
        address_variant=0.3,
        code_case=0.05,
        dob_first_january=0.01,
        dob_1900=0.005,
    ),
}


def _pick(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    return np.flatnonzero(rng.random(n) < p) if p > 0 else np.zeros(0, dtype=np.int64)


PLACEHOLDER_NHS = ("0000000000", "9999999999")


def miskey(rng: np.random.Generator, digits: str) -> str:
    """Change one digit: modulus 11 detects every single-digit error, so the check then fails."""
    i = int(rng.integers(0, 10))
    new = (int(digits[i]) + int(rng.integers(1, 10))) % 10
    return digits[:i] + str(new) + digits[i + 1 :]


def nhs_numbers(
    rng: np.random.Generator, true_nhs: np.ndarray, other_nhs: np.ndarray, profile: DirtProfile
) -> np.ndarray:
    """NHS numbers as an agency recorded them (object array of str or None).

    ``other_nhs`` is, per record, a plausible wrong person (a spouse or a random person).
    """
    n = len(true_nhs)
    out = true_nhs.astype(str).astype(object)
    for i in _pick(rng, n, profile.nhs_wrong_person):
        out[i] = str(other_nhs[i])
    for i in _pick(rng, n, profile.nhs_placeholder):
        out[i] = PLACEHOLDER_NHS[int(rng.integers(0, len(PLACEHOLDER_NHS)))]
    for i in _pick(rng, n, profile.nhs_miskeyed):
        out[i] = miskey(rng, out[i])
    for i in _pick(rng, n, profile.nhs_spaces):
        s = out[i]
        out[i] = f"{s[:3]} {s[3:6]} {s[6:]}"
    out[_pick(rng, n, profile.nhs_missing)] = None
    return out


def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 3:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(0, 4))
    if kind == 0:  # transposition
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # deletion
        return word[:i] + word[i + 1 :]
    if kind == 2:  # doubling
        return word[:i] + word[i] + word[i:]
    near = _KEYBOARD_NEIGHBOURS.get(word[i].lower(), "e")
    return word[:i] + near[int(rng.integers(0, len(near)))] + word[i + 1 :]


def _recase(rng: np.random.Generator, out: np.ndarray, idx: np.ndarray) -> None:
    for i in idx:
        out[i] = out[i].upper() if rng.random() < 0.7 else out[i].lower()


def forenames(rng: np.random.Generator, names: np.ndarray, profile: DirtProfile) -> np.ndarray:
    n = len(names)
    out = names.copy()
    nick = name_tables().nicknames
    for i in _pick(rng, n, profile.nickname):
        options = nick.get(out[i])
        if options:
            out[i] = options[int(rng.integers(0, len(options)))]
    for i in _pick(rng, n, profile.forename_typo):
        out[i] = typo(rng, out[i])
    for i in _pick(rng, n, profile.accent_stripped):
        if not out[i].isascii():
            out[i] = strip_accents(out[i])
    _recase(rng, out, _pick(rng, n, profile.name_case))
    return out


def surnames(
    rng: np.random.Generator, names: np.ndarray, previous: np.ndarray, profile: DirtProfile
) -> np.ndarray:
    n = len(names)
    out = names.copy()
    for i in _pick(rng, n, profile.previous_surname):
        if previous[i]:
            out[i] = previous[i]
    for i in _pick(rng, n, profile.hyphenated):
        if previous[i] and previous[i] != out[i]:
            out[i] = f"{previous[i]}-{out[i]}"
    for i in _pick(rng, n, profile.surname_typo):
        out[i] = typo(rng, out[i])
    _recase(rng, out, _pick(rng, n, profile.name_case))
    return out


def dates_of_birth(rng: np.random.Generator, dob: np.ndarray, profile: DirtProfile) -> np.ndarray:
    """Dates of birth as ISO text (None when missing), with swapped day/month and year slips."""
    n = len(dob)
    text = dob.astype("datetime64[D]").astype(str).astype(object)
    for i in _pick(rng, n, profile.dob_swapped):
        y, mo, d = text[i].split("-")
        if int(d) <= 12 and d != mo:
            text[i] = f"{y}-{d}-{mo}"
    for i in _pick(rng, n, profile.dob_year_off):
        y, mo, d = text[i].split("-")
        year = int(y) + (1 if rng.random() < 0.5 else -1)
        text[i] = f"{year}-{mo}-{'28' if (mo == '02' and d == '29') else d}"
    for i in _pick(rng, n, profile.dob_first_january):
        text[i] = f"{text[i][:4]}-01-01"
    text[_pick(rng, n, profile.dob_1900)] = "1900-01-01"
    text[_pick(rng, n, profile.dob_missing)] = None
    return text


def postcodes(rng: np.random.Generator, pcs: np.ndarray, profile: DirtProfile) -> np.ndarray:
    n = len(pcs)
    out = pcs.copy()
    for i in _pick(rng, n, profile.postcode_unspaced):
        out[i] = out[i].replace(" ", "")
    for i in _pick(rng, n, profile.postcode_lower):
        out[i] = out[i].lower()
    out[_pick(rng, n, profile.postcode_missing)] = None
    return out


_STREET_ABBREVIATIONS = (
    ("Street", "St"),
    ("Road", "Rd"),
    ("Avenue", "Ave"),
    ("Close", "Cl"),
    ("Terrace", "Terr"),
    ("Crescent", "Cres"),
    ("Heol y ", "Heol-y-"),
)


def address_lines(rng: np.random.Generator, lines: np.ndarray, profile: DirtProfile) -> np.ndarray:
    out = lines.copy()
    for i in _pick(rng, len(out), profile.address_variant):
        s = out[i]
        for full, short in _STREET_ABBREVIATIONS:
            if full in s:
                s = s.replace(full, short)
                break
        if rng.random() < 0.3:
            s = s.upper()
        if rng.random() < 0.2:
            number, _, rest = s.partition(" ")
            s = f"{number}, {rest}"
        out[i] = s
    return out


def codes(rng: np.random.Generator, values: np.ndarray, p: float) -> np.ndarray:
    """Closed-vocabulary codes in mixed case now and then."""
    out = values.astype(object).copy()
    for i in _pick(rng, len(out), p):
        out[i] = out[i].capitalize() if rng.random() < 0.6 else out[i].upper()
    return out
