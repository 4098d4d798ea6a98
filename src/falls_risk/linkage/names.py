"""Name, date and address keys computed before linkage, so comparisons are plain equality tests.

Splink compares what it is given; these keys carry the domain knowledge: nickname groups
(Bill/William, Peggy/Margaret), surnames without punctuation, postcode sector and district,
a normalised address line. Doing it here (in Python, once per distinct value) keeps the Splink
settings free of backend-specific SQL.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import pandas as pd

ALIAS_TABLE = "forename_aliases.csv"


@lru_cache(maxsize=1)
def alias_groups() -> dict[str, tuple[str, ...]]:
    """name -> the formal names it can stand for (sorted); a formal name maps to itself too.

    A nickname with several formal names (Chris: Christopher, Christine) belongs to each of their
    groups, without merging the groups themselves.
    """
    with (
        resources.files("falls_risk.linkage")
        .joinpath("data")
        .joinpath(ALIAS_TABLE)
        .open(encoding="utf-8") as fh
    ):
        table = pd.read_csv(fh, comment="#", dtype=str, keep_default_na=False)
    groups: dict[str, set[str]] = {}
    for name, formal in zip(table["name"].str.strip(), table["formal"].str.strip(), strict=True):
        groups.setdefault(name, set()).add(formal)
        groups.setdefault(formal, set()).add(formal)
    return {name: tuple(sorted(formals)) for name, formals in groups.items()}


def forename_alias_list(forename: str | None) -> list[str] | None:
    """The alias groups of a (normalised) forename; an unknown name is its own group."""
    if not forename:
        return None
    first = forename.split()[0].split("-")[0]
    return list(alias_groups().get(first, (first,)))


_NON_LETTERS = re.compile(r"[^a-z]")


def surname_key(surname: str | None) -> str | None:
    """Letters only: O'Brien = OBrien, Smith-Jones = Smith Jones."""
    if not surname:
        return None
    key = _NON_LETTERS.sub("", surname.lower())
    return key or None


def surname_parts(surname: str | None) -> tuple[str | None, str | None]:
    """First and last part of a double-barrelled surname (Powell-Hughes: powell, hughes); else None."""
    if not surname:
        return None, None
    parts = [p for p in re.split(r"[\s-]+", surname.lower()) if p]
    if len(parts) < 2:
        return None, None
    return surname_key(parts[0]), surname_key(parts[-1])


_ADDRESS_WORDS = {
    "rd": "road",
    "st": "street",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "cl": "close",
    "cres": "crescent",
    "cresc": "crescent",
    "dr": "drive",
    "gdns": "gardens",
    "gr": "grove",
    "pl": "place",
    "sq": "square",
    "ter": "terrace",
    "terr": "terrace",
    "ct": "court",
    "flt": "flat",
}
_PUNCT = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def address_key(address: str | None) -> str | None:
    """Lower case, punctuation dropped, common street abbreviations spelt out."""
    if not address:
        return None
    text = _PUNCT.sub(" ", address.lower())
    words = [_ADDRESS_WORDS.get(word, word) for word in _SPACES.split(text.strip()) if word]
    return " ".join(words) or None


def postcode_parts(postcode: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(sector, district) of postcodes normalised as ``AB1 2CD``; missing when not that shape."""
    text = postcode.astype("string").str.upper().str.strip()
    sector = text.str.extract(r"^([A-Z]{1,2}[0-9][A-Z0-9]? [0-9])[A-Z]{2}$", expand=False)
    district = text.str.extract(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?[0-9][A-Z]{2}$", expand=False)
    return sector, district
