"""Places of the synthetic region: LSOAs with WIMD ranks, postcodes, and addresses.

Three local authorities (Blaenau Gwent, Torfaen, Caerphilly) with their real numbers of LSOAs.
LSOA codes are synthetic (``W01`` + 6 digits, unique); WIMD ranks are drawn without replacement
from 1..1909 so that Blaenau Gwent is the most deprived on average. Each LSOA has a handful of
postcode units (``NP23 6AB``) in the districts of its local authority, each on one street; an
address is a house number on that street. People from outside the region get postcodes in
neighbouring districts (Cardiff, Newport, Monmouthshire, Rhondda Cynon Taf).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from falls_risk.synth.reference import LOCAL_AUTHORITIES, WIMD_LSOAS, name_tables

POSTCODES_PER_LSOA = 18
OUTSIDE_POSTCODES = 400
_UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))


@dataclass
class Geography:
    lsoa_code: np.ndarray  # str, one per LSOA
    lsoa_la: np.ndarray  # int index into LOCAL_AUTHORITIES
    wimd_rank: np.ndarray  # int
    wimd_quintile: np.ndarray  # 1 = most deprived fifth of Wales
    postcode: np.ndarray  # str, region postcodes then outside postcodes
    postcode_lsoa: np.ndarray  # int, -1 outside the region
    postcode_street: np.ndarray  # str
    n_region_postcodes: int

    # Addresses, appended as households form and move.
    addr_postcode: np.ndarray
    addr_number: np.ndarray
    _next_number: np.ndarray

    @property
    def la_names(self) -> list[str]:
        return [la[0] for la in LOCAL_AUTHORITIES]

    def new_addresses(self, rng: np.random.Generator, lsoa: np.ndarray | None, n: int) -> np.ndarray:
        """Create ``n`` new addresses (in the given LSOAs, or outside the region if None)."""
        if lsoa is None:
            pc = self.n_region_postcodes + rng.integers(0, len(self.postcode) - self.n_region_postcodes, n)
        else:
            pc = lsoa * POSTCODES_PER_LSOA + rng.integers(0, POSTCODES_PER_LSOA, len(lsoa))
        if len(pc) == 0:
            return np.zeros(0, dtype=np.int32)
        # House numbers count up per postcode; a jump now and then mimics gaps in a street.
        numbers = np.empty(len(pc), dtype=np.int32)
        order = np.argsort(pc, kind="stable")
        sorted_pc = pc[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_pc)) + 1]
        # Houses on one side of a street: numbers step by two, now and then by four.
        step = np.where(rng.random(len(pc)) < 0.85, 2, 4)
        total = np.cumsum(step)
        before_group = np.repeat(total[starts] - step[starts], np.diff(np.r_[starts, len(pc)]))
        numbers[order] = self._next_number[sorted_pc] + total - before_group
        np.maximum.at(self._next_number, pc, numbers)
        first = len(self.addr_postcode)
        self.addr_postcode = np.concatenate([self.addr_postcode, pc])
        self.addr_number = np.concatenate([self.addr_number, numbers])
        return np.arange(first, first + len(pc), dtype=np.int32)

    def address_lsoa(self, addr: np.ndarray) -> np.ndarray:
        return self.postcode_lsoa[self.addr_postcode[addr]]

    def address_line(self, addr: np.ndarray) -> np.ndarray:
        numbers = self.addr_number[addr].astype(str).astype(object)
        return numbers + " " + self.postcode_street[self.addr_postcode[addr]]

    def address_postcode(self, addr: np.ndarray) -> np.ndarray:
        return self.postcode[self.addr_postcode[addr]]


def _postcode_units(rng: np.random.Generator, districts: np.ndarray, taken: set[str]) -> np.ndarray:
    out = []
    for d in districts:
        while True:
            pc = f"{d} {rng.integers(1, 10)}{''.join(rng.choice(_UNIT_LETTERS, 2))}"
            if pc not in taken:
                taken.add(pc)
                out.append(pc)
                break
    return np.array(out, dtype=object)


def build_geography(rng: np.random.Generator) -> Geography:
    names = name_tables()
    n_lsoa = sum(la[2] for la in LOCAL_AUTHORITIES)
    lsoa_la = np.repeat(np.arange(len(LOCAL_AUTHORITIES)), [la[2] for la in LOCAL_AUTHORITIES])
    # Unique synthetic codes in the Welsh W01 range.
    codes = np.sort(rng.choice(np.arange(1000, 2000), n_lsoa, replace=False))
    lsoa_code = np.array([f"W0100{c:04d}" for c in codes], dtype=object)
    # WIMD ranks: draw without replacement, weighting each rank towards the LA's mean.
    ranks = np.zeros(n_lsoa, dtype=np.int64)
    available = np.ones(WIMD_LSOAS + 1, dtype=bool)
    available[0] = False
    all_ranks = np.arange(WIMD_LSOAS + 1)
    for i in rng.permutation(n_lsoa):
        mean = LOCAL_AUTHORITIES[lsoa_la[i]][3]
        w = np.exp(-0.5 * ((all_ranks - mean) / 420.0) ** 2) * available
        ranks[i] = rng.choice(all_ranks, p=w / w.sum())
        available[ranks[i]] = False
    quintile = np.minimum(5, 1 + (ranks - 1) * 5 // WIMD_LSOAS)

    taken: set[str] = set()
    pcs, pc_lsoa = [], []
    for i in range(n_lsoa):
        la_name = LOCAL_AUTHORITIES[lsoa_la[i]][0]
        dists, dp = names.districts[la_name]
        # One district per LSOA (LSOAs nest in postcode districts closely enough).
        d = rng.choice(dists, p=dp)
        pcs.append(_postcode_units(rng, np.repeat(d, POSTCODES_PER_LSOA), taken))
        pc_lsoa.append(np.full(POSTCODES_PER_LSOA, i))
    od, op = names.districts["Outside"]
    pcs.append(_postcode_units(rng, rng.choice(od, OUTSIDE_POSTCODES, p=op), taken))
    pc_lsoa.append(np.full(OUTSIDE_POSTCODES, -1))
    postcode = np.concatenate(pcs)
    streets = rng.choice(names.streets, len(postcode))
    return Geography(
        lsoa_code=lsoa_code,
        lsoa_la=lsoa_la,
        wimd_rank=ranks,
        wimd_quintile=quintile,
        postcode=postcode,
        postcode_lsoa=np.concatenate(pc_lsoa),
        postcode_street=streets,
        n_region_postcodes=n_lsoa * POSTCODES_PER_LSOA,
        addr_postcode=np.zeros(0, dtype=np.int64),
        addr_number=np.zeros(0, dtype=np.int32),
        _next_number=rng.integers(-1, 40, len(postcode)).astype(np.int32),
    )
