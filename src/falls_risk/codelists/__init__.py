"""Clinical code lists (SNOMED CT, ICD-10, BNF) shipped as CSV data files.

``conditions.csv`` maps each condition to SNOMED CT concepts (GP records, matched exactly) and
ICD-10 codes (hospital diagnoses, matched by prefix, without the dot). ``frid.csv`` lists the
fall-risk-increasing drug classes by BNF prefix. The contract's reference codes are the minimum;
add rows to extend a list. Event codes are returned in the events-table form (``gp/<snomed>``,
``icd10/<code>``, ``rx/<bnf>``); a trailing ``*`` means "any code starting with".
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from falls_risk.errors import FallsRiskError

_SYSTEM_PREFIX = {"snomed": "gp/", "icd10": "icd10/", "bnf": "rx/"}


@dataclass(frozen=True)
class Condition:
    name: str
    label: str
    efi_deficit: bool
    event_codes: tuple[str, ...]


@dataclass(frozen=True)
class DrugClass:
    name: str
    label: str
    bnf_prefix: str
    bnf_section: str

    @property
    def event_code(self) -> str:
        return f"rx/{self.bnf_prefix}*"


def _read(filename: str) -> list[dict[str, str]]:
    text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def conditions() -> tuple[Condition, ...]:
    """Every condition of ``conditions.csv``, in file order."""
    codes: dict[str, list[str]] = {}
    meta: dict[str, tuple[str, bool]] = {}
    for line, row in enumerate(_read("conditions.csv"), start=2):
        system, match = row["system"], row["match"]
        if system not in ("snomed", "icd10") or match not in ("exact", "prefix"):
            raise FallsRiskError(
                f"codelists/conditions.csv line {line}: system must be snomed or icd10 and match "
                f"exact or prefix, got {system!r} / {match!r}. Fix the row."
            )
        code = row["code"].strip().upper().replace(".", "")
        event_code = _SYSTEM_PREFIX[system] + code + ("*" if match == "prefix" else "")
        codes.setdefault(row["condition"], []).append(event_code)
        meta.setdefault(row["condition"], (row["label"], row["efi_deficit"].strip().lower() == "yes"))
    return tuple(
        Condition(name=name, label=meta[name][0], efi_deficit=meta[name][1], event_codes=tuple(c))
        for name, c in codes.items()
    )


def condition(name: str) -> Condition:
    for item in conditions():
        if item.name == name:
            return item
    known = ", ".join(c.name for c in conditions())
    raise FallsRiskError(f"Unknown condition {name!r} in codelists/conditions.csv; known: {known}.")


@cache
def drug_classes() -> tuple[DrugClass, ...]:
    """Fall-risk-increasing drug classes of ``frid.csv``, in file order."""
    return tuple(
        DrugClass(
            name=row["drug_class"],
            label=row["label"],
            bnf_prefix=row["bnf_prefix"].strip().upper(),
            bnf_section=row["bnf_section"],
        )
        for row in _read("frid.csv")
    )


def icd10_prefixes(name: str) -> tuple[str, ...]:
    """The ICD-10 prefixes (no dot) of a condition, e.g. ``("S720", "S721", "S722")``."""
    return tuple(
        c.removeprefix("icd10/").rstrip("*") for c in condition(name).event_codes if c.startswith("icd10/")
    )
