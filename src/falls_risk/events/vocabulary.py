"""The event-code vocabulary: every code the events table emits, declared once.

A code reads ``<namespace>/<what>``: ``inpatient/fall_emergency``, ``ed/fall``, ``gp/1912002``.
Each comes from one :class:`EventKind`, which names its contract source and is either a fixed
code (``police/victim``) or a prefix followed by a column's value (``ed/<presenting_complaint>``).
A column with a closed vocabulary in the contract (``falls_risk.contract``) gives exactly those
codes; an open one (SNOMED CT, BNF, ICD-10) gives the prefix followed by whatever was recorded.

Families group codes: each kind belongs to the family of its service (emergency department,
admission, ambulance...); the ``fall`` family cuts across them (every record of a fall, from any
agency). Some codes alert the practitioner when they are new (:data:`ALERTS`).

The wildcard rule, the only one: a pattern ending in ``*`` matches every code that starts with
the text before it; any other pattern matches itself only. :func:`matches` is the rule in Python,
:func:`sql_match` in SQL (DuckDB, and transpilable to Spark SQL by SQLGlot).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from falls_risk import codelists
from falls_risk.contract import OUTCOME_ICD10_PREFIXES, PERSON_SOURCES, SOURCES
from falls_risk.errors import FallsRiskError

WILDCARD = "*"

# --- The wildcard rule --------------------------------------------------------------------------


def matches(code: str, pattern: str) -> bool:
    """Whether ``code`` is one of the codes ``pattern`` stands for."""
    if pattern.endswith(WILDCARD):
        return code.startswith(pattern[: -len(WILDCARD)])
    return code == pattern


def matches_any(code: str, patterns: Iterable[str]) -> bool:
    return any(matches(code, p) for p in patterns)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _like_prefix(stem: str) -> str:
    """``LIKE`` for "starts with ``stem``"; ``_`` and ``%`` in the stem are matched literally."""
    if "_" not in stem and "%" not in stem:
        return f"LIKE {_sql_string(stem + '%')}"
    escaped = stem.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return f"LIKE {_sql_string(escaped + '%')} ESCAPE '\\'"


def sql_match(patterns: Iterable[str], column: str = "code") -> str:
    """The SQL condition "``column`` matches one of ``patterns``" (the same rule as :func:`matches`):
    ``column IN (...)`` for exact codes, ``column LIKE 'stem%'`` for each pattern ending in ``*``."""
    patterns = tuple(patterns)
    exact = [p for p in patterns if not p.endswith(WILDCARD)]
    stems = [p[: -len(WILDCARD)] for p in patterns if p.endswith(WILDCARD)]
    parts = []
    if exact:
        parts.append(f"{column} IN ({', '.join(_sql_string(c) for c in exact)})")
    parts.extend(f"{column} {_like_prefix(stem)}" for stem in stems)
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


# --- The kinds of event code --------------------------------------------------------------------


@dataclass(frozen=True)
class EventKind:
    """One kind of code the events table emits."""

    source: str  # the contract source it comes from
    family: str  # the service it records ("emergency department", "admission", ...)
    prefix: str  # the whole code of a fixed kind; the text before the value otherwise
    column: str | None = None  # the contract column whose value follows the prefix
    suffix: str = ""  # text after the value ("_conveyed")
    placeholder: str | None = None  # how the value is written in documents (default: the column)
    means: str = ""  # what one event of this kind is
    value: str = ""  # what the events table's ``value`` holds, if anything
    end: str = ""  # what its ``end_time`` holds, if anything

    @property
    def is_fixed(self) -> bool:
        return self.column is None

    @property
    def values(self) -> tuple[str, ...] | None:
        """The values the column can take (its contract vocabulary); None when open or fixed."""
        if self.column is None:
            return None
        return SOURCES[self.source].column(self.column).vocabulary or None

    @property
    def text(self) -> str:
        """The kind as documents write it: ``ed/<presenting_complaint>``, ``police/victim``."""
        if self.column is None:
            return self.prefix
        return f"{self.prefix}<{self.placeholder or self.column}>{self.suffix}"

    @property
    def codes(self) -> tuple[str, ...]:
        """Every code of the kind, when they can be listed (fixed, or a closed vocabulary)."""
        if self.column is None:
            return (self.prefix,)
        return tuple(self.prefix + v + self.suffix for v in self.values or ())

    def code(self, value: str | None = None) -> str:
        """The code for ``value`` (none for a fixed kind); a value outside the contract's
        vocabulary is a mistake in the code that asks for it."""
        if self.column is None:
            if value is not None:
                raise FallsRiskError(f"{self.text} is a fixed code: it takes no value (got {value!r}).")
            return self.prefix
        if not value or (self.values is not None and value not in self.values):
            allowed = "/".join(self.values) if self.values else "a non-empty value"
            raise FallsRiskError(
                f"{self.text}: {value!r} is not a value of {self.source}.{self.column}; expected {allowed}."
            )
        return self.prefix + value + self.suffix

    def emits(self, code: str) -> bool:
        """Whether this kind can emit ``code``."""
        if self.column is None or self.values is not None:
            return code in self.codes
        return code.startswith(self.prefix) and len(code) > len(self.prefix)

    def can_match(self, pattern: str) -> bool:
        """Whether this kind can emit a code that ``pattern`` matches."""
        if not pattern.endswith(WILDCARD):
            return self.emits(pattern)
        stem = pattern[: -len(WILDCARD)]
        if self.column is None or self.values is not None:
            return any(c.startswith(stem) for c in self.codes)
        return stem.startswith(self.prefix) or self.prefix.startswith(stem)

    def sql(self, value_sql: str | None = None) -> str:
        """The SQL expression of the code, from the SQL of its value (none for a fixed kind)."""
        if self.column is None:
            return _sql_string(self.prefix)
        if value_sql is None:
            raise FallsRiskError(f"{self.text}: the SQL of the {self.column} value is needed.")
        tail = f" || {_sql_string(self.suffix)}" if self.suffix else ""
        return f"{_sql_string(self.prefix)} || {value_sql}{tail}"


_OUTCOME_RANGE = f"{OUTCOME_ICD10_PREFIXES[0]}-{OUTCOME_ICD10_PREFIXES[-1]}"

ADMISSION = EventKind(
    "inpatient_spells",
    "admission",
    "inpatient/",
    "admission_method",
    means="a hospital spell, by admission method",
    value="length of stay in days",
    end="discharge",
)
FALL_ADMISSION = EventKind(
    "inpatient_spells",
    "admission",
    "inpatient/fall_emergency",
    means=f"an emergency spell with any diagnosis in ICD-10 {_OUTCOME_RANGE} (the outcome)",
)
HIP_FRACTURE_ADMISSION = EventKind(
    "inpatient_spells",
    "admission",
    "inpatient/hip_fracture",
    means="an emergency spell with a hip-fracture diagnosis (code list `hip_fracture`)",
)
DIAGNOSIS = EventKind(
    "inpatient_spells",
    "diagnosis",
    "icd10/",
    "diagnoses",
    placeholder="code",
    means="one diagnosis of a spell (ICD-10, upper case, no dot)",
)
ED_ATTENDANCE = EventKind(
    "ed_attendances",
    "emergency department",
    "ed/",
    "presenting_complaint",
    means="an emergency-department attendance, by presenting complaint",
)
GP_RECORD = EventKind(
    "gp_events", "GP", "gp/", "snomed_code", means="a coded primary-care record (SNOMED CT concept)"
)
PRESCRIPTION = EventKind(
    "prescriptions", "prescription", "rx/", "bnf_code", means="a prescription issue (BNF code, upper case)"
)
AMBULANCE_CONVEYED = EventKind(
    "ambulance_calls",
    "ambulance",
    "ambulance/",
    "chief_complaint",
    suffix="_conveyed",
    means="an ambulance call, by chief complaint, where they were taken to hospital",
)
AMBULANCE_NOT_CONVEYED = EventKind(
    "ambulance_calls",
    "ambulance",
    "ambulance/",
    "chief_complaint",
    suffix="_not_conveyed",
    means="an ambulance call, by chief complaint, where they were not taken to hospital",
)
SOCIAL_CARE = EventKind(
    "social_care",
    "social care",
    "social_care/",
    "service_type",
    means="a social-care service episode, at its start",
    value="weekly hours",
    end="end of the episode",
)
POLICE_INCIDENT = EventKind(
    "police_incidents",
    "police",
    "police/",
    "incident_type",
    means="an involvement in a police incident, by incident type",
)
POLICE_VICTIM = EventKind(
    "police_incidents",
    "police",
    "police/victim",
    means="an involvement in a police incident as the victim (beside the incident-type code)",
)
HOUSING_APPLICATION = EventKind(
    "housing_adaptations",
    "housing",
    "housing/application/",
    "adaptation_type",
    placeholder="type",
    means="an application for a home adaptation, at application",
    end="completion",
)
HOUSING_COMPLETED = EventKind(
    "housing_adaptations",
    "housing",
    "housing/completed/",
    "adaptation_type",
    placeholder="type",
    means="a home adaptation, at completion",
)

KINDS: tuple[EventKind, ...] = (
    ADMISSION,
    FALL_ADMISSION,
    HIP_FRACTURE_ADMISSION,
    DIAGNOSIS,
    ED_ATTENDANCE,
    GP_RECORD,
    PRESCRIPTION,
    AMBULANCE_CONVEYED,
    AMBULANCE_NOT_CONVEYED,
    SOCIAL_CARE,
    POLICE_INCIDENT,
    POLICE_VICTIM,
    HOUSING_APPLICATION,
    HOUSING_COMPLETED,
)


def kinds_of(source: str) -> tuple[EventKind, ...]:
    return tuple(k for k in KINDS if k.source == source)


def kind_of(code: str) -> EventKind:
    """The kind that emits ``code``."""
    for kind in KINDS:
        if kind.emits(code):
            return kind
    raise FallsRiskError(f"{code!r} is not a code the events table emits (see falls_risk.events.vocabulary).")


def can_emit(pattern: str) -> bool:
    """Whether the events table can hold a code that ``pattern`` matches."""
    return any(k.can_match(pattern) for k in KINDS)


def pattern_problem(pattern: str) -> str | None:
    """What is wrong with ``pattern`` as a code to count, or None if nothing."""
    if WILDCARD in pattern.removesuffix(WILDCARD):
        return f"has {WILDCARD!r} before its end (a wildcard may only end a code)"
    if not can_emit(pattern):
        return "matches no code the events table emits (see falls_risk.events.vocabulary)"
    return None


def _namespace(kind: EventKind) -> str:
    return kind.prefix.split("/", 1)[0] + "/"


def patterns_of(*kinds: EventKind) -> tuple[str, ...]:
    """The fewest patterns that match exactly the codes of ``kinds``: ``ed/*`` for every
    attendance, ``ambulance/*`` for both ambulance kinds, the listed codes when another kind
    shares the prefix (``inpatient/emergency``, ...)."""
    out: list[str] = []
    for namespace in dict.fromkeys(_namespace(k) for k in kinds):
        own = [k for k in kinds if _namespace(k) == namespace]
        everyone = [k for k in KINDS if _namespace(k) == namespace]
        if set(everyone) <= set(own):
            out.append(namespace + WILDCARD)
            continue
        for kind in own:
            every = kind.prefix + WILDCARD
            alone = not kind.is_fixed and not kind.suffix
            alone = alone and not any(o.can_match(every) for o in everyone if o is not kind)
            if not alone and not kind.codes:
                raise FallsRiskError(f"{kind.text}: an open kind must not share its prefix with another kind.")
            out.extend([every] if alone else kind.codes)
    return tuple(dict.fromkeys(out))


# --- Families -----------------------------------------------------------------------------------

FALL = "fall"

# Every record of a fall, whichever agency made it.
_FALLS: tuple[str, ...] = (
    *(c for c in codelists.condition("fall").event_codes if GP_RECORD.emits(c)),
    ED_ATTENDANCE.code("fall"),
    AMBULANCE_CONVEYED.code("fall"),
    AMBULANCE_NOT_CONVEYED.code("fall"),
    FALL_ADMISSION.code(),
    *(c for c in codelists.condition("fall").event_codes if not GP_RECORD.emits(c)),
)

FAMILIES: dict[str, tuple[str, ...]] = {
    FALL: _FALLS,
    **{
        family: patterns_of(*(k for k in KINDS if k.family == family))
        for family in dict.fromkeys(k.family for k in KINDS)
    },
}


def family(name: str) -> tuple[str, ...]:
    """The patterns of a family, e.g. ``family("emergency department") == ("ed/*",)``."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise FallsRiskError(f"Unknown event-code family {name!r}; known: {', '.join(FAMILIES)}.") from None


def in_family(pattern: str, name: str) -> bool:
    """Whether every code ``pattern`` matches is in the family: ``ed/fall`` is a fall, ``ed/*``
    is not (most attendances are not for a fall)."""
    return matches_any(pattern, family(name))


def families_of(code: str) -> tuple[str, ...]:
    return tuple(name for name, patterns in FAMILIES.items() if matches_any(code, patterns))


# --- Alerts -------------------------------------------------------------------------------------

# Codes a practitioner should hear of when they are new, and how the alert reads to them.
ALERTS: dict[str, str] = {
    pattern: wording
    for patterns, wording in (
        ((AMBULANCE_NOT_CONVEYED.code("fall"),), "ambulance call for a fall, not taken to hospital"),
        ((ED_ATTENDANCE.code("fall"),), "emergency department attendance for a fall"),
        ((POLICE_INCIDENT.code("concern_for_welfare"),), "police concern-for-welfare incident"),
        (patterns_of(HOUSING_APPLICATION), "application for a housing adaptation"),
    )
    for pattern in patterns
}


def alert_wording(code: str, alerts: dict[str, str] | None = None) -> str | None:
    """How the alert for ``code`` reads (the first matching pattern's), or None if it does not alert."""
    for pattern, wording in (ALERTS if alerts is None else alerts).items():
        if matches(code, pattern):
            return wording
    return None


# --- Notifications (falls_risk.notify) -----------------------------------------------------------


@dataclass(frozen=True)
class NotifyRule:
    """One kind of event the notification service tells a team of, within a day.

    ``at`` says which moment of the record notifies: its start (``event_time``) or its end
    (``end_time``: a discharge). ``fall`` marks the fall-type events, the only ones notified for
    someone the latest monthly run did not score. Rules are tried in order; a record takes the
    first that matches at each moment, so an emergency admission for a fall reads as such rather
    than as a plain emergency admission.
    """

    name: str
    patterns: tuple[str, ...]
    wording: str
    at: str = "start"  # "start" or "end"
    fall: bool = False


NOTIFY_RULES: tuple[NotifyRule, ...] = (
    NotifyRule("ambulance_fall_not_conveyed", (AMBULANCE_NOT_CONVEYED.code("fall"),),
               "ambulance call for a fall, not taken to hospital", fall=True),
    NotifyRule("ed_fall", (ED_ATTENDANCE.code("fall"),), "emergency department attendance for a fall", fall=True),
    NotifyRule("hip_fracture_admission", (HIP_FRACTURE_ADMISSION.code(),),
               "emergency admission with a hip fracture", fall=True),
    NotifyRule("fall_admission", (FALL_ADMISSION.code(),), "emergency admission for a fall", fall=True),
    NotifyRule("emergency_admission", (ADMISSION.code("emergency"),), "emergency admission to hospital"),
    NotifyRule("discharge", patterns_of(ADMISSION), "discharge from hospital", at="end"),
    NotifyRule("police_concern_for_welfare", (POLICE_INCIDENT.code("concern_for_welfare"),),
               "police concern-for-welfare incident"),
    NotifyRule("police_victim", (POLICE_VICTIM.code(),), "victim in a police incident"),
    NotifyRule("police_fraud_scam", (POLICE_INCIDENT.code("fraud_scam"),), "police: fraud or scam"),
    NotifyRule("housing_application", patterns_of(HOUSING_APPLICATION), "application for a housing adaptation"),
)


def notify_rule(name: str) -> NotifyRule:
    for rule in NOTIFY_RULES:
        if rule.name == name:
            return rule
    raise FallsRiskError(f"Unknown notification event {name!r}; known: {', '.join(r.name for r in NOTIFY_RULES)}.")


def _check_notify() -> None:
    problems = [f"notify {r.name} {p}: {why}" for r in NOTIFY_RULES for p in r.patterns if (why := pattern_problem(p))]
    problems += [f"notify {r.name}: at must be start or end" for r in NOTIFY_RULES if r.at not in ("start", "end")]
    if problems:
        raise FallsRiskError("The notification rules are inconsistent: " + "; ".join(problems))


def _check() -> None:
    """The vocabulary is consistent with the contract (fails at import, i.e. in every test run)."""
    problems = [f"{k.text}: {k.source!r} is not a person source" for k in KINDS if k.source not in PERSON_SOURCES]
    problems += [
        f"{k.text}: {k.source} has no column {k.column!r}"
        for k in KINDS
        if k.column is not None and k.column not in SOURCES[k.source].column_names
    ]
    problems += [f"{s}: no event kind" for s in PERSON_SOURCES if not kinds_of(s)]
    listed = dict.fromkeys(c for k in KINDS for c in k.codes)
    problems += [f"{c}: emitted by two kinds" for c in listed if sum(k.emits(c) for k in KINDS) > 1]
    for name, patterns in FAMILIES.items():
        problems += [f"{p} (family {name}): {why}" for p in patterns if (why := pattern_problem(p))]
    problems += [f"alert {p}: {why}" for p in ALERTS if (why := pattern_problem(p))]
    if problems:
        raise FallsRiskError("The event-code vocabulary is inconsistent: " + "; ".join(problems))


_check()
_check_notify()
