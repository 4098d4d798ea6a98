"""Agency records drawn from the latent world: partial, delayed, dirty views of it.

Every builder returns a :class:`SourceRecords`: the rows of one source in the contract's column
order (as text, the way an agency exports them) and, per row, the true person. Health records
come in chains (an ambulance call, then an ED attendance, then an inpatient spell) so that the
sources agree with each other the way real ones do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from falls_risk import contract
from falls_risk.synth import dirt
from falls_risk.synth.people import RELATIVE, VISITOR, YOUNG_CONTACT
from falls_risk.synth.reference import (
    ACUTE_DRUGS,
    CONDITIONS,
    DRUG_CLASSES,
    ICD10_ELECTIVE,
    ICD10_EMERGENCY_OTHER,
    ICD10_FALL,
    ICD10_FALL_P,
    ICD10_FRAILTY,
    ICD10_HIP_FRACTURE,
    ICD10_OTHER_FALL_INJURY,
    LOCAL_AUTHORITIES,
    OTHER_SNOMED,
    SNOMED_FALL,
    SNOMED_FRAILTY,
    SNOMED_HIP_FRACTURE,
)
from falls_risk.synth.simulate import HOUSING_TYPES, NEVER, POLICE_TYPES, SOCIAL_CARE_TYPES, World

# Share of an outsider's encounters that reach this region's agencies.
OUTSIDER_KEEP = 0.35
OUTSIDER_KEEP_GP = 0.25
# Annual rate of GP codes outside the contract's code list, per registered person.
OTHER_GP_CODES_PER_YEAR = 2.2
ACUTE_RX_PER_YEAR = 0.6
REVIEW_CODED = 0.5
# Encounters per person-year of the people who only appear in agency records (relatives of spine
# households, visitors from outside the region). Chosen so that about a quarter of ED and
# ambulance records and a third of police records belong to people outside the spine, as in a
# region where adult children live in or near their parents' homes.
ED_PER_YEAR = {RELATIVE: 0.16, VISITOR: 0.22}
AMBULANCE_PER_YEAR = {RELATIVE: 0.08, VISITOR: 0.11}
POLICE_PER_YEAR = {RELATIVE: 0.02, VISITOR: 0.007}
# A co-resident adult child is the suspect in this share of a parent's domestic-abuse incidents.
CHILD_SUSPECT = 0.5


@dataclass
class SourceRecords:
    name: str
    frame: pd.DataFrame  # contract columns, as text
    person: np.ndarray  # true person index per row
    fall_admission: np.ndarray | None = None  # inpatient only: the row is a fall admission
    hip_fracture: np.ndarray | None = None


class Calendar:
    """Months of the period and the dates of each person's presence in the region."""

    def __init__(self, world: World, rng: np.random.Generator, start: date, end: date) -> None:
        self.start = np.datetime64(start, "D")
        self.end = np.datetime64(end, "D")
        m = np.arange(world.n_months + 1)
        self.month_start = (np.datetime64(start, "M") + m).astype("datetime64[D]")
        self.days_in_month = np.diff(self.month_start).astype(np.int64)
        people = world.people
        n = people.n
        death_month = np.full(n, NEVER, dtype=np.int64)
        dereg_month = np.full(n, NEVER, dtype=np.int64)
        death_month[: people.n_older] = world.death_month
        dereg_month[: people.n_older] = world.dereg_month
        far = np.datetime64("2200-01-01", "D")
        self.death_date = self._day_in(rng, death_month, far)
        self.dereg_date = self._day_in(rng, dereg_month, far, first=1)
        self.registration_date = people.registration_date
        self.death_month = death_month
        self.reg_month = people.reg_month
        self.dereg_month = dereg_month
        self.last_day = np.minimum(np.minimum(self.death_date, self.dereg_date - 1), self.end)
        self.first_day = np.maximum(self.registration_date, self.start)

    def _day_in(
        self, rng: np.random.Generator, month: np.ndarray, far: np.datetime64, first: int = 0
    ) -> np.ndarray:
        out = np.full(len(month), far)
        has = month < len(self.days_in_month)
        mm = month[has]
        out[has] = self.month_start[mm] + (
            first + (rng.random(len(mm)) * (self.days_in_month[mm] - first)).astype(np.int64)
        ).astype("timedelta64[D]")
        return out

    def event_dates(
        self, rng: np.random.Generator, person: np.ndarray, month: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """A day within each month, clipped to the person's presence; and which are valid."""
        ok = (month >= 0) & (month < len(self.days_in_month))
        mm = np.clip(month, 0, len(self.days_in_month) - 1)
        day = self.month_start[mm] + (rng.random(len(mm)) * self.days_in_month[mm]).astype(np.int64).astype(
            "timedelta64[D]"
        )
        day = np.maximum(np.minimum(day, self.last_day[person]), self.first_day[person])
        ok &= (day >= self.start) & (day <= self.end) & (day <= self.last_day[person])
        ok &= day >= self.first_day[person]
        # Nothing happens to a person after death or leaving, nor before arriving.
        ok &= (month <= self.death_month[person]) & (month <= self.dereg_month[person])
        ok &= month >= self.reg_month[person]
        return day, ok


def _record_only_encounters(
    rng: np.random.Generator, world: World, cal: Calendar, per_year: dict[int, float]
) -> tuple[np.ndarray, np.ndarray]:
    """(person, day) of encounters of relatives and visitors, uniform over the period."""
    years = (cal.end - cal.start).astype(np.int64) / 365.25
    kind = world.people.kind
    who = np.flatnonzero(np.isin(kind, list(per_year)))
    rate = np.array([per_year[int(k)] for k in kind[who]]) * years
    person = np.repeat(who, rng.poisson(rate))
    span = (cal.end - cal.start).astype(np.int64) + 1
    day = cal.start + rng.integers(0, span, len(person)).astype("timedelta64[D]")
    return person, day


def _keep_outsiders(rng: np.random.Generator, world: World, person: np.ndarray, p: float) -> np.ndarray:
    outsider = person >= world.people.n_spine
    return ~outsider | (rng.random(len(person)) < p)


def _times(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """Times of day (seconds resolution), busier in the day than at night."""
    hour = np.clip(rng.normal(13, 4.5, len(days)), 0, 23.99)
    secs = (hour * 3600).astype(np.int64)
    secs -= secs % 60
    return days.astype("datetime64[s]") + secs.astype("timedelta64[s]")


def _iso(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype(str).astype(object)


def _datetime_text(rng: np.random.Generator, values: np.ndarray, p_space: float) -> np.ndarray:
    text = _iso(values.astype("datetime64[s]"))
    for i in np.flatnonzero(rng.random(len(text)) < p_space):
        text[i] = text[i].replace("T", " ")
    return text


class Identities:
    """Per-record identifiers of the true person, dirtied by each source's profile."""

    def __init__(self, world: World, cal: Calendar) -> None:
        self.world = world
        self.cal = cal
        p = world.people
        self.sex_text = np.where(p.sex == 1, "F", "M").astype(object)
        self.other_nhs = np.where(p.spouse >= 0, p.nhs[np.maximum(p.spouse, 0)], np.roll(p.nhs, 7))

    def address(
        self, rng: np.random.Generator, person: np.ndarray, days: np.ndarray, stale: float
    ) -> np.ndarray:
        w = self.world
        month = (days.astype("datetime64[M]") - self.cal.month_start[0].astype("datetime64[M]")).astype(
            np.int64
        )
        older = person < w.people.n_older
        addr = w.people.address0[person].copy()
        lag = (rng.random(int(older.sum())) < stale).astype(np.int64)
        addr[older] = w.address_at(person[older], month[older], lag)
        return addr

    def fill(
        self,
        rng: np.random.Generator,
        source: str,
        person: np.ndarray,
        days: np.ndarray,
        columns: tuple[str, ...],
    ) -> dict[str, np.ndarray]:
        prof = dirt.PROFILES[source]
        p = self.world.people
        geo = self.world.geo
        out: dict[str, np.ndarray] = {}
        if "nhs_number" in columns:
            out["nhs_number"] = dirt.nhs_numbers(rng, p.nhs[person], self.other_nhs[person], prof)
        if "forename" in columns:
            out["forename"] = dirt.forenames(rng, p.forename[person], prof)
        if "surname" in columns:
            out["surname"] = dirt.surnames(rng, p.surname[person], p.previous_surname[person], prof)
        if "date_of_birth" in columns:
            out["date_of_birth"] = dirt.dates_of_birth(rng, p.birth_date[person], prof)
        if "sex" in columns:
            sex = self.sex_text[person].copy()
            if source != "population":
                sex[rng.random(len(sex)) < 0.003] = "U"
                low = rng.random(len(sex)) < prof.code_case * 0.3
                sex[low] = np.char.lower(sex[low].astype(str)).astype(object)
            out["sex"] = sex
        if "postcode" in columns or "address_line" in columns:
            addr = self.address(rng, person, days, prof.postcode_stale)
            if "postcode" in columns:
                out["postcode"] = dirt.postcodes(rng, geo.address_postcode(addr), prof)
            if "address_line" in columns:
                out["address_line"] = dirt.address_lines(rng, geo.address_line(addr), prof)
        return out


def _ids(rng: np.random.Generator, n: int, prefix: str, width: int) -> np.ndarray:
    base = int(rng.integers(10 ** (width - 2), 10 ** (width - 1)))
    numbers = base + np.cumsum(rng.integers(1, 4, n))
    return np.array([f"{prefix}{x:0{width}d}" for x in numbers], dtype=object)


def _frame(source: str, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    names = contract.SOURCES[source].column_names
    n = len(next(iter(cols.values())))
    return pd.DataFrame({c: cols.get(c, np.full(n, None, dtype=object)) for c in names})


def _sorted(order_key: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(order_key, kind="stable")
    return [a[order] for a in arrays]


# ---------------------------------------------------------------------------------------------
# Health: ambulance -> ED -> inpatient chains


@dataclass
class HealthChains:
    inpatient: SourceRecords
    ed: SourceRecords
    ambulance: SourceRecords


def _comorbidities(
    rng: np.random.Generator, world: World, person: np.ndarray, month: np.ndarray, p: float
) -> list[list[str]]:
    onset = world.cond_onset
    out: list[list[str]] = [[] for _ in range(len(person))]
    older = person < world.people.n_older
    for c, cond in enumerate(CONDITIONS):
        has = np.zeros(len(person), dtype=bool)
        has[older] = onset[person[older], c] <= month[older]
        coded = np.flatnonzero(has & (rng.random(len(person)) < p))
        picks = rng.integers(0, len(cond.icd10), len(coded))
        for i, k in zip(coded, picks):
            out[i].append(cond.icd10[k])
    return out


def _presenting(dx: str) -> str:
    if dx.startswith(("J18", "J44", "J22")):
        return "breathing"
    if dx.startswith(("I21", "R07")):
        return "chest_pain"
    if dx.startswith(("F05", "E87", "I63", "I64")):
        return "confusion"
    return "other"


def _chief(dx: str) -> str:
    if dx.startswith(("J18", "J44", "J22")):
        return "breathing"
    if dx.startswith(("I21", "R07")):
        return "chest_pain"
    if dx.startswith(("I63", "R55", "A41")):
        return "unconscious"
    return "other"


def build_health(rng: np.random.Generator, world: World, cal: Calendar, ident: Identities) -> HealthChains:
    log = world.log
    n_months = world.n_months
    # 1. Collect admissions: (person, month, kind, hip, primary diagnosis).
    fa = log.get("fall_admission")
    em = log.get("emergency")
    el = log.get("elective")
    kinds = np.concatenate(
        [
            np.zeros(len(fa["person"]), np.int8),
            np.ones(len(em["person"]), np.int8),
            np.full(len(el["person"]), 2, np.int8),
        ]
    )
    person = np.concatenate([fa["person"], em["person"], el["person"]])
    month = np.concatenate([fa["month"], em["month"], el["month"]])
    hip = np.concatenate(
        [fa.get("hip", np.zeros(0, bool)), np.zeros(len(em["person"]) + len(el["person"]), bool)]
    )
    stroke = np.concatenate(
        [
            np.zeros(len(fa["person"]), bool),
            em.get("stroke", np.zeros(0, bool)),
            np.zeros(len(el["person"]), bool),
        ]
    )
    keep = (month < n_months) & _keep_outsiders(rng, world, person, OUTSIDER_KEEP)
    person, month, kinds, hip, stroke = person[keep], month[keep], kinds[keep], hip[keep], stroke[keep]
    adm_day, ok = cal.event_dates(rng, person, month)
    los = np.select(
        [(kinds == 0) & hip, kinds == 0, kinds == 1],
        [
            rng.lognormal(np.log(18), 0.55, len(person)),
            rng.lognormal(np.log(6), 0.9, len(person)),
            rng.lognormal(np.log(4), 1.0, len(person)),
        ],
        np.where(rng.random(len(person)) < 0.4, 0, rng.integers(1, 4, len(person))),
    ).astype(np.int64)
    los[(kinds == 0) & hip] = np.maximum(los[(kinds == 0) & hip], 3)
    dis_day = np.minimum(adm_day + los.astype("timedelta64[D]"), cal.death_date[person])
    ok &= dis_day <= cal.end  # PEDW holds completed spells only
    person, month, kinds, hip, stroke, adm_day, dis_day = (
        a[ok] for a in (person, month, kinds, hip, stroke, adm_day, dis_day)
    )
    n = len(person)
    primary = np.empty(n, dtype=object)
    fall = kinds == 0
    primary[fall & hip] = rng.choice(ICD10_HIP_FRACTURE, int((fall & hip).sum()), p=[0.5, 0.35, 0.15])
    primary[fall & ~hip] = rng.choice(ICD10_OTHER_FALL_INJURY, int((fall & ~hip).sum()))
    primary[(kinds == 1) & stroke] = "I63.9"
    primary[(kinds == 1) & ~stroke] = rng.choice(ICD10_EMERGENCY_OTHER, int(((kinds == 1) & ~stroke).sum()))
    primary[kinds == 2] = rng.choice(ICD10_ELECTIVE, int((kinds == 2).sum()))
    wcode = rng.choice(ICD10_FALL, n, p=np.array(ICD10_FALL_P) / np.sum(ICD10_FALL_P))
    comorb = _comorbidities(rng, world, person, month, 0.45)
    age = (adm_day - world.people.birth_date[person]).astype(np.int64) / 365.25
    frail_code = fall & (age > 80) & (rng.random(n) < 0.25)
    with_dot = rng.random(n) < 0.7
    lower = rng.random(n) < 0.01
    diagnoses = np.empty(n, dtype=object)
    for i in range(n):
        codes = [primary[i]]
        if fall[i]:
            codes.append(wcode[i])
        codes.extend(x for x in comorb[i] if x != primary[i])
        if frail_code[i]:
            codes.append(ICD10_FRAILTY)
        text = ";".join(codes)
        if not with_dot[i]:
            text = text.replace(".", "")
        diagnoses[i] = text.lower() if lower[i] else text

    # 2. ED attendances and ambulance calls in the chain.
    via_ed = np.where(fall, rng.random(n) < 0.95, np.where(kinds == 1, rng.random(n) < 0.9, False))
    by_ambulance = via_ed & np.where(fall, rng.random(n) < 0.8, rng.random(n) < 0.55)
    arrival = _times(rng, adm_day)
    # 3. Not-admitted falls, other ED use, other ambulance calls, deaths in ED.
    fn = log.get("fall_not_admitted")
    route = fn.get("route", np.zeros(0, np.int64))
    edo = log.get("ed_other")
    amo = log.get("ambulance_other")
    de = log.get("death")
    in_ed_death = rng.random(len(de["person"])) < 0.15
    x_person = np.concatenate([fn["person"], edo["person"], amo["person"], de["person"][in_ed_death]])
    x_month = np.concatenate([fn["month"], edo["month"], amo["month"], de["month"][in_ed_death]])
    x_kind = np.concatenate(
        [
            route,
            np.full(len(edo["person"]), 3),
            np.full(len(amo["person"]), 4),
            np.full(int(in_ed_death.sum()), 5),
        ]
    )
    keep = _keep_outsiders(rng, world, x_person, OUTSIDER_KEEP)
    x_person, x_month, x_kind = x_person[keep], x_month[keep], x_kind[keep]
    x_day, ok = cal.event_dates(rng, x_person, x_month)
    died = x_kind == 5
    x_day[died] = cal.death_date[x_person[died]]
    xd = x_person[died]
    ok[died] = (x_day[died] >= cal.first_day[xd]) & (x_day[died] <= cal.last_day[xd])
    x_person, x_kind, x_day = x_person[ok], x_kind[ok], x_day[ok]
    x_time = _times(rng, x_day)
    nx = len(x_person)

    # ED rows: admitted chains + not-admitted falls by ambulance (1) or self (2) + other + died.
    x_ed = np.isin(x_kind, (1, 2, 3, 5))
    ed_person = np.concatenate([person[via_ed], x_person[x_ed]])
    ed_time = np.concatenate([arrival[via_ed], x_time[x_ed]])
    n_adm_ed = int(via_ed.sum())
    xk = x_kind[x_ed]
    r = rng.random(len(xk))
    mode_adm = np.where(
        by_ambulance[via_ed], "ambulance", np.where(rng.random(n_adm_ed) < 0.8, "self", "other")
    )
    mode_x = np.select(
        [xk == 1, xk == 2, xk == 5],
        ["ambulance", np.where(r < 0.8, "self", "other"), "ambulance"],
        np.select([r < 0.2, r < 0.9], ["ambulance", "self"], "other"),
    )
    fall_adm_ed = fall[via_ed]
    complaint_adm = np.where(
        fall_adm_ed,
        np.where(rng.random(n_adm_ed) < 0.8, "fall", "injury"),
        np.array([_presenting(d) for d in primary[via_ed]], dtype=object),
    )
    complaint_x = np.where(
        np.isin(xk, (1, 2)),
        np.where(rng.random(len(xk)) < 0.85, "fall", "injury"),
        rng.choice(
            ["injury", "breathing", "chest_pain", "confusion", "other"],
            len(xk),
            p=[0.2, 0.2, 0.2, 0.05, 0.35],
        ),
    )
    disp_x = np.where(
        xk == 5,
        "died",
        np.where(
            np.isin(xk, (1, 2)),
            rng.choice(["discharged", "left", "transferred"], len(xk), p=[0.9, 0.04, 0.06]),
            rng.choice(["discharged", "left", "transferred"], len(xk), p=[0.86, 0.07, 0.07]),
        ),
    )
    ed_mode = np.concatenate([mode_adm, mode_x]).astype(object)
    ed_complaint = np.concatenate([complaint_adm, complaint_x]).astype(object)
    ed_disp = np.concatenate([np.full(n_adm_ed, "admitted", dtype=object), disp_x]).astype(object)
    # Relatives and visitors: attendances of people the spine does not hold.
    r_person, r_day = _record_only_encounters(rng, world, cal, ED_PER_YEAR)
    nr = len(r_person)
    ed_person = np.concatenate([ed_person, r_person])
    ed_time = np.concatenate([ed_time, _times(rng, r_day)])
    ed_mode = np.concatenate([ed_mode, rng.choice(["self", "ambulance", "other"], nr, p=[0.7, 0.2, 0.1])])
    ed_complaint = np.concatenate(
        [ed_complaint, rng.choice(["injury", "breathing", "chest_pain", "fall", "other"], nr, p=[0.4, 0.1, 0.1, 0.05, 0.35])]
    ).astype(object)
    ed_disp = np.concatenate(
        [ed_disp, rng.choice(["discharged", "left", "transferred", "admitted"], nr, p=[0.8, 0.08, 0.04, 0.08])]
    ).astype(object)

    # Ambulance rows: admitted chains by ambulance, not-admitted falls (0 not conveyed, 1 conveyed),
    # other calls (not conveyed), deaths (conveyed).
    x_amb = np.isin(x_kind, (0, 1, 4, 5))
    lead = rng.integers(25, 120, n + nx) * 60
    amb_person = np.concatenate([person[by_ambulance], x_person[x_amb]])
    amb_time = np.concatenate([arrival[by_ambulance], x_time[x_amb]]) - lead[: len(amb_person)].astype(
        "timedelta64[s]"
    )
    xa = x_kind[x_amb]
    chief_adm = np.where(
        fall[by_ambulance], "fall", np.array([_chief(d) for d in primary[by_ambulance]], dtype=object)
    )
    chief_x = np.where(
        np.isin(xa, (0, 1)),
        "fall",
        np.where(
            xa == 5,
            rng.choice(["unconscious", "breathing", "chest_pain", "other"], len(xa)),
            rng.choice(
                ["breathing", "chest_pain", "unconscious", "other"], len(xa), p=[0.25, 0.2, 0.1, 0.45]
            ),
        ),
    )
    amb_chief = np.concatenate([chief_adm, chief_x]).astype(object)
    amb_conveyed = np.concatenate([np.ones(int(by_ambulance.sum()), bool), np.isin(xa, (1, 5))])
    r_person, r_day = _record_only_encounters(rng, world, cal, AMBULANCE_PER_YEAR)
    amb_person = np.concatenate([amb_person, r_person])
    amb_time = np.concatenate([amb_time, _times(rng, r_day)])
    amb_chief = np.concatenate(
        [amb_chief, rng.choice(["breathing", "chest_pain", "unconscious", "fall", "other"], len(r_person))]
    ).astype(object)
    amb_conveyed = np.concatenate([amb_conveyed, rng.random(len(r_person)) < 0.6])

    # Inpatient source.
    (ip_person, ip_adm, ip_dis, ip_kind, ip_dx, ip_hip) = _sorted(
        adm_day.astype(np.int64) * 10 + rng.integers(0, 10, n),
        person,
        adm_day,
        dis_day,
        kinds,
        diagnoses,
        hip,
    )
    cols = ident.fill(
        rng, "inpatient_spells", ip_person, ip_adm, contract.SOURCES["inpatient_spells"].column_names
    )
    method = np.where(ip_kind == 2, "elective", "emergency").astype(object)
    other = (ip_kind == 1) & (rng.random(len(ip_kind)) < 0.03)
    method[other] = "other"  # e.g. a transfer in, recorded as "other"
    cols.update(
        spell_id=_ids(rng, len(ip_person), "SPL", 9),
        admission_date=_iso(ip_adm),
        discharge_date=_iso(ip_dis),
        admission_method=dirt.codes(rng, method, dirt.PROFILES["inpatient_spells"].code_case),
        diagnoses=ip_dx,
    )
    fall_rows = ip_kind == 0
    inpatient = SourceRecords(
        "inpatient_spells",
        _frame("inpatient_spells", cols),
        ip_person,
        fall_admission=fall_rows,
        hip_fracture=ip_hip & fall_rows,
    )
    # An "other" admission method must not hide a fall admission.
    assert not (fall_rows & (method != "emergency")).any()

    (ed_p, ed_t, ed_m, ed_c, ed_d) = _sorted(
        ed_time.astype(np.int64), ed_person, ed_time, ed_mode, ed_complaint, ed_disp
    )
    prof = dirt.PROFILES["ed_attendances"]
    cols = ident.fill(
        rng,
        "ed_attendances",
        ed_p,
        ed_t.astype("datetime64[D]"),
        contract.SOURCES["ed_attendances"].column_names,
    )
    cols.update(
        attendance_id=_ids(rng, len(ed_p), "ED", 10),
        arrival_time=_datetime_text(rng, ed_t, prof.datetime_space),
        arrival_mode=dirt.codes(rng, ed_m, prof.code_case),
        presenting_complaint=dirt.codes(rng, ed_c, prof.code_case),
        disposal=dirt.codes(rng, ed_d, prof.code_case),
    )
    ed = SourceRecords("ed_attendances", _frame("ed_attendances", cols), ed_p)

    (am_p, am_t, am_c, am_v) = _sorted(
        amb_time.astype(np.int64), amb_person, amb_time, amb_chief, amb_conveyed
    )
    # A call just before midnight can fall before the period or the registration: keep it in.
    am_t = np.maximum(am_t, cal.first_day[am_p].astype("datetime64[s]"))
    prof = dirt.PROFILES["ambulance_calls"]
    cols = ident.fill(
        rng,
        "ambulance_calls",
        am_p,
        am_t.astype("datetime64[D]"),
        contract.SOURCES["ambulance_calls"].column_names,
    )
    conveyed = np.where(am_v, "true", "false").astype(object)
    cols.update(
        call_id=np.array([f"WAST{x}" for x in _ids(rng, len(am_p), "", 10)], dtype=object),
        call_time=_datetime_text(rng, am_t, prof.datetime_space),
        chief_complaint=dirt.codes(rng, am_c, prof.code_case),
        conveyed=dirt.codes(rng, conveyed, 0.02),
    )
    ambulance = SourceRecords("ambulance_calls", _frame("ambulance_calls", cols), am_p)
    return HealthChains(inpatient, ed, ambulance)


# ---------------------------------------------------------------------------------------------
# Primary care


def _active_months(world: World, cal: Calendar, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first = np.maximum(world.people.reg_month[person], 0)
    last = np.minimum(np.minimum(cal.death_month[person], cal.dereg_month[person]) + 1, world.n_months)
    return first, last


def build_gp_events(
    rng: np.random.Generator, world: World, cal: Calendar
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person, event_date, snomed_code) of coded primary-care records."""
    ps, ms, cs = [], [], []
    n_older = world.people.n_older
    diag = world.cond_diag
    dementia_variant = np.where(rng.random(n_older) < 0.3, "26929004", "52448006")
    for c, cond in enumerate(CONDITIONS):
        d = diag[:, c]
        has = np.flatnonzero(d < world.n_months)
        # The first code, then annual reviews.
        first_k = np.maximum(0, -(d[has] // 12))  # k with d + 12k >= 0
        last_k = (world.n_months - 1 - d[has]) // 12
        count = np.maximum(last_k - first_k + 1, 0)
        rep = np.repeat(has, count)
        k = np.repeat(first_k, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        month = diag[rep, c] + 12 * k
        coded = (k == 0) | (rng.random(len(rep)) < REVIEW_CODED)
        rep, month = rep[coded], month[coded]
        ps.append(rep)
        ms.append(month)
        code = (
            dementia_variant[rep]
            if cond.key == "dementia"
            else np.full(len(rep), cond.snomed[0], dtype=object)
        )
        cs.append(np.asarray(code, dtype=object))
    log = world.log
    for kind, p, lag, code in (
        ("gp_fall", 1.0, 0, SNOMED_FALL),
        ("fall_not_admitted", 0.35, 0, SNOMED_FALL),
        ("fall_admission", 0.5, 1, SNOMED_FALL),
        ("gp_frailty", 1.0, 0, SNOMED_FRAILTY),
    ):
        ev = log.get(kind)
        sel = rng.random(len(ev["person"])) < p
        ps.append(ev["person"][sel])
        ms.append(ev["month"][sel] + lag)
        cs.append(np.full(int(sel.sum()), code, dtype=object))
    fa = log.get("fall_admission")
    sel = fa.get("hip", np.zeros(0, bool)) & (rng.random(len(fa["person"])) < 0.7)
    ps.append(fa["person"][sel])
    ms.append(fa["month"][sel] + 1)
    cs.append(np.full(int(sel.sum()), SNOMED_HIP_FRACTURE, dtype=object))
    # Everyday codes outside the code list.
    everyone = np.arange(n_older)
    first, last = _active_months(world, cal, everyone)
    span = np.maximum(last - first, 0)
    count = rng.poisson(OTHER_GP_CODES_PER_YEAR / 12 * span)
    rep = np.repeat(everyone, count)
    ps.append(rep)
    ms.append(np.repeat(first, count) + (rng.random(len(rep)) * np.repeat(span, count)).astype(np.int64))
    cs.append(rng.choice(np.array(OTHER_SNOMED, dtype=object), len(rep)))

    person = np.concatenate(ps)
    month = np.concatenate(ms)
    code = np.concatenate(cs)
    keep = _keep_outsiders(rng, world, person, OUTSIDER_KEEP_GP)
    person, month, code = person[keep], month[keep], code[keep]
    day, ok = cal.event_dates(rng, person, month)
    return _sorted_ok(person, day, code, ok)


def _sorted_ok(
    person: np.ndarray, day: np.ndarray, code: np.ndarray, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    person, day, code = person[ok], day[ok], code[ok]
    order = np.lexsort((person, day))
    return person[order], day[order], code[order]


def build_prescriptions(
    rng: np.random.Generator, world: World, cal: Calendar
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Repeat issues every two to three months per active drug, plus acute one-off issues.

    Returns (person, issue_date, catalogue BNF codes, catalogue drug names, catalogue index).
    """
    ep = world.drug_episodes
    person, drug = ep["person"], ep["drug"]
    keep = _keep_outsiders(rng, world, person, OUTSIDER_KEEP_GP)
    person, drug, start_m, end_m = person[keep], drug[keep], ep["start"][keep], ep["end"][keep]
    first_m, last_m = _active_months(world, cal, person)
    s = np.maximum(start_m, first_m)
    e = np.minimum(end_m, last_m)
    ok = e > s
    person, drug, s, e, starts_inside = person[ok], drug[ok], s[ok], e[ok], (start_m >= first_m)[ok]
    interval = rng.integers(56, 93, len(person))
    begin = cal.month_start[s] + rng.integers(0, 28, len(person)).astype("timedelta64[D]")
    # An episode already running at the window start is part-way through its issue cycle.
    phase = (rng.random(len(person)) * interval).astype(np.int64)
    begin = np.where(starts_inside, begin, cal.month_start[s] + phase.astype("timedelta64[D]"))
    begin = np.maximum(begin, cal.first_day[person])
    stop = np.minimum(cal.month_start[e] - np.timedelta64(1, "D"), cal.last_day[person])
    span = (stop - begin).astype(np.int64)
    count = np.where(span >= 0, span // interval + 1, 0)
    rep = np.repeat(np.arange(len(person)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    day = begin[rep] + (k * interval[rep]).astype("timedelta64[D]")
    # One product per episode.
    member = (rng.random(len(person)) * np.array([len(DRUG_CLASSES[d].members) for d in drug])).astype(
        np.int64
    )
    catalogue = [(dc.members[i][0], dc.members[i][1]) for dc in DRUG_CLASSES for i in range(len(dc.members))]
    offsets = np.cumsum([0] + [len(dc.members) for dc in DRUG_CLASSES])[:-1]
    product = offsets[drug] + member
    rx_person = person[rep]
    rx_product = product[rep]
    # Acute one-off prescriptions.
    everyone = np.arange(world.people.n_older)
    first, last = _active_months(world, cal, everyone)
    span_m = np.maximum(last - first, 0)
    n_acute = rng.poisson(ACUTE_RX_PER_YEAR / 12 * span_m)
    a_person = np.repeat(everyone, n_acute)
    a_month = np.repeat(first, n_acute) + (rng.random(len(a_person)) * np.repeat(span_m, n_acute)).astype(
        np.int64
    )
    a_keep = _keep_outsiders(rng, world, a_person, OUTSIDER_KEEP_GP)
    a_day, a_ok = cal.event_dates(rng, a_person[a_keep], a_month[a_keep])
    a_person = a_person[a_keep][a_ok]
    a_day = a_day[a_ok]
    a_product = len(catalogue) + rng.integers(0, len(ACUTE_DRUGS), len(a_person))
    catalogue += list(ACUTE_DRUGS)
    all_person = np.concatenate([rx_person, a_person])
    all_day = np.concatenate([day, a_day])
    all_product = np.concatenate([rx_product, a_product])
    ok = (all_day >= cal.start) & (all_day <= cal.end)
    all_person, all_day, all_product = all_person[ok], all_day[ok], all_product[ok]
    order = np.lexsort((all_person, all_day))
    codes = np.array([c for c, _ in catalogue], dtype=object)
    names = np.array([nm for _, nm in catalogue], dtype=object)
    return all_person[order], all_day[order], codes, names, all_product[order]


# ---------------------------------------------------------------------------------------------
# Councils and police


def build_social_care(
    rng: np.random.Generator, world: World, cal: Calendar, ident: Identities
) -> SourceRecords:
    ev = world.log.get("social_care")
    person, month = ev["person"], ev["month"]
    service = ev.get("service", np.zeros(0, np.int8))
    keep = _keep_outsiders(rng, world, person, OUTSIDER_KEEP * 0.6)
    person, month, service = person[keep], month[keep], service[keep]
    day, ok = cal.event_dates(rng, person, month)
    person, day, service = person[ok], day[ok], service[ok]
    n = len(person)
    dur = np.select(
        [service == 0, service == 2, service == 1, service == 3, service == 4, service == 5, service == 6],
        [
            rng.integers(0, 15, n),
            rng.integers(35, 50, n),
            (rng.exponential(18, n) * 30.4).astype(np.int64),
            (rng.exponential(40, n) * 30.4).astype(np.int64),
            (rng.exponential(12, n) * 30.4).astype(np.int64),
            np.full(n, 100_000),
            rng.integers(0, 90, n),
        ],
    ).astype(np.int64)
    end_day = np.minimum(day + dur.astype("timedelta64[D]"), cal.death_date[person])
    ongoing = end_day > cal.end
    hours = np.full(n, np.nan)
    hc = service == 1
    hours[hc] = np.clip(np.round(rng.lognormal(np.log(8), 0.6, int(hc.sum())) * 4) / 4, 1, 42)
    hours[service == 2] = rng.integers(5, 16, int((service == 2).sum()))
    hours[service == 4] = 6.0 * rng.integers(1, 3, int((service == 4).sum()))
    person, day, end_day, ongoing, service, hours = _sorted(
        day.astype(np.int64), person, day, end_day, ongoing, service, hours
    )
    prof = dirt.PROFILES["social_care"]
    cols = ident.fill(rng, "social_care", person, day, contract.SOURCES["social_care"].column_names)
    # The council's own client id, stable for a person.
    p = world.people
    first_addr_lsoa = world.geo.address_lsoa(p.address0)
    la = np.where(
        first_addr_lsoa >= 0,
        world.geo.lsoa_la[np.maximum(first_addr_lsoa, 0)],
        rng.integers(0, len(LOCAL_AUTHORITIES), p.n),
    )
    prefix = np.array([la_[1] for la_ in LOCAL_AUTHORITIES], dtype=object)[la]
    client_no = rng.permutation(p.n) + 100_000
    client_id = prefix + np.char.mod("%07d", client_no).astype(object)
    end_text = _iso(end_day)
    end_text[ongoing] = None
    hours_text = np.array([None if np.isnan(h) else f"{h:g}" for h in hours], dtype=object)
    cols.update(
        record_id=_ids(rng, len(person), "SC", 8),
        client_id=client_id[person],
        service_type=dirt.codes(rng, np.array(SOCIAL_CARE_TYPES, dtype=object)[service], prof.code_case),
        start_date=_iso(day),
        end_date=end_text,
        weekly_hours=hours_text,
    )
    return SourceRecords("social_care", _frame("social_care", cols), person)


_POLICE_ROLE = {
    "concern_for_welfare": ("subject_of_concern",),
    "domestic_abuse": ("victim",),
    "fraud_scam": ("victim",),
    "theft_burglary": ("victim",),
    "antisocial_behaviour": ("victim", "victim", "witness"),
    "missing_person": ("subject_of_concern",),
    "other": ("victim", "witness"),
}
_SUSPECT_P = {
    "domestic_abuse": 0.7,
    "fraud_scam": 0.25,
    "theft_burglary": 0.35,
    "antisocial_behaviour": 0.5,
    "other": 0.2,
}


def build_police(rng: np.random.Generator, world: World, cal: Calendar, ident: Identities) -> SourceRecords:
    ev = world.log.get("police")
    person, month = ev["person"], ev["month"]
    itype = ev.get("incident_type", np.zeros(0, np.int8))
    keep = _keep_outsiders(rng, world, person, OUTSIDER_KEEP * 0.6)
    person, month, itype = person[keep], month[keep], itype[keep]
    day, ok = cal.event_dates(rng, person, month)
    person, day, itype = person[ok], day[ok], itype[ok]
    # Incidents of relatives and visitors themselves.
    r_person, r_day = _record_only_encounters(rng, world, cal, POLICE_PER_YEAR)
    r_type = rng.choice(len(POLICE_TYPES), len(r_person))
    person = np.concatenate([person, r_person])
    day = np.concatenate([day, r_day])
    itype = np.concatenate([itype, r_type.astype(itype.dtype)])
    person, day, itype = _sorted(day.astype(np.int64), person, day, itype)
    p = world.people
    young = np.flatnonzero(p.kind == YOUNG_CONTACT)
    # Adult children living in a spine person's home.
    lives_in = np.flatnonzero((p.kind == RELATIVE) & (p.address0 == p.address0[np.maximum(p.relative_of, 0)]))
    children_at_home: dict[int, list[int]] = {}
    for child in lives_in.tolist():
        children_at_home.setdefault(int(p.relative_of[child]), []).append(child)
    rows_inc, rows_person, rows_role = [], [], []
    for i in range(len(person)):
        t = POLICE_TYPES[itype[i]]
        roles = _POLICE_ROLE[t]
        rows_inc.append(i)
        rows_person.append(person[i])
        rows_role.append(roles[int(rng.integers(0, len(roles)))])
        sp = p.spouse[person[i]]
        spouse_there = sp >= 0 and cal.last_day[sp] >= day[i] and cal.first_day[sp] <= day[i]
        at_home = children_at_home.get(int(person[i]), []) + children_at_home.get(int(sp), [])
        if rng.random() < _SUSPECT_P.get(t, 0.0):
            if t == "domestic_abuse" and at_home and rng.random() < CHILD_SUSPECT:
                rows_inc.append(i)
                rows_person.append(at_home[int(rng.integers(0, len(at_home)))])
                rows_role.append("suspect")
            elif t == "domestic_abuse" and spouse_there and rng.random() < 0.5:
                rows_inc.append(i)
                rows_person.append(sp)
                rows_role.append("suspect")
            elif len(young):
                rows_inc.append(i)
                rows_person.append(young[int(rng.integers(0, len(young)))])
                rows_role.append("suspect")
        if spouse_there and t != "domestic_abuse" and rng.random() < 0.25:
            rows_inc.append(i)
            rows_person.append(sp)
            rows_role.append("witness")
        elif at_home and rng.random() < 0.2:
            rows_inc.append(i)
            rows_person.append(at_home[int(rng.integers(0, len(at_home)))])
            rows_role.append("witness")
        elif rng.random() < 0.12 and len(young):
            rows_inc.append(i)
            rows_person.append(young[int(rng.integers(0, len(young)))])
            rows_role.append("witness")
    inc = np.array(rows_inc, dtype=np.int64)
    who = np.array(rows_person, dtype=np.int64)
    role = np.array(rows_role, dtype=object)
    years = day.astype("datetime64[Y]").astype(int) + 1970
    seq = np.zeros(len(day), dtype=np.int64)
    for y in np.unique(years):
        idx = np.flatnonzero(years == y)
        seq[idx] = np.cumsum(rng.integers(1, 40, len(idx)))
    incident_id = np.array([f"{y % 100:02d}/{s:06d}/NICHE" for y, s in zip(years, seq)], dtype=object)
    prof = dirt.PROFILES["police_incidents"]
    cols = ident.fill(
        rng, "police_incidents", who, day[inc], contract.SOURCES["police_incidents"].column_names
    )
    cols.update(
        incident_id=incident_id[inc],
        incident_date=_iso(day[inc]),
        person_role=dirt.codes(rng, role, prof.code_case),
        incident_type=dirt.codes(rng, np.array(POLICE_TYPES, dtype=object)[itype[inc]], prof.code_case),
    )
    return SourceRecords("police_incidents", _frame("police_incidents", cols), who)


def build_housing(rng: np.random.Generator, world: World, cal: Calendar, ident: Identities) -> SourceRecords:
    ev = world.log.get("housing")
    person, month = ev["person"], ev["month"]
    kind = ev.get("adaptation", np.zeros(0, np.int8))
    keep = _keep_outsiders(rng, world, person, OUTSIDER_KEEP * 0.6)
    person, month, kind = person[keep], month[keep], kind[keep]
    day, ok = cal.event_dates(rng, person, month)
    person, day, kind = _sorted(day[ok].astype(np.int64), person[ok], day[ok], kind[ok])
    n = len(person)
    done = day + rng.integers(30, 240, n).astype("timedelta64[D]")
    missing = (rng.random(n) < 0.12) | (done > cal.end) | (done > cal.death_date[person])
    done_text = _iso(done)
    done_text[missing] = None
    prof = dirt.PROFILES["housing_adaptations"]
    cols = ident.fill(
        rng, "housing_adaptations", person, day, contract.SOURCES["housing_adaptations"].column_names
    )
    lsoa = world.geo.address_lsoa(world.people.address0[person])
    la = np.where(lsoa >= 0, world.geo.lsoa_la[np.maximum(lsoa, 0)], 0)
    prefix = np.array([la_[1] for la_ in LOCAL_AUTHORITIES], dtype=object)[la]
    years = day.astype("datetime64[Y]").astype(int) + 1970
    cols.update(
        application_id=np.array(
            [f"DFG/{pf}/{y}/{i:05d}" for pf, y, i in zip(prefix, years, np.arange(n) + 1)], dtype=object
        ),
        adaptation_type=dirt.codes(rng, np.array(HOUSING_TYPES, dtype=object)[kind], prof.code_case),
        application_date=_iso(day),
        completed_date=done_text,
    )
    return SourceRecords("housing_adaptations", _frame("housing_adaptations", cols), person)


def build_population(
    rng: np.random.Generator, world: World, cal: Calendar, ident: Identities
) -> SourceRecords:
    p = world.people
    spine = np.arange(p.n_spine)
    last_month = np.minimum(np.minimum(cal.death_month[spine], cal.dereg_month[spine]), world.n_months - 1)
    addr = world.address_at(spine, last_month)
    prof = dirt.PROFILES["population"]
    geo = world.geo
    lsoa = geo.address_lsoa(addr)
    dereg = _iso(cal.dereg_date[spine])
    dereg[cal.dereg_month[spine] >= world.n_months] = None
    death = _iso(cal.death_date[spine])
    # The practice hears of a death only while the person is registered with it.
    death[(cal.death_month[spine] >= world.n_months) | (cal.dereg_month[spine] < cal.death_month[spine])] = (
        None
    )
    cols = {
        "nhs_number": p.nhs_text[spine],
        "forename": dirt.forenames(rng, p.forename[spine], prof),
        "surname": dirt.surnames(rng, p.surname[spine], p.previous_surname[spine], prof),
        "date_of_birth": _iso(p.birth_date[spine]),
        "sex": ident.sex_text[spine],
        "postcode": dirt.postcodes(rng, geo.address_postcode(addr), prof),
        "address_line": dirt.address_lines(rng, geo.address_line(addr), prof),
        "lsoa_code": geo.lsoa_code[lsoa],
        "local_authority": np.array(geo.la_names, dtype=object)[geo.lsoa_la[lsoa]],
        "registration_date": _iso(p.registration_date[spine]),
        "deregistration_date": dereg,
        "date_of_death": death,
    }
    return SourceRecords("population", _frame("population", cols), spine)


def build_deprivation(world: World) -> pd.DataFrame:
    geo = world.geo
    return _frame(
        "deprivation", {"lsoa_code": geo.lsoa_code, "wimd_rank": geo.wimd_rank.astype(str).astype(object)}
    )
