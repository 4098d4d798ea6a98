"""The agency-extract contract, defined once.

Everything that needs to know what an extract looks like (the synthetic world, the pandera
schemas of ingest, linkage, the data dictionary) reads it from here. The prose version lives in
``docs/extract_contract.md``; ``tests/test_contract.py`` checks the two agree.

An extract is one folder. Each source is one file in it, ``<source>.csv``, ``<source>.parquet``
or ``<source>.xlsx``. Only ``population`` is required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Kind(str, Enum):
    """How a column is parsed and normalised by ingest."""

    ID = "id"  # a record identifier, kept as text
    TEXT = "text"  # free text, kept as given (whitespace trimmed)
    NAME = "name"  # a person's name: case-folded, accents stripped; original kept
    NHS_NUMBER = "nhs_number"  # 10 digits, modulus-11 check; invalid -> missing and flagged
    POSTCODE = "postcode"  # upper case, one space before the inward code
    DATE = "date"  # ISO YYYY-MM-DD unless a mapping declares another format
    DATETIME = "datetime"  # ISO YYYY-MM-DDTHH:MM:SS (a space instead of T is accepted)
    SEX = "sex"  # M / F / U
    CODE = "code"  # one value of a closed vocabulary, case-insensitive
    CODE_LIST = "code_list"  # ICD-10 codes separated by ';', with or without the dot
    SNOMED = "snomed"  # SNOMED CT concept id (digits)
    BNF = "bnf"  # BNF code, at least the 7-character paragraph
    BOOL = "bool"  # true / false
    NUMBER = "number"  # a non-negative decimal number
    INT = "int"  # a whole number


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    vocabulary: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Source:
    name: str
    row_is: str
    agency: str
    columns: tuple[Column, ...]
    id_column: str | None = None
    id_unique: bool = True
    # The column that dates the event (checked against date of birth and the extract date).
    event_date_column: str | None = None
    # When a row becomes known to its agency's extract, if later than its event date (PEDW
    # receives a spell at discharge). Dates of a row filled in once they happen (an episode's end,
    # an adaptation's completion) are known from their own date. The features' point-in-time rule
    # reads this (``events.build`` writes it as each event's ``known_time``), before the source's
    # arrival lag (``features.arrival_lag_days``).
    known_from_column: str | None = None
    required_source: bool = False
    notes: str = ""
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def known_column(self) -> str | None:
        """The column whose date makes a row known (its event date unless declared later)."""
        return self.known_from_column or self.event_date_column

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def identifier_columns(self) -> tuple[str, ...]:
        """Direct identifiers that must not travel past linkage."""
        return tuple(c.name for c in self.columns if c.name in DIRECT_IDENTIFIERS)


SEX_CODES = ("M", "F", "U")
ADMISSION_METHODS = ("emergency", "elective", "other")
ARRIVAL_MODES = ("ambulance", "self", "other")
PRESENTING_COMPLAINTS = ("fall", "injury", "breathing", "chest_pain", "confusion", "other")
ED_DISPOSALS = ("admitted", "discharged", "transferred", "died", "left")
SERVICE_TYPES = (
    "assessment",
    "home_care",
    "reablement",
    "telecare",
    "day_care",
    "residential_care",
    "carer_support",
)
PERSON_ROLES = ("victim", "subject_of_concern", "suspect", "witness")
INCIDENT_TYPES = (
    "concern_for_welfare",
    "domestic_abuse",
    "fraud_scam",
    "theft_burglary",
    "antisocial_behaviour",
    "missing_person",
    "other",
)
CHIEF_COMPLAINTS = ("fall", "breathing", "chest_pain", "unconscious", "other")
ADAPTATION_TYPES = ("stairlift", "grab_rails", "level_access_shower", "ramp", "other")

# Columns that identify a person directly. They stop at linkage: the practitioner risk list is
# the one output where they reappear.
DIRECT_IDENTIFIERS = frozenset(
    {
        "nhs_number",
        "forename",
        "surname",
        "date_of_birth",
        "postcode",
        "address_line",
        "client_id",
    }
)

# Free text a person typed: it may name someone or hold clinical detail, and no feature reads it,
# so, like the identifiers, it stops at linkage.
FREE_TEXT_COLUMNS = frozenset({"drug_name"})

K = Kind
C = Column

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            name="population",
            row_is="a person registered with a GP in the region (the spine; one row per person)",
            agency="health board",
            id_column="nhs_number",
            required_source=True,
            event_date_column="registration_date",
            columns=(
                C("nhs_number", K.NHS_NUMBER, True),
                C("forename", K.NAME, True),
                C("surname", K.NAME, True),
                C("date_of_birth", K.DATE, True),
                C("sex", K.SEX, True, SEX_CODES),
                C("postcode", K.POSTCODE, True),
                C("address_line", K.TEXT, True, description="house number and street"),
                C("lsoa_code", K.ID, True),
                C("local_authority", K.TEXT, True),
                C("registration_date", K.DATE, True),
                C("deregistration_date", K.DATE),
                C("date_of_death", K.DATE),
            ),
        ),
        Source(
            name="deprivation",
            row_is="a small area (LSOA)",
            agency="Welsh Government",
            id_column="lsoa_code",
            columns=(
                C("lsoa_code", K.ID, True),
                C("wimd_rank", K.INT, True, description="1 = most deprived"),
            ),
        ),
        Source(
            name="inpatient_spells",
            row_is="a hospital inpatient spell (PEDW-like)",
            agency="health board",
            id_column="spell_id",
            event_date_column="admission_date",
            known_from_column="discharge_date",
            columns=(
                C("spell_id", K.ID, True),
                C("nhs_number", K.NHS_NUMBER),
                C("date_of_birth", K.DATE),
                C("sex", K.SEX, False, SEX_CODES),
                C("postcode", K.POSTCODE),
                C("admission_date", K.DATE, True),
                C("discharge_date", K.DATE, True),
                C("admission_method", K.CODE, True, ADMISSION_METHODS),
                C(
                    "diagnoses",
                    K.CODE_LIST,
                    True,
                    description="ICD-10 codes, ';'-separated, primary first, with or without the dot",
                ),
            ),
        ),
        Source(
            name="ed_attendances",
            row_is="an emergency-department attendance (EDDS-like)",
            agency="health board",
            id_column="attendance_id",
            event_date_column="arrival_time",
            columns=(
                C("attendance_id", K.ID, True),
                C("nhs_number", K.NHS_NUMBER),
                C("forename", K.NAME),
                C("surname", K.NAME),
                C("date_of_birth", K.DATE),
                C("sex", K.SEX, False, SEX_CODES),
                C("postcode", K.POSTCODE),
                C("arrival_time", K.DATETIME, True),
                C("arrival_mode", K.CODE, True, ARRIVAL_MODES),
                C("presenting_complaint", K.CODE, True, PRESENTING_COMPLAINTS),
                C("disposal", K.CODE, True, ED_DISPOSALS),
            ),
        ),
        Source(
            name="gp_events",
            row_is="a coded primary-care record (WLGP-like)",
            agency="health board",
            id_column=None,
            event_date_column="event_date",
            notes="No record id: a repeated row is a real repeat.",
            columns=(
                C("nhs_number", K.NHS_NUMBER, True),
                C("event_date", K.DATE, True),
                C("snomed_code", K.SNOMED, True),
            ),
        ),
        Source(
            name="prescriptions",
            row_is="a primary-care prescription issue",
            agency="health board",
            id_column=None,
            event_date_column="issue_date",
            notes="No record id: a repeated row is a real repeat.",
            columns=(
                C("nhs_number", K.NHS_NUMBER, True),
                C("issue_date", K.DATE, True),
                C("bnf_code", K.BNF, True, description="at least the 7-character paragraph"),
                C("drug_name", K.TEXT),
            ),
        ),
        Source(
            name="social_care",
            row_is="a social-care service episode (WCCIS-like)",
            agency="social care",
            id_column="record_id",
            event_date_column="start_date",
            columns=(
                C("record_id", K.ID, True),
                C("client_id", K.ID, True),
                C("forename", K.NAME, True),
                C("surname", K.NAME, True),
                C("date_of_birth", K.DATE),
                C("sex", K.SEX, False, SEX_CODES),
                C("postcode", K.POSTCODE),
                C("address_line", K.TEXT),
                C("service_type", K.CODE, True, SERVICE_TYPES),
                C("start_date", K.DATE, True),
                C("end_date", K.DATE),
                C("weekly_hours", K.NUMBER),
            ),
        ),
        Source(
            name="police_incidents",
            row_is="a person's involvement in a police incident (Niche-like)",
            agency="police",
            id_column="incident_id",
            id_unique=False,
            event_date_column="incident_date",
            notes="incident_id repeats once for each person involved in the incident.",
            columns=(
                C("incident_id", K.ID, True),
                C("incident_date", K.DATE, True),
                C("person_role", K.CODE, True, PERSON_ROLES),
                C("forename", K.NAME, True),
                C("surname", K.NAME, True),
                C("date_of_birth", K.DATE),
                C("postcode", K.POSTCODE),
                C("incident_type", K.CODE, True, INCIDENT_TYPES),
            ),
        ),
        Source(
            name="ambulance_calls",
            row_is="an ambulance call (WAST-like)",
            agency="ambulance service",
            id_column="call_id",
            event_date_column="call_time",
            columns=(
                C("call_id", K.ID, True),
                C("call_time", K.DATETIME, True),
                C("nhs_number", K.NHS_NUMBER),
                C("forename", K.NAME),
                C("surname", K.NAME),
                C("date_of_birth", K.DATE),
                C("sex", K.SEX, False, SEX_CODES),
                C("postcode", K.POSTCODE),
                C("chief_complaint", K.CODE, True, CHIEF_COMPLAINTS),
                C("conveyed", K.BOOL, True),
            ),
        ),
        Source(
            name="housing_adaptations",
            row_is="a disabled facilities grant / adaptation (local-authority)",
            agency="housing",
            id_column="application_id",
            event_date_column="application_date",
            columns=(
                C("application_id", K.ID, True),
                C("forename", K.NAME, True),
                C("surname", K.NAME, True),
                C("date_of_birth", K.DATE),
                C("postcode", K.POSTCODE),
                C("address_line", K.TEXT),
                C("adaptation_type", K.CODE, True, ADAPTATION_TYPES),
                C("application_date", K.DATE, True),
                C("completed_date", K.DATE),
            ),
        ),
    )
}

# Sources whose records are linked to people of the population spine.
PERSON_SOURCES: tuple[str, ...] = tuple(
    name for name in SOURCES if name not in ("population", "deprivation")
)

FILE_SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".xlsx")

# The outcome: an emergency admission with any diagnosis in ICD-10 W00-W19.
OUTCOME_ICD10_PREFIXES: tuple[str, ...] = tuple(f"W{n:02d}" for n in range(20))
