"""The latent life course of the region's older people, month by month, vectorised over people.

Each person carries a latent state: frailty (drifts upward with age, jumps after a fall, a stroke
or an emergency admission), onsets of twelve conditions, exposures to nineteen drug classes (the
fall-risk-increasing drugs of the contract among them), household state (a spouse's death leaves
the survivor alone), deprivation, and a history of falls. The monthly hazard of a fall-related
emergency admission is a log-linear function of that latent state, with hazard ratios in the
published ranges:

- a fall (admitted or not) in the last 12 months 1.8, 12-36 months ago 1.3; with the frailty
  jump a fall leaves behind and the frailty it signals, a previous fall admission multiplies the
  next year's risk several-fold, above the literature's odds ratios of 2.5-3.5 for a
  self-reported fall, as a recorded admission should;
- dementia 2.0, Parkinson's 2.7, stroke 1.6, incontinence 1.6, visual impairment 1.6,
  orthostatic hypotension 1.8, depression 1.4, osteoporosis 1.2 (and more fractures);
- fall-risk-increasing drugs 1.15-1.6 per class, polypharmacy (five or more classes) 1.4;
- living alone 1.4, female 1.35, each step of deprivation quintile 1.06 (about 1.26 between the
  most and least deprived fifths), care-home residence 1.5, latent frailty 1.3 per unit.

These are the hazard ratios at 75. Relative risks weaken with age, as clinical risk tools model
them (QRISK3 and QFracture with age interaction terms, FRAX with hazard ratios that change with
age): every log hazard ratio above is scaled by 1 - 0.3 per decade past 75 (1.3 at 65, 0.7 at 85,
0.4 at 95), and each year of age is then re-centred so that its incidence is unchanged
(``attenuate_with_age``). A previous fall's 1.8 is thus 2.1 at 65 and 1.5 at 85. The log-linear model of the risk factors holds within
an age; across ages it does not, which is a structure a logistic regression on main effects
misses and trees can learn.

Observed records (GP codes, prescriptions, hospital, ambulance, social care, police, housing) are
drawn later from the event log this module writes, so they are partial, delayed views of the
latent state, never the state itself. The intercept and age slope are calibrated so that about
2% of people aged 65+ have a fall admission a year, rising from about 1% at 65-69 to 8-10% at 90+.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from falls_risk.contract import ADAPTATION_TYPES, INCIDENT_TYPES, SERVICE_TYPES
from falls_risk.synth.geography import Geography
from falls_risk.synth.people import People
from falls_risk.synth.reference import CONDITION_INDEX, CONDITIONS, DRUG_CLASSES

NEVER = 1_000_000
BURN_IN_MONTHS = 24

# Log hazard of a fall admission for a reference person (75, male, none of the risk factors,
# frailty 0, least deprived quintile), per month; then the effects.
FALL_INTERCEPT = -8.22
FALL_AGE_SLOPE = -0.015
# Beyond what frailty and conditions explain, risk climbs faster after 80 and is lower before 65.
FALL_AGE_SLOPE_OVER_80 = 0.012
FALL_AGE_SLOPE_UNDER_65 = 0.05
FALL_FRAILTY_BETA = np.log(1.3)
FALL_FEMALE_HR = 1.35
FALL_RECENT_FALL_HR = 1.8
FALL_OLDER_FALL_HR = 1.3
FALL_POLYPHARMACY_HR = 1.4
FALL_ALONE_HR = 1.4
FALL_DEPRIVATION_STEP_HR = 1.06
FALL_CARE_HOME_HR = 1.5
# Relative risks weaken with age (log hazard ratios times 1 - this per decade past 75, never below
# the floor).
FALL_RR_ATTENUATION_PER_DECADE = 0.3
FALL_RR_SCALE_FLOOR = 0.3
# Latent frailty: spread between people at the start, and the jump a fall admission leaves.
FRAILTY_SD = 0.6
FALL_FRAILTY_JUMP = 0.15
# Falls that bring an ambulance or an ED visit but no admission, per fall admission.
NON_ADMITTED_PER_ADMITTED = 2.2
# Falls only the GP hears about, per fall admission.
GP_ONLY_PER_ADMITTED = 1.2

# The contract's vocabularies, in its order (the index arrays below rely on it).
SOCIAL_CARE_TYPES = SERVICE_TYPES
POLICE_TYPES = INCIDENT_TYPES
HOUSING_TYPES = ADAPTATION_TYPES
HOUSING_P = np.array([0.2, 0.45, 0.2, 0.08, 0.07])


@dataclass
class EventLog:
    """Events of the latent world: for each kind, person and month (and extra columns)."""

    chunks: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict)

    def add(self, kind: str, person: np.ndarray, month: int | np.ndarray, **extra: np.ndarray) -> None:
        if len(person) == 0:
            return
        row = {
            "person": person.astype(np.int64),
            "month": np.broadcast_to(month, person.shape).astype(np.int64),
        }
        row.update({k: np.broadcast_to(v, person.shape).copy() for k, v in extra.items()})
        self.chunks.setdefault(kind, []).append(row)

    def get(self, kind: str) -> dict[str, np.ndarray]:
        parts = self.chunks.get(kind, [])
        if not parts:
            return {"person": np.zeros(0, np.int64), "month": np.zeros(0, np.int64)}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@dataclass
class World:
    people: People
    geo: Geography
    n_months: int
    log: EventLog
    hazard: np.ndarray  # float32 (n_spine, n_months); NaN when not registered or dead
    death_month: np.ndarray  # NEVER when alive at the end
    dereg_month: np.ndarray  # NEVER when registered at the end
    cond_onset: np.ndarray  # (n, C) month of onset, NEVER if none
    cond_diag: np.ndarray  # (n, C) month first coded by the GP, NEVER if never
    address_hist_person: np.ndarray  # address history, sorted by (person, month)
    address_hist_month: np.ndarray
    address_hist_addr: np.ndarray
    frailty_start: np.ndarray
    frailty_end: np.ndarray
    alone_start: np.ndarray
    alone_end: np.ndarray
    care_home_month: np.ndarray
    drug_episodes: dict[str, np.ndarray]  # person, drug, start, end (months, end exclusive)

    def address_at(self, person: np.ndarray, month: np.ndarray, lag: np.ndarray | None = None) -> np.ndarray:
        """Address of each person in each month; with ``lag`` > 0, that many moves earlier."""
        key = self.address_hist_person * 100_000 + self.address_hist_month + 50_000
        q = person * 100_000 + month + 50_000
        idx = np.searchsorted(key, q, side="right") - 1
        if lag is not None:
            back = np.maximum(idx - lag, 0)
            same = self.address_hist_person[back] == person
            idx = np.where(same, back, idx)
        return self.address_hist_addr[idx]


def attenuate_with_age(risk: np.ndarray, age: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Relative risks that weaken with age, at an unchanged incidence by age.

    Each person's summed log relative risk is multiplied by a scale that falls with age; then each
    year of age is shifted so that its living members' mean rate, exp(risk), stays what it was,
    so the calibrated incidence by age band does not move.
    """
    if FALL_RR_ATTENUATION_PER_DECADE == 0:
        return risk
    year = np.clip(age, 0, 120).astype(np.int64)
    scale = np.maximum(1 - FALL_RR_ATTENUATION_PER_DECADE * (year - 75) / 10, FALL_RR_SCALE_FLOOR)
    scaled = scale * risk

    def log_mean_exp(values: np.ndarray) -> np.ndarray:
        sums = np.bincount(year[alive], weights=np.exp(values[alive]), minlength=121)
        counts = np.bincount(year[alive], minlength=121)
        return np.log(np.maximum(sums, 1e-300) / np.maximum(counts, 1))

    shift = log_mean_exp(risk) - log_mean_exp(scaled)
    return scaled + shift[year]


def _nonzero2(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a 2-D mask (faster than np.nonzero for sparse masks)."""
    flat = np.flatnonzero(mask)
    return np.divmod(flat, mask.shape[1])


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def simulate(
    rng: np.random.Generator,
    people: People,
    geo: Geography,
    n_months: int,
    on_month: Callable[[], None] | None = None,
) -> World:
    n = people.n_older
    ns = people.n_spine
    C, D = len(CONDITIONS), len(DRUG_CLASSES)
    spine = np.arange(n) < ns
    female = people.sex[:n] == 1
    age0 = people.age0[:n]
    spouse = people.spouse[:n].copy()
    log = EventLog()

    addr = people.address0[:n].copy()
    hist_p = [np.arange(n)]
    hist_m = [np.full(n, -10_000)]  # the address held since before the period
    hist_a = [addr.copy()]
    lsoa = geo.address_lsoa(addr)
    dep_q = np.where(lsoa >= 0, geo.wimd_quintile[np.maximum(lsoa, 0)], 3)

    alive = np.ones(n, dtype=bool)
    death_month = np.full(n, NEVER, dtype=np.int64)
    dereg_month = np.full(n, NEVER, dtype=np.int64)
    reg_month = people.reg_month[:n]
    lives_with_others = people.lives_with_others[:n].copy()
    widowed_month = np.full(n, -NEVER, dtype=np.int64)
    care_home = np.zeros(n, dtype=bool)
    care_home_month = np.full(n, NEVER, dtype=np.int64)

    # Frailty at the start of the burn-in.
    B = BURN_IN_MONTHS
    age_b = age0 - B / 12
    # Frailty comes earlier in more deprived areas.
    frailty = 0.055 * (age_b - 75) + 0.1 * (3 - dep_q) + rng.normal(0, FRAILTY_SD, n)

    # Prevalent conditions.
    cond_onset = np.full((n, C), NEVER, dtype=np.int64)
    cond_diag = np.full((n, C), NEVER, dtype=np.int64)
    for c, cond in enumerate(CONDITIONS):
        lo = (
            _logit(cond.prevalence_75)
            + cond.prevalence_slope * (age_b - 75)
            + cond.frailty_beta * frailty
            + np.log(cond.female_factor) * female
        )
        has = rng.random(n) < 1 / (1 + np.exp(-lo))
        onset = -B - rng.integers(1, 120, n)
        cond_onset[has, c] = onset[has]
        diag = rng.random(n) < cond.p_diagnosed
        delay = rng.geometric(1 / (1 + cond.diagnosis_delay_months), n) - 1
        sel = has & diag
        cond_diag[sel, c] = onset[sel] + delay[sel]
    frailty += 0.15 * (cond_onset < NEVER).sum(axis=1)

    cond_log_hr = np.log([c.fall_hr for c in CONDITIONS])
    drug_log_hr = np.log([d.fall_hr for d in DRUG_CLASSES])
    drug_stop = np.array([d.stop for d in DRUG_CLASSES])
    ind = np.zeros((C, D))
    for d, dc in enumerate(DRUG_CLASSES):
        for key, p in dc.indications.items():
            ind[CONDITION_INDEX[key], d] = p
    drug_base = np.array([d.base_start for d in DRUG_CLASSES])
    drug_fbeta = np.array([d.frailty_beta for d in DRUG_CLASSES])
    men_only = np.array([d.men_only for d in DRUG_CLASSES])

    allowed = ~(female[:, None] & men_only[None, :])

    def drug_start_p(diag_now: np.ndarray, f: np.ndarray) -> np.ndarray:
        p = drug_base[None, :] * np.exp(drug_fbeta[None, :] * f[:, None]) + diag_now @ ind
        p *= allowed
        return np.minimum(p, 0.5)

    diag0 = (cond_diag <= -B).astype(float)
    p0 = drug_start_p(diag0, frailty)
    drug_on = rng.random((n, D)) < p0 / (p0 + drug_stop[None, :])
    drug_from = np.where(drug_on, -B - rng.integers(0, 60, (n, D)), NEVER)
    ep_p, ep_d, ep_s, ep_e = [], [], [], []

    last_fall = np.full(n, -NEVER, dtype=np.int64)
    hazard = np.full((ns, n_months), np.nan, dtype=np.float32)

    inc = np.array([c.incidence_75 / 12 for c in CONDITIONS])
    inc_slope = np.array([c.incidence_slope for c in CONDITIONS])
    inc_fbeta = np.array([c.frailty_beta for c in CONDITIONS])
    inc_female = np.log([c.female_factor for c in CONDITIONS])
    p_diag = np.array([c.p_diagnosed for c in CONDITIONS])
    diag_delay = np.array([c.diagnosis_delay_months for c in CONDITIONS])
    i_dem, i_park, i_stroke = (
        CONDITION_INDEX["dementia"],
        CONDITION_INDEX["parkinsons"],
        CONDITION_INDEX["stroke"],
    )
    i_hf, i_diab, i_ost = (
        CONDITION_INDEX["heart_failure"],
        CONDITION_INDEX["diabetes"],
        CONDITION_INDEX["osteoporosis"],
    )

    la_of_lsoa = geo.lsoa_la
    frailty_start = frailty.copy()
    alone_start = np.zeros(n, dtype=bool)

    for m in range(-B, n_months):
        observed = m >= 0
        age = age0 + m / 12
        active = alive & (reg_month <= m) & (dereg_month > m)
        spouse_alive = (spouse >= 0) & alive[np.maximum(spouse, 0)] & (dereg_month[np.maximum(spouse, 0)] > m)
        alone = alive & ~spouse_alive & ~lives_with_others & ~care_home
        if m == 0:
            alone_start = alone.copy()
            frailty_start = frailty.copy()

        # Condition onsets.
        cond_on = cond_onset <= m
        lam = inc[None, :] * np.exp(
            inc_slope[None, :] * (age[:, None] - 75)
            + inc_fbeta[None, :] * frailty[:, None]
            + inc_female[None, :] * female[:, None]
        )
        new_on = ~cond_on & (rng.random((n, C), dtype=np.float32) < lam) & alive[:, None]
        if new_on.any():
            pi, ci = _nonzero2(new_on)
            cond_onset[pi, ci] = m
            diagnosed = rng.random(len(pi)) < p_diag[ci]
            delay = rng.geometric(1 / (1 + diag_delay[ci])) - 1
            cond_diag[pi[diagnosed], ci[diagnosed]] = m + delay[diagnosed]
            frailty[pi[ci == i_stroke]] += 0.5
            frailty[pi[(ci == i_park) | (ci == i_dem)]] += 0.2
            if observed:
                strokes = pi[(ci == i_stroke) & active[pi]]
                admitted = strokes[rng.random(len(strokes)) < 0.85]
                log.add("emergency", admitted, m, stroke=np.ones(len(admitted), bool))
            cond_on = cond_onset <= m
        diag_now = (cond_diag <= m).astype(float)

        # Drug exposures: start after a diagnosis (or without one), stop at a class's rate.
        p_start = drug_start_p(diag_now, frailty)
        u = rng.random((n, D), dtype=np.float32)
        starts = ~drug_on & (u < p_start) & alive[:, None]
        stops = drug_on & ((u < drug_stop[None, :]) | ~alive[:, None])
        if stops.any():
            pi, di = _nonzero2(stops)
            ep_p.append(pi)
            ep_d.append(di)
            ep_s.append(drug_from[pi, di])
            ep_e.append(np.full(len(pi), m))
            drug_on[pi, di] = False
            drug_from[pi, di] = NEVER
        if starts.any():
            pi, di = _nonzero2(starts)
            drug_on[pi, di] = True
            drug_from[pi, di] = m

        # The fall hazard, from the latent state only.
        n_drugs = drug_on.sum(axis=1)
        since_fall = m - last_fall
        risk_factors = (
            FALL_FRAILTY_BETA * frailty
            + np.log(FALL_FEMALE_HR) * female
            + cond_on @ cond_log_hr
            + drug_on @ drug_log_hr
            + np.log(FALL_POLYPHARMACY_HR) * (n_drugs >= 5)
            + np.log(FALL_ALONE_HR) * alone
            + np.log(FALL_DEPRIVATION_STEP_HR) * (5 - dep_q)
            + np.log(FALL_CARE_HOME_HR) * care_home
            + np.log(FALL_RECENT_FALL_HR) * (since_fall <= 12)
            + np.log(FALL_OLDER_FALL_HR) * ((since_fall > 12) & (since_fall <= 36))
        )
        eta = (
            FALL_INTERCEPT
            + FALL_AGE_SLOPE * (age - 75)
            + FALL_AGE_SLOPE_OVER_80 * np.maximum(age - 80, 0)
            + FALL_AGE_SLOPE_UNDER_65 * np.minimum(age - 65, 0)
            + attenuate_with_age(risk_factors, age, alive)
        )
        rate = np.exp(eta)
        h_adm = 1 - np.exp(-rate)
        h_non = 1 - np.exp(-NON_ADMITTED_PER_ADMITTED * rate)
        if observed:
            hazard[:, m] = np.where(active[:ns], h_adm[:ns], np.nan)
        u = rng.random(n)
        fall_adm = alive & (u < h_adm)
        fall_non = alive & ~fall_adm & (u < h_adm + h_non * (1 - h_adm))
        gp_fall = alive & (rng.random(n) < 1 - np.exp(-GP_ONLY_PER_ADMITTED * rate))
        adm_idx = np.flatnonzero(fall_adm)
        non_idx = np.flatnonzero(fall_non)
        p_hip = np.clip(0.28 + 0.01 * (age - 75) + 0.1 * cond_on[:, i_ost] + 0.06 * female, 0.1, 0.6)
        hip = rng.random(len(adm_idx)) < p_hip[adm_idx]
        route = rng.choice(3, len(non_idx), p=[0.45, 0.33, 0.22])
        last_fall[adm_idx] = m
        last_fall[non_idx] = m
        frailty[adm_idx] += FALL_FRAILTY_JUMP * (1 + hip)
        frailty[non_idx] += 0.08
        if observed:
            a = active[adm_idx]
            log.add("fall_admission", adm_idx[a], m, hip=hip[a])
            a = active[non_idx]
            log.add("fall_not_admitted", non_idx[a], m, route=route[a])
            log.add("gp_fall", np.flatnonzero(gp_fall & active), m)

        # Other health-service use.
        em_rate = (
            0.0075
            * np.exp(0.035 * (age - 75) + 0.35 * frailty)
            * (1 + 0.5 * cond_on[:, i_hf] + 0.2 * cond_on[:, i_diab] + 0.3 * cond_on[:, i_dem])
        )
        em = alive & ~fall_adm & (rng.random(n) < em_rate)
        frailty[em] += 0.08
        if observed:
            e = np.flatnonzero(em & active)
            log.add("emergency", e, m, stroke=np.zeros(len(e), bool))
            el = np.flatnonzero(active & (rng.random(n) < 0.005 * np.exp(0.01 * (age - 75))))
            log.add("elective", el, m)
            ed = np.flatnonzero(active & (rng.random(n) < 0.009 * np.exp(0.015 * (age - 75) + 0.2 * frailty)))
            log.add("ed_other", ed, m)
            am = np.flatnonzero(active & (rng.random(n) < 0.003 * np.exp(0.03 * (age - 75) + 0.3 * frailty)))
            log.add("ambulance_other", am, m)
            # A frailty code (eFI moderate or severe) now and then once frailty is high.
            fc = np.flatnonzero(active & (frailty > 1.2) & (rng.random(n) < 0.035))
            log.add("gp_frailty", fc, m)

        # Social care.
        if observed:
            dem = cond_on[:, i_dem]
            old = age >= 60
            sc_assess = (
                active
                & old
                & ~care_home
                & (rng.random(n) < 0.0012 * np.exp(0.9 * frailty) * (1 + 0.6 * alone) * (1 + 0.8 * dem))
            )
            assessed_after_fall = adm_idx[active[adm_idx] & (rng.random(len(adm_idx)) < 0.4)]
            for people_, delay_ in ((np.flatnonzero(sc_assess), 0), (assessed_after_fall, 1)):
                log.add("social_care", people_, m + delay_, service=np.zeros(len(people_), np.int8))
                r = rng.random(len(people_))
                reab = people_[(r < 0.5) if delay_ else (r < 0.1)]
                log.add("social_care", reab, m + delay_, service=np.full(len(reab), 2, np.int8))
                hc = people_[rng.random(len(people_)) < 0.35]
                log.add("social_care", hc, m + delay_ + 1, service=np.full(len(hc), 1, np.int8))
                tc = people_[alone[people_] & (rng.random(len(people_)) < 0.25)]
                log.add("social_care", tc, m + delay_ + 1, service=np.full(len(tc), 3, np.int8))
            tel = non_idx[active[non_idx] & alone[non_idx] & (rng.random(len(non_idx)) < 0.12)]
            log.add("social_care", tel, m + 1, service=np.full(len(tel), 3, np.int8))
            dc = np.flatnonzero(active & dem & ~care_home & (rng.random(n) < 0.003))
            log.add("social_care", dc, m, service=np.full(len(dc), 4, np.int8))
            to_home = (
                active
                & ~care_home
                & (age >= 70)
                & (rng.random(n) < 0.0005 * np.exp(0.8 * frailty) * (1 + dem) * (1 + 0.5 * alone))
            )
            th = np.flatnonzero(to_home)
            care_home[th] = True
            care_home_month[th] = m
            log.add("social_care", th, m, service=np.full(len(th), 5, np.int8))
            dem_spouse = spouse_alive & dem & active
            carers = spouse[dem_spouse & (rng.random(n) < 0.004)]
            carers = carers[active[carers]]
            log.add("social_care", carers, m, service=np.full(len(carers), 6, np.int8))

            # Police contacts.
            age_f = np.exp(0.02 * (age - 75))
            depr = 1 + 0.25 * (5 - dep_q)
            rates = np.stack(
                [
                    0.0005 * np.exp(0.25 * frailty) * (1 + 1.5 * dem) * (1 + 1.0 * alone) * age_f,  # welfare
                    0.00012 * np.ones(n),  # domestic abuse
                    0.00045 * np.exp(0.025 * (age - 75)) * (1 + 0.8 * dem) * (1 + 0.4 * alone),  # fraud
                    0.0004 * depr,  # theft / burglary
                    0.0004 * depr,  # antisocial behaviour
                    0.0012 * dem,  # missing person
                    0.0003 * np.ones(n),  # other
                ],
                axis=1,
            )
            hit = (rng.random((n, len(POLICE_TYPES)), dtype=np.float32) < rates) & active[:, None]
            pi, ti = _nonzero2(hit)
            found = non_idx[active[non_idx] & alone[non_idx] & (rng.random(len(non_idx)) < 0.06)]
            pi = np.concatenate([pi, found])
            ti = np.concatenate([ti, np.zeros(len(found), np.int64)])
            log.add("police", pi, m, incident_type=ti.astype(np.int8))

            # Housing adaptations.
            recent = (m - last_fall) <= 6
            h_rate = (
                0.001
                * np.exp(0.7 * frailty)
                * (1 + 1.5 * recent)
                * (1 + 0.5 * (cond_on[:, i_park] | cond_on[:, i_stroke]))
            )
            ho = np.flatnonzero(active & ~care_home & (age >= 60) & (rng.random(n) < h_rate))
            log.add("housing", ho, m, adaptation=rng.choice(5, len(ho), p=HOUSING_P).astype(np.int8))

        # Deaths (not during the burn-in: the spine is who was alive at the start).
        if observed:
            lp = (
                -11.95
                + 0.104 * age
                + 0.3 * frailty
                + 0.7 * cond_on[:, i_dem]
                + 0.6 * cond_on[:, i_hf]
                + 0.3 * cond_on[:, i_park]
            )
            q = 1 - np.exp(-np.exp(lp) / 12)
            q[adm_idx[hip]] += 0.05
            # People who have not yet moved into the region are followed from their arrival.
            dies = alive & (reg_month <= m) & (rng.random(n) < q)
            d_idx = np.flatnonzero(dies)
            alive[d_idx] = False
            death_month[d_idx] = m
            log.add("death", d_idx, m)
            widowed = spouse[d_idx]
            widowed = widowed[widowed >= 0]
            widowed_month[widowed] = m

            # Households move (mostly within the region) or leave it.
            head = (
                spine
                & alive
                & (dereg_month > m)
                & (reg_month <= m)
                & (~spouse_alive | (np.arange(n) < np.maximum(spouse, 0)))
            )
            recently_widowed = (m - widowed_month) <= 12
            p_move = np.where(care_home, 0.0, 0.0012 * (1 + 2 * recently_widowed))
            movers = np.flatnonzero(head & (rng.random(n) < p_move))
            leavers = np.flatnonzero(head & ~care_home & (rng.random(n) < 0.0005))
            for grp, leave in ((movers, False), (leavers, True)):
                members = np.concatenate([grp, spouse[grp][spouse_alive[grp]]])
                if leave:
                    dereg_month[members] = m
                    continue
                cur_lsoa = geo.address_lsoa(addr[grp])
                same_la = rng.random(len(grp)) < 0.75
                new_lsoa = rng.integers(0, len(geo.lsoa_code), len(grp))
                for i in np.flatnonzero(same_la):
                    cands = np.flatnonzero(la_of_lsoa == la_of_lsoa[cur_lsoa[i]])
                    new_lsoa[i] = cands[rng.integers(0, len(cands))]
                new_addr = geo.new_addresses(rng, new_lsoa, len(grp))
                full_addr = np.concatenate([new_addr, new_addr[spouse_alive[grp]]])
                addr[members] = full_addr
                hist_p.append(members)
                hist_m.append(np.full(len(members), m))
                hist_a.append(full_addr)
                dep_q[members] = geo.wimd_quintile[geo.address_lsoa(full_addr)]
                moved_alone = grp[~spouse_alive[grp]]
                lives_with_others[moved_alone] |= rng.random(len(moved_alone)) < 0.25
                log.add("move", members, m)

        # Frailty drifts upward, faster with age.
        frailty += np.maximum(0.003 + 0.00015 * (age - 75), 0.001) + rng.normal(0, 0.035, n)
        if on_month is not None and observed:
            on_month()

    # Close the drug episodes still running.
    pi, di = np.nonzero(drug_on)
    ep_p.append(pi)
    ep_d.append(di)
    ep_s.append(drug_from[pi, di])
    ep_e.append(np.full(len(pi), n_months))
    episodes = {
        "person": np.concatenate(ep_p).astype(np.int64),
        "drug": np.concatenate(ep_d).astype(np.int64),
        "start": np.concatenate(ep_s).astype(np.int64),
        "end": np.concatenate(ep_e).astype(np.int64),
    }
    hp, hm, ha = np.concatenate(hist_p), np.concatenate(hist_m), np.concatenate(hist_a)
    order = np.lexsort((hm, hp))
    spouse_alive_end = (spouse >= 0) & alive[np.maximum(spouse, 0)]
    return World(
        people=people,
        geo=geo,
        n_months=n_months,
        log=log,
        hazard=hazard,
        death_month=death_month,
        dereg_month=dereg_month,
        cond_onset=cond_onset,
        cond_diag=cond_diag,
        address_hist_person=hp[order],
        address_hist_month=hm[order],
        address_hist_addr=ha[order],
        frailty_start=frailty_start,
        frailty_end=frailty,
        alone_start=alone_start,
        alone_end=alive & ~spouse_alive_end & ~lives_with_others & ~care_home,
        care_home_month=care_home_month,
        drug_episodes=episodes,
    )
