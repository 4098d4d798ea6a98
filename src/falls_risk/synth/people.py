"""The people of the synthetic world: who they are, where they live, and with whom.

The spine is the GP-registered population aged 50+ at the start of the period (so people age
into 65+), with an age structure like Wales's. Couples share an address and a surname (most
married women carry their husband's surname; their birth surname is kept as the previous
surname); the rest live alone or with people outside the spine. Some people register during
the period. People outside the spine (registered with a GP elsewhere, or younger people met by
the police) get identities too, so that "unlinked" is a real outcome.

Linkage is hard where outsiders look like spine people, so the world has them on purpose:
adult children (born 1970-1992) of a third of households, sharing the household's surname and
often its address, some sons with their father's forename ("John Jones" and son); visitors
from outside the region; and twins, in the spine or one outside it (same birth date and
surname). ``kind`` tells them apart (:data:`PERSON_KINDS`), as the truth does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from falls_risk.identity import check_digits
from falls_risk.synth.geography import Geography
from falls_risk.synth.reference import name_tables

# Wales, mid-2020 estimates (thousands) by five-year band from 50 to 100+.
AGE_BANDS = np.arange(50, 105, 5)
AGE_BAND_WEIGHTS = np.array([215, 220, 200, 180, 185, 135, 90, 55, 22, 6, 1], dtype=float)


def nhs_check_digit(base9: np.ndarray) -> np.ndarray:
    """Modulus-11 check digit of nine-digit integers; 10 means the base is unusable."""
    return check_digits((base9[:, None] // 10 ** np.arange(8, -1, -1)) % 10)


def new_nhs_numbers(rng: np.random.Generator, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """``n`` distinct valid NHS numbers (as int64), none of them in ``exclude``."""
    seen = set() if exclude is None else set(exclude.tolist())
    out: list[np.ndarray] = []
    need = n
    while need > 0:
        base = rng.integers(400_000_000, 799_999_999, size=int(need * 1.2) + 16)
        check = nhs_check_digit(base)
        numbers = base[check != 10] * 10 + check[check != 10]
        numbers = np.array([x for x in dict.fromkeys(numbers.tolist()) if x not in seen], dtype=np.int64)
        numbers = numbers[:need]
        seen.update(numbers.tolist())
        out.append(numbers)
        need -= len(numbers)
    return np.concatenate(out)


# ``People.kind`` codes; the truth names them with PERSON_KIND_NAMES (relative / outsider / spine).
SPINE, OLDER_OUTSIDER, YOUNG_CONTACT, RELATIVE, VISITOR = range(5)
PERSON_KINDS = ("spine", "outsider", "outsider", "relative", "outsider")
# Share of spine households with adult children in the records, and how those children look.
HOUSEHOLDS_WITH_CHILDREN = 0.35
SECOND_CHILD = 0.3
CHILD_BIRTH_YEARS = (1970, 1992)
CHILD_LIVES_IN = 0.45
SON_HAS_FATHERS_FORENAME = 0.2
DAUGHTER_HAS_MOTHERS_FORENAME = 0.08
DAUGHTER_KEEPS_SURNAME = 0.55
VISITORS = 0.06  # per spine person: people from outside the region met by ED, WAST, police
TWINS_IN_SPINE = 0.004  # pairs per spine person
TWINS_ACROSS = 0.003  # a spine person whose twin lives outside the region


def add_days(d: date, days: np.ndarray) -> np.ndarray:
    return np.datetime64(d, "D") + days.astype("timedelta64[D]")


@dataclass
class People:
    """Identities and households. Index 0..n_spine-1 is the spine; the rest are outsiders."""

    n_spine: int
    n_older: int  # spine + older outsiders (simulated); the rest are young police contacts
    nhs: np.ndarray  # int64
    sex: np.ndarray  # 0 = male, 1 = female
    birth_date: np.ndarray  # datetime64[D]
    age0: np.ndarray  # age in years at the start
    forename: np.ndarray
    surname: np.ndarray
    previous_surname: np.ndarray  # "" when none
    spouse: np.ndarray  # index or -1
    lives_with_others: np.ndarray  # bool: lives with people outside the spine
    address0: np.ndarray  # address at the start (or at registration)
    reg_month: np.ndarray  # first month registered (negative: before the start)
    registration_date: np.ndarray  # datetime64[D]
    kind: np.ndarray  # SPINE, OLDER_OUTSIDER, YOUNG_CONTACT, RELATIVE or VISITOR
    relationship: np.ndarray  # "son", "daughter" for relatives; "" otherwise
    relative_of: np.ndarray  # the spine parent of a relative, else -1
    twin: np.ndarray  # index of the twin, else -1

    @property
    def n(self) -> int:
        return len(self.nhs)

    @property
    def nhs_text(self) -> np.ndarray:
        return self.nhs.astype(str).astype(object)


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    band = rng.choice(len(AGE_BANDS), n, p=AGE_BAND_WEIGHTS / AGE_BAND_WEIGHTS.sum())
    return AGE_BANDS[band] + rng.random(n) * 5


def _forenames(rng: np.random.Generator, sex: np.ndarray, birth_year: np.ndarray) -> np.ndarray:
    names = name_tables()
    cohorts = np.array(names.cohorts)
    cohort = cohorts[np.clip(np.searchsorted(cohorts, birth_year, side="right") - 1, 0, len(cohorts) - 1)]
    out = np.empty(len(sex), dtype=object)
    for s_code, s in ((0, "M"), (1, "F")):
        for c in cohorts:
            idx = np.flatnonzero((sex == s_code) & (cohort == c))
            if len(idx):
                pool, p = names.forenames[(s, int(c))]
                out[idx] = rng.choice(pool, len(idx), p=p)
    return out


def _surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    names = name_tables()
    return rng.choice(names.surnames, n, p=names.surname_p)


def _pair_couples(rng: np.random.Generator, sex: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Pair men and women of similar age; returns spouse index or -1."""
    n = len(sex)
    spouse = np.full(n, -1, dtype=np.int64)
    # Share of each sex living as a couple falls with age (widowhood hits women earlier).
    p_m = np.clip(0.78 - 0.006 * np.maximum(age - 60, 0), 0.35, 0.8)
    p_f = np.clip(0.74 - 0.014 * np.maximum(age - 60, 0), 0.12, 0.75)
    men = np.flatnonzero((sex == 0) & (rng.random(n) < p_m))
    women_all = np.flatnonzero(sex == 1)
    w = p_f[women_all]
    k = min(len(men), len(women_all))
    women = rng.choice(women_all, k, replace=False, p=w / w.sum())
    men = rng.choice(men, k, replace=False)
    # Wives are on average two years younger: sort both by (age - offset + noise) and zip.
    m_key = age[men] - 2 + rng.normal(0, 3, k)
    f_key = age[women] + rng.normal(0, 3, k)
    mo, fo = men[np.argsort(m_key)], women[np.argsort(f_key)]
    spouse[mo] = fo
    spouse[fo] = mo
    return spouse


def build_people(
    rng: np.random.Generator, geo: Geography, n_spine: int, start: date, n_months: int
) -> People:
    n_out = max(5, round(n_spine * 0.06))
    n_young = max(5, round(n_spine * 0.04))
    n_older = n_spine + n_out
    n = n_older + n_young

    sex = (rng.random(n) < 0.52).astype(np.int8)
    age0 = np.concatenate([_ages(rng, n_older), 16 + rng.random(n_young) * 34])
    birth_date = add_days(start, -np.round(age0 * 365.25).astype(np.int64))
    birth_year = birth_date.astype("datetime64[Y]").astype(int) + 1970

    forename = _forenames(rng, sex, birth_year)
    birth_surname = _surnames(rng, n)
    surname = birth_surname.copy()
    previous = np.full(n, "", dtype=object)

    spouse = np.full(n, -1, dtype=np.int64)
    spouse[:n_spine] = _pair_couples(rng, sex[:n_spine], age0[:n_spine])
    wives = np.flatnonzero((spouse >= 0) & (sex == 1))
    takes_name = wives[rng.random(len(wives)) < 0.9]
    surname[takes_name] = birth_surname[spouse[takes_name]]
    changed = takes_name[surname[takes_name] != birth_surname[takes_name]]
    previous[changed] = birth_surname[changed]
    # Widowed, divorced or separated women living alone mostly kept a married name too.
    single_older_women = np.flatnonzero((spouse < 0) & (sex == 1) & (np.arange(n) < n_older))
    married_before = single_older_women[rng.random(len(single_older_women)) < 0.75]
    married_name = _surnames(rng, len(married_before))
    differs = married_name != birth_surname[married_before]
    surname[married_before[differs]] = married_name[differs]
    previous[married_before[differs]] = birth_surname[married_before[differs]]

    # Households: a couple shares one address. Lsoa chosen for the household.
    n_lsoa = len(geo.lsoa_code)
    head = np.where(spouse >= 0, np.minimum(np.arange(n), spouse), np.arange(n))
    heads = np.flatnonzero(head[:n_spine] == np.arange(n_spine))
    # LSOA sizes vary; weight them with a gamma draw.
    lsoa_w = rng.gamma(6.0, 1.0, n_lsoa)
    hh_lsoa = rng.choice(n_lsoa, len(heads), p=lsoa_w / lsoa_w.sum())
    hh_addr = geo.new_addresses(rng, hh_lsoa, len(heads))
    address0 = np.full(n, -1, dtype=np.int64)
    address0[heads] = hh_addr
    address0[:n_spine] = address0[head[:n_spine]]
    # Outsiders live outside the region; young police contacts live in it.
    address0[n_spine:n_older] = geo.new_addresses(rng, None, n_out)
    address0[n_older:] = geo.new_addresses(rng, rng.choice(n_lsoa, n_young), n_young)

    lives_with_others = (spouse < 0) & (rng.random(n) < 0.22)

    # Registration: most long-standing; about 1% a year move in during the period.
    reg_month = np.full(n, -10_000, dtype=np.int64)
    movers_in = np.flatnonzero(rng.random(n_spine) < 0.01 * n_months / 12)
    reg_month[movers_in] = rng.integers(1, n_months, len(movers_in))
    # A couple registers together.
    with_spouse = movers_in[spouse[movers_in] >= 0]
    reg_month[spouse[with_spouse]] = reg_month[with_spouse]
    years_before = np.minimum(rng.exponential(14.0, n), age0 - 18)
    month_start = (np.datetime64(start, "M") + np.clip(reg_month, 0, None)).astype("datetime64[D]")
    in_period = month_start + rng.integers(0, 28, n).astype("timedelta64[D]")
    before = add_days(start, -np.round(years_before * 365.25).astype(np.int64) - 1)
    registration_date = np.where(reg_month >= 0, in_period, before)
    nhs = new_nhs_numbers(rng, n)
    kind = np.full(n, YOUNG_CONTACT, dtype=np.int8)
    kind[:n_spine] = SPINE
    kind[n_spine:n_older] = OLDER_OUTSIDER
    people = People(
        n_spine=n_spine,
        n_older=n_older,
        nhs=nhs,
        sex=sex,
        birth_date=birth_date,
        age0=age0,
        forename=forename,
        surname=surname,
        previous_surname=previous,
        spouse=spouse,
        lives_with_others=lives_with_others,
        address0=address0,
        reg_month=reg_month,
        registration_date=registration_date,
        kind=kind,
        relationship=np.full(n, "", dtype=object),
        relative_of=np.full(n, -1, dtype=np.int64),
        twin=np.full(n, -1, dtype=np.int64),
    )
    # Drawn after everything above, so the spine and its simulation keep their draws. Twins are
    # made after the simulation (world.py calls make_twins), for the same reason.
    _append(people, _relatives(rng, geo, people, heads, start))
    _append(people, _visitors(rng, geo, n_spine, start))
    return people


def _append(people: People, extra: dict[str, np.ndarray]) -> None:
    """Add people (not simulated: they only appear in agency records) with fresh NHS numbers."""
    k = len(extra["sex"])
    if k == 0:
        return
    rng = extra.pop("rng")
    n = people.n
    extra["nhs"] = new_nhs_numbers(rng, k, exclude=people.nhs)
    extra.setdefault("previous_surname", np.full(k, "", dtype=object))
    extra.setdefault("relationship", np.full(k, "", dtype=object))
    extra.setdefault("relative_of", np.full(k, -1, dtype=np.int64))
    extra["spouse"] = np.full(k, -1, dtype=np.int64)
    extra["twin"] = np.full(k, -1, dtype=np.int64)
    extra["lives_with_others"] = np.zeros(k, dtype=bool)
    extra["reg_month"] = np.full(k, -10_000, dtype=np.int64)
    for name, values in extra.items():
        current = getattr(people, name)
        setattr(people, name, np.concatenate([current, np.asarray(values, dtype=current.dtype)]))
    assert people.n == n + k


def _birth(rng: np.random.Generator, start: date, year_low: np.ndarray, year_high: np.ndarray) -> np.ndarray:
    year = year_low + (rng.random(len(year_low)) * (year_high - year_low + 1)).astype(np.int64)
    first = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    return first + rng.integers(0, 365, len(year)).astype("timedelta64[D]")


def _age_at(start: date, birth: np.ndarray) -> np.ndarray:
    return (np.datetime64(start, "D") - birth).astype(np.int64) / 365.25


def _relatives(
    rng: np.random.Generator, geo: Geography, people: People, heads: np.ndarray, start: date
) -> dict[str, np.ndarray]:
    """Adult children of spine households: the household's surname, often its address."""
    with_children = heads[rng.random(len(heads)) < HOUSEHOLDS_WITH_CHILDREN]
    household = np.repeat(with_children, 1 + (rng.random(len(with_children)) < SECOND_CHILD))
    spouse = people.spouse[household]
    members = np.stack([household, np.where(spouse >= 0, spouse, household)])
    father = np.where(people.sex[members[0]] == 0, members[0], np.where(people.sex[members[1]] == 0, members[1], -1))
    mother = np.where(people.sex[members[0]] == 1, members[0], np.where(people.sex[members[1]] == 1, members[1], -1))
    youngest_parent_year = np.max(people.birth_date[members].astype("datetime64[Y]").astype(int) + 1970, axis=0)
    low = np.maximum(CHILD_BIRTH_YEARS[0], youngest_parent_year + 18)
    high = np.minimum(CHILD_BIRTH_YEARS[1], youngest_parent_year + 45)
    ok = low <= high
    household, father, mother, low, high = household[ok], father[ok], mother[ok], low[ok], high[ok]
    k = len(household)
    sex = (rng.random(k) < 0.5).astype(np.int8)
    birth = _birth(rng, start, low, high)
    forename = _forenames(rng, sex, birth.astype("datetime64[Y]").astype(int) + 1970)
    son_named = (sex == 0) & (father >= 0) & (rng.random(k) < SON_HAS_FATHERS_FORENAME)
    forename[son_named] = people.forename[father[son_named]]
    daughter_named = (sex == 1) & (mother >= 0) & (rng.random(k) < DAUGHTER_HAS_MOTHERS_FORENAME)
    forename[daughter_named] = people.forename[mother[daughter_named]]
    family = people.surname[np.where(father >= 0, father, household)]
    surname = family.copy()
    previous = np.full(k, "", dtype=object)
    married = (sex == 1) & (rng.random(k) >= DAUGHTER_KEEPS_SURNAME)
    new_names = _surnames(rng, int(married.sum()))
    surname[married] = new_names
    previous[married] = np.where(new_names != family[married], family[married], "")
    lives_in = rng.random(k) < CHILD_LIVES_IN
    address = people.address0[household].copy()
    near = np.flatnonzero(~lives_in)
    address[near] = geo.new_addresses(rng, geo.address_lsoa(address[near]), len(near))
    return {
        "rng": rng,
        "sex": sex,
        "birth_date": birth,
        "age0": _age_at(start, birth),
        "forename": forename,
        "surname": surname,
        "previous_surname": previous,
        "address0": address,
        "registration_date": add_days(start, -np.round(_age_at(start, birth) * 365.25).astype(np.int64) + 1),
        "kind": np.full(k, RELATIVE, dtype=np.int8),
        "relationship": np.where(sex == 0, "son", "daughter").astype(object),
        "relative_of": household,
    }


def _visitors(rng: np.random.Generator, geo: Geography, n_spine: int, start: date) -> dict[str, np.ndarray]:
    """People from outside the region, of every adult age, met by ED, WAST and the police."""
    k = max(5, round(n_spine * VISITORS))
    sex = (rng.random(k) < 0.5).astype(np.int8)
    age = 18 + rng.random(k) * 77
    birth = add_days(start, -np.round(age * 365.25).astype(np.int64))
    return {
        "rng": rng,
        "sex": sex,
        "birth_date": birth,
        "age0": age,
        "forename": _forenames(rng, sex, birth.astype("datetime64[Y]").astype(int) + 1970),
        "surname": _surnames(rng, k),
        "address0": geo.new_addresses(rng, None, k),
        "registration_date": birth,
        "kind": np.full(k, VISITOR, dtype=np.int8),
    }


def make_twins(rng: np.random.Generator, people: People) -> None:
    """Twin brothers: same birth date and surname, another forename. Some pairs are both in the
    spine; in others one twin lives outside the region (an older outsider).

    Called after the simulation, on men already born within a year of each other, so that the
    simulated lives (and every random draw of the simulation) stay as they were: only the
    recorded birth date moves, by under a year.
    """
    n_spine, n_older = people.n_spine, people.n_older
    age = people.age0

    def close_pairs(a: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k == 0 or len(a) == 0 or len(b) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        b_sorted = b[np.argsort(age[b], kind="stable")]
        first = rng.permutation(a)
        pos = np.clip(np.searchsorted(age[b_sorted], age[first]), 0, len(b_sorted) - 1)
        second = b_sorted[pos]
        ok = (np.abs(age[second] - age[first]) < 1) & (second != first)
        first, second = first[ok], second[ok]
        _, keep = np.unique(second, return_index=True)  # one twin each
        keep = np.sort(keep)
        first, second = first[keep], second[keep]
        clash = np.isin(first, second)
        return first[~clash][:k], second[~clash][:k]

    single_men = np.flatnonzero((people.sex[:n_spine] == 0) & (people.spouse[:n_spine] < 0))
    half = len(single_men) // 2
    shuffled = rng.permutation(single_men)
    in_first, in_second = close_pairs(shuffled[:half], shuffled[half:], round(n_spine * TWINS_IN_SPINE))
    outside_men = np.flatnonzero(people.sex[n_spine:n_older] == 0) + n_spine
    men = np.setdiff1d(np.flatnonzero(people.sex[:n_spine] == 0), np.concatenate([in_first, in_second]))
    out_first, out_second = close_pairs(men, outside_men, round(n_spine * TWINS_ACROSS))
    first = np.concatenate([in_first, out_first])
    second = np.concatenate([in_second, out_second])
    people.birth_date[second] = people.birth_date[first]
    people.age0[second] = people.age0[first]
    people.surname[second] = people.surname[first]
    same = people.forename[second] == people.forename[first]
    if same.any():
        people.forename[second[same]] = _forenames(rng, people.sex[second[same]], np.full(int(same.sum()), 1950))
    people.twin[first] = second
    people.twin[second] = first
