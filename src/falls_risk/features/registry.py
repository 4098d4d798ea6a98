"""The feature registry: every feature the pipeline computes, declared once.

From these specs come the SQL (``features.sql``), the feature table, the plain-Python reference
(``tests/features/reference.py``), ``data_dictionary.md`` and the practitioner reasons. Descriptions are
written to read well with the person's value and ``window_text``, e.g.
"2 ambulance calls for a fall where they were not taken to hospital, in the last 12 months": a
count's description is the plural, and its ``singular`` is declared beside it ("1 ambulance call
for a fall ..."). ``features.wording`` writes the sentences; how each aggregation reads is
declared with the aggregations in ``features.spec``.

Aggregations (all over the person's events known at the index date, i.e. known to their agency
(a spell at discharge) strictly before the index date minus the source's arrival lag, linked at
or above the configured match probability):

- ``count``: events with one of ``codes`` in the window.
- ``any``: 1 if there is at least one such event, else 0.
- ``bed_days``: days in hospital of the known (so discharged) spells admitted in the window.
- ``days_since``: days from the latest such event to the index date; missing if none ever.
- ``active_any``: 1 if an episode with one of ``codes`` started and had not ended by the cut-off.
- ``active_sum_value``: sum of ``value`` (e.g. weekly hours) over those open episodes.
- ``distinct_bnf_paragraphs``: distinct BNF paragraphs (first 7 characters) prescribed.
- ``trend``: events in the recent half of the window minus events in the earlier half.
- ``sum_of``: the sum of the registry features named in ``inputs``.
- ``weak_link_share`` / ``excluded_count``: how much of the history rests on weak links.
- ``age_years``, ``sex_code``, ``wimd_quintile``, ``local_authority_code``, ``lives_alone``:
  characteristics from the pseudonymised population spine at the index date.

Codes are those of the events stage (``falls_risk.events.vocabulary``), with its one wildcard
rule: a code ending in ``*`` matches every code that starts with the text before it.
"""

from __future__ import annotations

import hashlib
import json

from falls_risk import codelists
from falls_risk.contract import PERSON_SOURCES, SEX_CODES, SOURCES
from falls_risk.errors import FallsRiskError
from falls_risk.events import vocabulary
from falls_risk.features import wording
from falls_risk.features.spec import AGGREGATION_READINGS, FeatureSpec, Reading

WELSH_LOCAL_AUTHORITIES: tuple[str, ...] = (
    "Isle of Anglesey",
    "Gwynedd",
    "Conwy",
    "Denbighshire",
    "Flintshire",
    "Wrexham",
    "Powys",
    "Ceredigion",
    "Pembrokeshire",
    "Carmarthenshire",
    "Swansea",
    "Neath Port Talbot",
    "Bridgend",
    "Vale of Glamorgan",
    "Cardiff",
    "Rhondda Cynon Taf",
    "Merthyr Tydfil",
    "Caerphilly",
    "Blaenau Gwent",
    "Torfaen",
    "Monmouthshire",
    "Newport",
)

# Windows for the service-use counts: 90 days, 12 months, 2 years, and all history.
COUNT_WINDOWS: tuple[int | None, ...] = (90, 365, 730, None)

# Code sets, from the events stage's vocabulary (falls_risk.events.vocabulary).
ED_ALL = vocabulary.family("emergency department")
ED_FALL = (vocabulary.ED_ATTENDANCE.code("fall"),)
ADMISSION_EMERGENCY = (vocabulary.ADMISSION.code("emergency"),)
ADMISSION_FALL = (vocabulary.FALL_ADMISSION.code(),)
ADMISSION_HIP_FRACTURE = (vocabulary.HIP_FRACTURE_ADMISSION.code(),)
INPATIENT_SPELLS = vocabulary.ADMISSION.codes
AMBULANCE_ALL = vocabulary.family("ambulance")
AMBULANCE_FALL = (vocabulary.AMBULANCE_CONVEYED.code("fall"), vocabulary.AMBULANCE_NOT_CONVEYED.code("fall"))
AMBULANCE_FALL_NOT_CONVEYED = (vocabulary.AMBULANCE_NOT_CONVEYED.code("fall"),)
GP_FALL = tuple(c for c in vocabulary.family(vocabulary.FALL) if vocabulary.GP_RECORD.emits(c))
ANY_FALL = GP_FALL + ED_FALL + AMBULANCE_FALL + ADMISSION_FALL
CONTACTS = ED_ALL + ADMISSION_EMERGENCY + AMBULANCE_ALL

AGENCIES = (
    "demographics",
    "health board",
    "ambulance service",
    "social care",
    "police",
    "housing",
    "linkage",
)
# The aggregations the SQL implements, each with how its value reads (``features.spec``).
AGGREGATIONS: tuple[str, ...] = tuple(AGGREGATION_READINGS)


def _suffix(window: int | None) -> str:
    return "ever" if window is None else f"{window}d"


def _windowed(
    name: str, description: str, agency: str, codes: tuple[str, ...], unit: str, **kw
) -> list[FeatureSpec]:
    return [
        FeatureSpec(
            name=f"{name}_{_suffix(w)}",
            description=description,
            agency=agency,
            codes=codes,
            window_days=w,
            unit=unit,
            missing_means="never missing: 0 when there were none",
            **kw,
        )
        for w in COUNT_WINDOWS
    ]


def _demographics() -> list[FeatureSpec]:
    return [
        FeatureSpec(
            "age",
            "age",
            "demographics",
            aggregation="age_years",
            unit="years",
            window_label="",
            missing_means="never missing (everyone in the cohort has a birth month)",
        ),
        FeatureSpec(
            "sex",
            "sex",
            "demographics",
            aggregation="sex_code",
            kind="categorical",
            categories=SEX_CODES,
            category_labels=wording.category_labels(SEX_CODES, wording.SEX_LABELS),
            window_label="",
            missing_means="sex not recorded",
        ),
        FeatureSpec(
            "wimd_quintile",
            "deprivation quintile of the home area (Welsh Index of Multiple Deprivation; 1 = most deprived)",
            "demographics",
            aggregation="wimd_quintile",
            unit="quintile",
            window_label="",
            missing_means="home area has no deprivation rank",
        ),
        FeatureSpec(
            "local_authority",
            "local authority",
            "demographics",
            aggregation="local_authority_code",
            kind="categorical",
            categories=WELSH_LOCAL_AUTHORITIES,
            window_label="",
            missing_means="local authority not recorded or not one of the 22 Welsh councils",
        ),
        FeatureSpec(
            "lives_alone",
            "lives alone (no other living person registered with a GP at the same address)",
            "demographics",
            aggregation="lives_alone",
            kind="binary",
            window_label="on the index date",
            missing_means="address not known, so household size cannot be derived",
        ),
    ]


def _health_board_use() -> list[FeatureSpec]:
    hb = "health board"
    return [
        *_windowed(
            "ed_attendances", "emergency department attendances", hb, ED_ALL, "attendances",
            singular="emergency department attendance",
        ),
        *_windowed(
            "ed_fall_attendances", "emergency department attendances for a fall", hb, ED_FALL, "attendances",
            singular="emergency department attendance for a fall",
        ),
        *_windowed(
            "emergency_admissions", "emergency hospital admissions", hb, ADMISSION_EMERGENCY, "admissions",
            singular="emergency hospital admission",
        ),
        *_windowed(
            "fall_admissions",
            "emergency hospital admissions for a fall (ICD-10 W00-W19)",
            hb,
            ADMISSION_FALL,
            "admissions",
            singular="emergency hospital admission for a fall (ICD-10 W00-W19)",
        ),
        *_windowed(
            "hip_fracture_admissions",
            "emergency hospital admissions for a hip fracture",
            hb,
            ADMISSION_HIP_FRACTURE,
            "admissions",
            singular="emergency hospital admission for a hip fracture",
        ),
        *_windowed(
            "bed_days",
            "days spent in hospital (any admission)",
            hb,
            INPATIENT_SPELLS,
            "days",
            aggregation="bed_days",
            singular="day spent in hospital (any admission)",
        ),
    ]


def _ambulance() -> list[FeatureSpec]:
    amb = "ambulance service"
    return [
        *_windowed(
            "ambulance_calls", "ambulance calls (any reason)", amb, AMBULANCE_ALL, "calls",
            singular="ambulance call (any reason)",
        ),
        *_windowed(
            "ambulance_fall_calls", "ambulance calls for a fall", amb, AMBULANCE_FALL, "calls",
            singular="ambulance call for a fall",
        ),
        *_windowed(
            "ambulance_fall_not_conveyed",
            "ambulance calls for a fall where they were not taken to hospital",
            amb,
            AMBULANCE_FALL_NOT_CONVEYED,
            "calls",
            singular="ambulance call for a fall where they were not taken to hospital",
        ),
    ]


def _conditions() -> list[FeatureSpec]:
    return [
        FeatureSpec(
            name=f"ever_{c.name}",
            description=f"{c.label} recorded by the GP or in a hospital diagnosis",
            agency="health board",
            codes=c.event_codes,
            window_days=None,
            aggregation="any",
            kind="binary",
            missing_means="never missing: 0 when never recorded",
        )
        for c in codelists.conditions()
    ]


def _gp_falls_and_frailty(condition_features: list[FeatureSpec]) -> list[FeatureSpec]:
    efi_inputs = tuple(f"ever_{c.name}" for c in codelists.conditions() if c.efi_deficit)
    assert all(any(f.name == n for f in condition_features) for n in efi_inputs)
    return [
        FeatureSpec(
            "gp_recorded_falls_365d",
            "falls recorded by the GP",
            "health board",
            singular="fall recorded by the GP",
            codes=GP_FALL,
            window_days=365,
            unit="falls",
            missing_means="never missing: 0 when none recorded",
        ),
        FeatureSpec(
            "gp_recorded_falls_ever",
            "falls recorded by the GP",
            "health board",
            singular="fall recorded by the GP",
            codes=GP_FALL,
            window_days=None,
            unit="falls",
            missing_means="never missing: 0 when none recorded",
        ),
        FeatureSpec(
            "efi_deficits",
            "frailty deficits recorded (eFI-style count of long-term conditions and events such as "
            "falls, dementia, incontinence and poor sight)",
            "health board",
            singular="frailty deficit recorded (eFI-style count of long-term conditions and events such as "
            "falls, dementia, incontinence and poor sight)",
            aggregation="sum_of",
            inputs=efi_inputs,
            unit="deficits",
            window_label="ever",
            missing_means="never missing: 0 when none recorded",
        ),
    ]


def _medicines() -> list[FeatureSpec]:
    frids = [
        FeatureSpec(
            name=f"frid_{d.name}_90d",
            description=f"prescribed {d.label}, a medicine class that raises the risk of falling",
            agency="health board",
            codes=(d.event_code,),
            window_days=90,
            aggregation="any",
            kind="binary",
            missing_means="never missing: 0 when not prescribed",
        )
        for d in codelists.drug_classes()
    ]
    return [
        *frids,
        FeatureSpec(
            "frid_classes_90d",
            "classes of fall-risk-increasing medicine prescribed",
            "health board",
            singular="class of fall-risk-increasing medicine prescribed",
            aggregation="sum_of",
            inputs=tuple(f.name for f in frids),
            window_days=90,
            unit="classes",
            missing_means="never missing: 0 when none prescribed",
        ),
        FeatureSpec(
            "polypharmacy_90d",
            "different kinds of medicine prescribed (distinct BNF paragraphs)",
            "health board",
            singular="different kind of medicine prescribed (distinct BNF paragraphs)",
            codes=vocabulary.family("prescription"),
            window_days=90,
            aggregation="distinct_bnf_paragraphs",
            unit="medicines",
            missing_means="never missing: 0 when nothing prescribed",
        ),
    ]


def _social_care() -> list[FeatureSpec]:
    sc = "social care"
    return [
        FeatureSpec(
            "home_care_active",
            "receiving home care",
            sc,
            codes=(vocabulary.SOCIAL_CARE.code("home_care"),),
            aggregation="active_any",
            kind="binary",
            window_label="on the index date",
            missing_means="never missing: 0 when no home care episode was open",
        ),
        FeatureSpec(
            "home_care_hours_per_week",
            "hours of home care a week",
            sc,
            codes=(vocabulary.SOCIAL_CARE.code("home_care"),),
            aggregation="active_sum_value",
            unit="hours a week",
            window_label="on the index date",
            missing_means="never missing: 0 when no home care (hours not recorded count as 0)",
        ),
        FeatureSpec(
            "telecare_active",
            "has telecare (e.g. a pendant alarm)",
            sc,
            codes=(vocabulary.SOCIAL_CARE.code("telecare"),),
            aggregation="active_any",
            kind="binary",
            window_label="on the index date",
            missing_means="never missing: 0 when no telecare episode was open",
        ),
        FeatureSpec(
            "reablement_365d",
            "reablement episodes started",
            sc,
            singular="reablement episode started",
            codes=(vocabulary.SOCIAL_CARE.code("reablement"),),
            window_days=365,
            unit="episodes",
            missing_means="never missing: 0 when none",
        ),
        FeatureSpec(
            "social_care_assessments_365d",
            "social care assessments",
            sc,
            singular="social care assessment",
            codes=(vocabulary.SOCIAL_CARE.code("assessment"),),
            window_days=365,
            unit="assessments",
            missing_means="never missing: 0 when none",
        ),
    ]


def _police() -> list[FeatureSpec]:
    pol = "police"
    return [
        FeatureSpec(
            "police_victim_365d",
            "police incidents where they were the victim",
            pol,
            singular="police incident where they were the victim",
            codes=(vocabulary.POLICE_VICTIM.code(),),
            window_days=365,
            unit="incidents",
            missing_means="never missing: 0 when none",
        ),
        FeatureSpec(
            "police_concern_for_welfare_365d",
            "police concern-for-welfare incidents",
            pol,
            singular="police concern-for-welfare incident",
            codes=(vocabulary.POLICE_INCIDENT.code("concern_for_welfare"),),
            window_days=365,
            unit="incidents",
            missing_means="never missing: 0 when none",
        ),
        FeatureSpec(
            "police_fraud_scam_365d",
            "police incidents of fraud or a scam",
            pol,
            singular="police incident of fraud or a scam",
            codes=(vocabulary.POLICE_INCIDENT.code("fraud_scam"),),
            window_days=365,
            unit="incidents",
            missing_means="never missing: 0 when none",
        ),
    ]


def _housing() -> list[FeatureSpec]:
    return [
        FeatureSpec(
            "adaptations_completed_ever",
            "home adaptations completed (e.g. grab rails, stairlift)",
            "housing",
            singular="home adaptation completed (e.g. grab rails, stairlift)",
            codes=vocabulary.patterns_of(vocabulary.HOUSING_COMPLETED),
            window_days=None,
            unit="adaptations",
            missing_means="never missing: 0 when none",
        ),
        FeatureSpec(
            "adaptation_pending",
            "waiting for a home adaptation (application made, not yet completed)",
            "housing",
            codes=vocabulary.patterns_of(vocabulary.HOUSING_APPLICATION),
            aggregation="active_any",
            kind="binary",
            window_label="on the index date",
            missing_means="never missing: 0 when no application was open",
        ),
    ]


def _recency_and_trend() -> list[FeatureSpec]:
    return [
        FeatureSpec(
            "days_since_fall",
            "days since their last recorded fall (any agency)",
            "health board",
            codes=ANY_FALL,
            aggregation="days_since",
            unit="days",
            window_label="",
            missing_means="no fall ever recorded",
        ),
        FeatureSpec(
            "days_since_ed_attendance",
            "days since their last emergency department attendance",
            "health board",
            codes=ED_ALL,
            aggregation="days_since",
            unit="days",
            window_label="",
            missing_means="no emergency department attendance ever recorded",
        ),
        FeatureSpec(
            "days_since_emergency_admission",
            "days since their last emergency hospital admission",
            "health board",
            codes=ADMISSION_EMERGENCY,
            aggregation="days_since",
            unit="days",
            window_label="",
            missing_means="no emergency admission ever recorded",
        ),
        FeatureSpec(
            "contacts_trend",
            "change in urgent contacts (emergency department, emergency admissions, ambulance calls): "
            "the last 6 months minus the 6 months before",
            "health board",
            codes=CONTACTS,
            window_days=365,
            aggregation="trend",
            unit="contacts",
            window_label="over the last 12 months",
            missing_means="never missing: 0 when the two halves are equal",
        ),
    ]


def _linkage() -> list[FeatureSpec]:
    return [
        FeatureSpec(
            "weak_link_share",
            "share of their records before the index date that were linked to them with a match "
            "probability below the weak-link level",
            "linkage",
            aggregation="weak_link_share",
            unit="share",
            window_label="",
            missing_means="no records at all before the index date",
        ),
        FeatureSpec(
            "excluded_weak_links",
            "records left out because they were linked with a match probability below the cut-off",
            "linkage",
            singular="record left out because they were linked with a match probability below the cut-off",
            aggregation="excluded_count",
            unit="records",
            window_label="",
            missing_means="never missing: 0 when none were left out",
        ),
    ]


def _build() -> tuple[FeatureSpec, ...]:
    conditions = _conditions()
    specs = [
        *_demographics(),
        *_health_board_use(),
        *_ambulance(),
        *conditions,
        *_gp_falls_and_frailty(conditions),
        *_medicines(),
        *_social_care(),
        *_police(),
        *_housing(),
        *_recency_and_trend(),
        *_linkage(),
    ]
    validate_specs(specs)
    return tuple(specs)


def validate_specs(specs: list[FeatureSpec] | tuple[FeatureSpec, ...]) -> None:
    """Fail loudly on a registry mistake (duplicate names, unknown agencies or aggregations...)."""
    problems: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            problems.append(f"{spec.name}: duplicate name")
        if spec.agency not in AGENCIES:
            problems.append(f"{spec.name}: agency {spec.agency!r} not one of {AGENCIES}")
        if spec.aggregation not in AGGREGATIONS:
            problems.append(f"{spec.name}: aggregation {spec.aggregation!r} not one of {AGGREGATIONS}")
        if spec.kind not in ("numeric", "binary", "categorical"):
            problems.append(f"{spec.name}: kind {spec.kind!r}")
        if spec.is_categorical != bool(spec.categories):
            problems.append(f"{spec.name}: categorical features and only they need categories")
        if spec.category_labels and len(spec.category_labels) != len(spec.categories):
            problems.append(f"{spec.name}: category_labels must label each of the {len(spec.categories)} categories")
        if spec.reading is Reading.COUNT and not spec.singular.strip():
            problems.append(f"{spec.name}: a count needs its singular (the description of one thing)")
        if spec.aggregation == "sum_of":
            missing = [n for n in spec.inputs if n not in seen]
            if not spec.inputs or missing:
                problems.append(f"{spec.name}: inputs must name earlier features, unknown: {missing}")
        for code in spec.codes:
            if (problem := vocabulary.pattern_problem(code)) is not None:
                problems.append(f"{spec.name}: code {code!r} {problem}")
        if not spec.description.strip():
            problems.append(f"{spec.name}: empty description")
        seen.add(spec.name)
    if problems:
        raise FallsRiskError("Feature registry is invalid: " + "; ".join(problems))


FEATURES: tuple[FeatureSpec, ...] = _build()
_BY_NAME = {f.name: f for f in FEATURES}


# Bump when the SQL computes a feature differently with no spec changed (the point-in-time rule,
# a statistic, how an event is built): feature tables and models of the old computation are then
# refused. ``tests/features/test_registry_version.py`` pins the SQL each version stands for, and
# fails when the SQL changes under an unchanged version.
# 2: events count from when their record became known (a spell's at its discharge).
COMPUTATION_REVISION = 2


def _registry_hash(specs: tuple[FeatureSpec, ...]) -> str:
    """A short hash of what decides the features' values: every spec's ``COMPUTATION_FIELDS``,
    when each source's records become known (``contract.Source.known_column``) and the
    ``COMPUTATION_REVISION`` of the SQL. Feature tables and models carry it, and refuse to mix
    with code whose features would differ. Wording (descriptions, singulars, labels, units) is
    left out, so rewording a reason forces no rebuild."""
    payload = json.dumps(
        {
            "features": [s.computation() for s in specs],
            "known_from": {name: SOURCES[name].known_column for name in PERSON_SOURCES},
            "revision": COMPUTATION_REVISION,
        },
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


REGISTRY_VERSION: str = _registry_hash(FEATURES)


def feature_names() -> list[str]:
    return [f.name for f in FEATURES]


def get_feature(name: str) -> FeatureSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise FallsRiskError(
            f"Unknown feature {name!r}. The registry (falls_risk.features.registry) has "
            f"{len(FEATURES)} features, e.g. {', '.join(list(_BY_NAME)[:5])}."
        ) from None
