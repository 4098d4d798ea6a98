"""Reference data of the synthetic world: names, places, and the clinical catalogue.

Names and places come from the CSV files under ``synth/data``; the clinical catalogue (conditions
with their SNOMED CT / ICD-10 codes and epidemiology, drug classes with BNF codes) is declared
here as data. Codes are those of ``docs/extract_contract.md``; the epidemiological parameters
are chosen to sit in published ranges (see the docstrings of :mod:`falls_risk.synth.simulate`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("falls_risk.synth").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@dataclass(frozen=True)
class NameTables:
    surnames: np.ndarray  # str
    surname_p: np.ndarray
    # (sex, cohort) -> (names, probabilities)
    forenames: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]
    cohorts: tuple[int, ...]
    nicknames: dict[str, tuple[str, ...]]
    streets: np.ndarray
    districts: dict[str, tuple[np.ndarray, np.ndarray]]  # local authority -> (districts, p)


@lru_cache(maxsize=1)
def name_tables() -> NameTables:
    rows = _read_csv("surnames.csv")
    surnames = np.array([r["surname"] for r in rows], dtype=object)
    w = np.array([float(r["weight"]) for r in rows])
    forenames: dict[tuple[str, int], tuple[list[str], list[float]]] = {}
    for r in _read_csv("forenames.csv"):
        key = (r["sex"], int(r["cohort"]))
        names, weights = forenames.setdefault(key, ([], []))
        names.append(r["forename"])
        weights.append(float(r["weight"]))
    fn = {k: (np.array(n, dtype=object), np.array(wt) / np.sum(wt)) for k, (n, wt) in forenames.items()}
    nick: dict[str, list[str]] = {}
    for r in _read_csv("nicknames.csv"):
        nick.setdefault(r["forename"], []).append(r["nickname"])
    districts: dict[str, tuple[list[str], list[float]]] = {}
    for r in _read_csv("postcode_districts.csv"):
        d, dw = districts.setdefault(r["local_authority"], ([], []))
        d.append(r["district"])
        dw.append(float(r["weight"]))
    return NameTables(
        surnames=surnames,
        surname_p=w / w.sum(),
        forenames=fn,
        cohorts=tuple(sorted({c for _, c in fn})),
        nicknames={k: tuple(v) for k, v in nick.items()},
        streets=np.array([r["street"] for r in _read_csv("streets.csv")], dtype=object),
        districts={
            k: (np.array(d, dtype=object), np.array(dw) / np.sum(dw)) for k, (d, dw) in districts.items()
        },
    )


# The three local authorities of the region, their LSOA counts (as in WIMD 2019) and how deprived
# they are on average (mean WIMD rank; 1 = most deprived of Wales's 1,909 LSOAs).
LOCAL_AUTHORITIES: tuple[tuple[str, str, int, float], ...] = (
    # name, client-id prefix, number of LSOAs, mean WIMD rank
    ("Blaenau Gwent", "BG", 47, 560.0),
    ("Torfaen", "TF", 60, 900.0),
    ("Caerphilly", "CY", 110, 820.0),
)
WIMD_LSOAS = 1909


@dataclass(frozen=True)
class Condition:
    key: str
    snomed: tuple[str, ...]  # first is the usual code
    icd10: tuple[str, ...]  # with the dot
    prevalence_75: float  # at age 75, before sex and frailty effects
    prevalence_slope: float  # log-odds per year of age
    incidence_75: float  # annual, at age 75
    incidence_slope: float  # log-rate per year of age
    female_factor: float  # odds/rate ratio, women vs men
    frailty_beta: float  # log-odds/log-rate per unit of latent frailty
    p_diagnosed: float  # chance a GP ever codes it
    diagnosis_delay_months: float  # mean delay from onset to the first code
    fall_hr: float  # hazard ratio on falls


CONDITIONS: tuple[Condition, ...] = (
    Condition(
        "dementia",
        ("52448006", "26929004"),
        ("F03", "G30.9", "F00.9", "F01.9"),
        0.035,
        0.13,
        0.010,
        0.12,
        1.2,
        0.35,
        0.62,
        18,
        2.0,
    ),
    Condition("parkinsons", ("49049000",), ("G20",), 0.010, 0.06, 0.0018, 0.05, 0.65, 0.2, 0.95, 6, 2.7),
    Condition("stroke", ("230690007",), ("I63.9", "I64"), 0.05, 0.05, 0.008, 0.06, 0.85, 0.25, 0.95, 1, 1.6),
    Condition(
        "osteoporosis", ("64859006",), ("M81.9", "M81.0"), 0.06, 0.05, 0.008, 0.05, 4.0, 0.2, 0.45, 12, 1.2
    ),
    Condition(
        "diabetes", ("44054006",), ("E11.9", "E11.6", "E10.9"), 0.17, 0.0, 0.008, 0.0, 0.8, 0.15, 0.9, 6, 1.2
    ),
    Condition("incontinence", ("165232002",), ("R32",), 0.09, 0.06, 0.012, 0.06, 1.6, 0.3, 0.4, 12, 1.6),
    Condition("depression", ("35489007",), ("F32.9", "F33.9"), 0.09, 0.01, 0.010, 0.0, 1.5, 0.3, 0.6, 4, 1.4),
    Condition(
        "visual_impairment",
        ("397540003",),
        ("H54.7", "H54.4"),
        0.05,
        0.09,
        0.007,
        0.09,
        1.2,
        0.2,
        0.3,
        12,
        1.6,
    ),
    Condition(
        "atrial_fibrillation",
        ("49436004",),
        ("I48.9", "I48.1"),
        0.08,
        0.07,
        0.011,
        0.07,
        0.75,
        0.15,
        0.8,
        6,
        1.2,
    ),
    Condition(
        "heart_failure", ("84114007",), ("I50.0", "I50.9"), 0.04, 0.08, 0.007, 0.08, 0.8, 0.3, 0.85, 4, 1.3
    ),
    Condition("hypertension", ("38341003",), ("I10",), 0.45, 0.03, 0.03, 0.02, 1.0, 0.1, 0.75, 12, 1.0),
    Condition(
        "orthostatic_hypotension", ("28651003",), ("I95.1",), 0.05, 0.06, 0.007, 0.06, 1.0, 0.3, 0.2, 6, 1.8
    ),
)
CONDITION_INDEX = {c.key: i for i, c in enumerate(CONDITIONS)}


@dataclass(frozen=True)
class DrugClass:
    key: str
    prefix: str  # BNF prefix of the class
    members: tuple[tuple[str, str], ...]  # (BNF chemical-substance code, drug name)
    stop: float  # monthly probability of stopping
    base_start: float = 0.0  # monthly start probability without an indication
    indications: dict[str, float] = field(default_factory=dict)  # diagnosed condition -> start
    fall_hr: float = 1.0
    frailty_beta: float = 0.0  # start probability rises with frailty
    men_only: bool = False


DRUG_CLASSES: tuple[DrugClass, ...] = (
    DrugClass(
        "antihypertensive",
        "0205",
        (
            ("0205051R0", "Ramipril"),
            ("0205051L0", "Lisinopril"),
            ("0205052N0", "Losartan potassium"),
            ("0205040D0", "Doxazosin"),
        ),
        0.01,
        0.0,
        {"hypertension": 0.03, "heart_failure": 0.15},
        1.15,
    ),
    DrugClass(
        "calcium_channel_blocker", "0206", (("0206020A0", "Amlodipine"),), 0.012, 0.0, {"hypertension": 0.015}
    ),
    DrugClass(
        "diuretic",
        "0202",
        (("0202010B0", "Bendroflumethiazide"), ("0202020L0", "Furosemide"), ("0202010P0", "Indapamide")),
        0.012,
        0.0,
        {"hypertension": 0.02, "heart_failure": 0.25},
        1.2,
    ),
    DrugClass(
        "beta_blocker",
        "0204",
        (("0204000H0", "Bisoprolol fumarate"), ("0204000E0", "Atenolol")),
        0.01,
        0.0,
        {"atrial_fibrillation": 0.15, "heart_failure": 0.1},
    ),
    DrugClass(
        "anticoagulant",
        "0208020",
        (("0208020Z0", "Apixaban"), ("0208020V0", "Warfarin sodium")),
        0.008,
        0.0,
        {"atrial_fibrillation": 0.15, "stroke": 0.02},
    ),
    DrugClass(
        "statin",
        "0212000",
        (("0212000B0", "Atorvastatin"), ("0212000Y0", "Simvastatin")),
        0.012,
        0.0015,
        {"diabetes": 0.08, "stroke": 0.15},
    ),
    DrugClass(
        "metformin", "0601022", (("0601022B0", "Metformin hydrochloride"),), 0.01, 0.0, {"diabetes": 0.1}
    ),
    DrugClass(
        "sulfonylurea_insulin",
        "0601",
        (("0601021M0", "Gliclazide"), ("0601012V0", "Insulin glargine")),
        0.01,
        0.0,
        {"diabetes": 0.015},
        1.4,
    ),
    DrugClass(
        "hypnotic_anxiolytic",
        "0401",
        (("0401010Z0", "Zopiclone"), ("0401010T0", "Temazepam"), ("0401020K0", "Diazepam")),
        0.07,
        0.0012,
        {"depression": 0.01, "dementia": 0.005},
        1.5,
        0.2,
    ),
    DrugClass(
        "antipsychotic",
        "0402",
        (("0402010AB", "Quetiapine"), ("0402010N0", "Risperidone")),
        0.03,
        0.00008,
        {"dementia": 0.008},
        1.6,
    ),
    DrugClass(
        "antidepressant",
        "0403",
        (
            ("0403030Q0", "Sertraline hydrochloride"),
            ("0403030D0", "Citalopram hydrobromide"),
            ("0403040X0", "Mirtazapine"),
            ("0403010B0", "Amitriptyline hydrochloride"),
        ),
        0.025,
        0.0012,
        {"depression": 0.1},
        1.55,
        0.15,
    ),
    DrugClass(
        "antiepileptic",
        "0408",
        (("0408010G0", "Gabapentin"), ("0408010AE", "Pregabalin"), ("0408010AH", "Levetiracetam")),
        0.015,
        0.0005,
        {"stroke": 0.004},
        1.45,
        0.2,
    ),
    DrugClass(
        "opioid",
        "040702",
        (
            ("0407020C0", "Codeine phosphate"),
            ("0407020AD", "Tramadol hydrochloride"),
            ("0407020Q0", "Morphine sulfate"),
        ),
        0.15,
        0.004,
        {"osteoporosis": 0.01},
        1.55,
        0.35,
    ),
    DrugClass("antiparkinson", "0409", (("0409010N0", "Co-careldopa"),), 0.003, 0.0, {"parkinsons": 0.3}),
    DrugClass(
        "antidementia", "0411", (("0411000D0", "Donepezil hydrochloride"),), 0.02, 0.0, {"dementia": 0.06}
    ),
    DrugClass(
        "proton_pump_inhibitor",
        "0103050",
        (("0103050P0", "Omeprazole"), ("0103050L0", "Lansoprazole")),
        0.015,
        0.002,
    ),
    DrugClass(
        "bisphosphonate", "0606020", (("0606020A0", "Alendronic acid"),), 0.02, 0.0, {"osteoporosis": 0.08}
    ),
    DrugClass("levothyroxine", "0602010", (("0602010V0", "Levothyroxine sodium"),), 0.001, 0.00008),
    DrugClass(
        "alpha_blocker_bph",
        "0704010",
        (("0704010U0", "Tamsulosin hydrochloride"),),
        0.006,
        0.0006,
        men_only=True,
    ),
)
DRUG_INDEX = {d.key: i for i, d in enumerate(DRUG_CLASSES)}

# Acute (one-off) prescriptions that carry no fall risk.
ACUTE_DRUGS: tuple[tuple[str, str], ...] = (
    ("0501013B0", "Amoxicillin"),
    ("0501030F0", "Doxycycline hyclate"),
    ("0501130R0", "Nitrofurantoin"),
    ("1001010J0", "Naproxen"),
    ("1302011G0", "Emollient cream"),
    ("0407010H0", "Paracetamol"),
)

# SNOMED CT codes of common primary-care records that are not in the contract's code list.
OTHER_SNOMED: tuple[str, ...] = (
    "75367002",  # blood pressure
    "86198006",  # influenza vaccination
    "182836005",  # medication review
    "77068002",  # cholesterol measurement
    "43396009",  # HbA1c measurement
    "27113001",  # body weight
    "185389009",  # follow-up visit
    "390906007",  # follow-up encounter
    "268565007",  # adult health examination
)
SNOMED_FALL = "1912002"
SNOMED_FRAILTY = "248279007"
SNOMED_HIP_FRACTURE = "5913000"

ICD10_FALL = ("W01.0", "W10.0", "W06.0", "W07.0", "W18.0", "W19.0", "W19.9", "W01.9", "W05.0")
ICD10_FALL_P = (0.25, 0.12, 0.08, 0.06, 0.1, 0.27, 0.06, 0.04, 0.02)
ICD10_HIP_FRACTURE = ("S72.0", "S72.1", "S72.2")
ICD10_OTHER_FALL_INJURY = ("S42.2", "S52.5", "S06.0", "S32.5", "S22.3", "T14.0", "S01.8", "S80.0")
ICD10_EMERGENCY_OTHER = (
    "J18.9",
    "J44.1",
    "N39.0",
    "I21.9",
    "R07.4",
    "K92.2",
    "A41.9",
    "E87.1",
    "R55",
    "F05.9",
    "L03.1",
    "J22",
    "R10.4",
    "K59.0",
)
ICD10_ELECTIVE = ("H25.9", "M17.1", "M16.1", "K40.9", "N40", "Z51.1", "K80.2", "C18.9", "Z45.0")
ICD10_FRAILTY = "R54"
