"""The Splink model as data: comparisons, blocking rules and settings built by pure functions.

Every comparison reads columns prepared by :mod:`falls_risk.linkage.prepare`, so the custom SQL
here is plain ANSI (``=``, ``AND``, ``OR``, ``abs``, ``IS NULL``); the string-similarity and
array levels come from Splink's own level library, which writes them for each backend (DuckDB
now, Spark later). The one dialect-specific piece is therefore Splink's, not ours.

Postcode and address are one comparison ("location"): older records carry the address a person
had before moving, so "postcode and address both differ" is one piece of evidence, not two.

Relatives share a household's surname and address, sometimes its forename: name and address
alone must not outweigh a date of birth that disagrees by decades. So the date of birth is
graded by how far apart it is, the levels years apart with m fixed (not learnt: EM mistakes
relatives for matches), and a date 20 or more years apart is a prohibitive level (m fixed at
:data:`IMPOSSIBLE_M`): no record whose stated age makes it impossible for the spine person
ever links. A record carrying a valid NHS number that belongs to nobody in the spine is
strong evidence against every spine candidate (level with m fixed at :data:`NHS_ELSEWHERE_M`).
See docs/linkage.md for the reasoning and the figures.
"""

from __future__ import annotations

import json
from typing import Any

import splink.comparison_level_library as cll
from splink import SettingsCreator, block_on
from splink.comparison_library import CustomComparison

# The columns each side of a comparison must carry (records and spine alike).
COMPARISON_COLUMNS: tuple[str, ...] = (
    "unique_id",
    "forename",
    "forename_aliases",
    "forename_alias",
    "surname",
    "surname_key",
    "surname_first",
    "surname_last",
    "rare_surname_key",
    "previous_surname_key",
    "dob",
    "dob_year",
    "dob_month",
    "dob_day",
    "sex",
    "postcode",
    "postcode_sector",
    "postcode_district",
    "previous_postcode",
    "address_key",
    "nhs_elsewhere",
)

COMPARISON_NAMES: tuple[str, ...] = ("forename", "surname", "date_of_birth", "sex", "location", "nhs_number")

# Years apart from which a date of birth cannot be the same person's (a son, a grandchild).
IMPOSSIBLE_YEARS = 20
# m of that level: no typing slip moves a birth year by decades in our data; 1e-15 is a
# Bayes factor of about 2^-49, more than any agreement of name, sex and address can outweigh.
IMPOSSIBLE_M = 1e-15
# m of a birth date some years away, fixed rather than learnt: EM cannot tell a data-entry slip
# from a relative (the pairs that train the birth date share forename, surname and postcode, and
# so include fathers and sons), and learnt m ~ 0.001-0.003 for both levels on the harder world,
# which let a son 18 years younger pass on name and address. No slip in the data we know moves a
# year by 2-5 (m 1e-4) or by 6-19 years (m 1e-8) as often as that.
WITHIN_FIVE_YEARS_M = 1e-4
YEARS_APART_M = 1e-8
# m of "the record's valid NHS number belongs to nobody in the spine": a true match carries a
# valid number that is not its own only when a mis-keyed number passes the check by chance
# (about 1 in 11 mis-keyings, which are under 1% of records).
NHS_ELSEWHERE_M = 1e-3


def forename_comparison() -> CustomComparison:
    return CustomComparison(
        output_column_name="forename",
        comparison_description="Forename, with nickname/alias groups (Bill = William, Peggy = Margaret)",
        comparison_levels=[
            cll.NullLevel("forename"),
            cll.ExactMatchLevel("forename").configure(tf_adjustment_column="forename"),
            cll.ArrayIntersectLevel("forename_aliases", min_intersection=1).configure(
                label_for_charts="Same nickname/alias group"
            ),
            cll.JaroWinklerLevel("forename", 0.92),
            # One letter in a short name makes another name (Dan / Ian, Tom / Tim), not a typo.
            cll.And(
                cll.DamerauLevenshteinLevel("forename", 1),
                cll.CustomLevel("length(forename_l) >= 5 AND length(forename_r) >= 5"),
            ).configure(label_for_charts="One typo (Damerau-Levenshtein <= 1, five letters or more)"),
            cll.CustomLevel(
                "substr(forename_l, 1, 1) = substr(forename_r, 1, 1)", label_for_charts="Same initial"
            ),
            cll.ElseLevel(),
        ],
    )


def surname_comparison() -> CustomComparison:
    return CustomComparison(
        output_column_name="surname",
        comparison_description="Surname (letters only), term-frequency adjusted, or a known previous surname",
        comparison_levels=[
            cll.NullLevel("surname_key"),
            cll.ExactMatchLevel("surname_key").configure(tf_adjustment_column="surname_key"),
            cll.CustomLevel(
                "surname_key_l = previous_surname_key_r OR previous_surname_key_l = surname_key_r",
                label_for_charts="Matches a previous surname",
            ),
            cll.CustomLevel(
                "surname_key_l = surname_first_r OR surname_key_l = surname_last_r"
                " OR surname_first_l = surname_key_r OR surname_last_l = surname_key_r",
                label_for_charts="One part of a double-barrelled surname",
            ),
            cll.JaroWinklerLevel("surname_key", 0.92),
            cll.DamerauLevenshteinLevel("surname_key", 1).configure(
                label_for_charts="One typo (Damerau-Levenshtein <= 1)"
            ),
            cll.JaroWinklerLevel("surname_key", 0.8),
            cll.ElseLevel(),
        ],
    )


def date_of_birth_comparison() -> CustomComparison:
    return CustomComparison(
        output_column_name="date_of_birth",
        comparison_description=(
            "Date of birth: exact, one digit mistyped, day/month swapped, year off by one, partial, "
            "a 1 January placeholder, "
            f"then by years apart ({IMPOSSIBLE_YEARS}+ years apart never links)"
        ),
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            # One mistyped or transposed digit (1915-11-11 as 1925-11-11): a keying slip, even
            # when it moves the year by decades. A son shares day, month and all but one digit of
            # his father's year about once in several thousand families.
            cll.DamerauLevenshteinLevel("dob", 1).configure(label_for_charts="One digit mistyped or transposed"),
            # Before the partial levels: the same day and month 27 years apart is a son, not a slip.
            cll.CustomLevel(
                f"abs(dob_year_l - dob_year_r) >= {IMPOSSIBLE_YEARS}",
                label_for_charts=f"{IMPOSSIBLE_YEARS} or more years apart (never the same person)",
            ).configure(m_probability=IMPOSSIBLE_M, fix_m_probability=True),
            cll.CustomLevel(
                "dob_year_l = dob_year_r AND dob_day_l = dob_month_r AND dob_month_l = dob_day_r",
                label_for_charts="Day and month swapped",
            ),
            cll.CustomLevel(
                "dob_month_l = dob_month_r AND dob_day_l = dob_day_r AND abs(dob_year_l - dob_year_r) = 1",
                label_for_charts="Year off by one",
            ),
            cll.CustomLevel(
                "(dob_year_l = dob_year_r AND dob_month_l = dob_month_r)"
                " OR (dob_year_l = dob_year_r AND dob_day_l = dob_day_r)"
                " OR (dob_month_l = dob_month_r AND dob_day_l = dob_day_r)",
                label_for_charts="Two of day, month, year agree",
            ),
            cll.CustomLevel(
                "dob_year_l = dob_year_r AND ((dob_month_l = 1 AND dob_day_l = 1) OR (dob_month_r = 1 AND dob_day_r = 1))",
                label_for_charts="Same year, 1 January on one side (only the year known)",
            ),
            cll.CustomLevel("abs(dob_year_l - dob_year_r) <= 5", label_for_charts="Within 5 years").configure(
                m_probability=WITHIN_FIVE_YEARS_M, fix_m_probability=True
            ),
            cll.ElseLevel().configure(
                label_for_charts=f"6 to {IMPOSSIBLE_YEARS - 1} years apart",
                m_probability=YEARS_APART_M,
                fix_m_probability=True,
            ),
        ],
    )


def sex_comparison() -> CustomComparison:
    return CustomComparison(
        output_column_name="sex",
        comparison_description="Sex (U counts as missing)",
        comparison_levels=[cll.NullLevel("sex"), cll.ExactMatchLevel("sex"), cll.ElseLevel()],
    )


def location_comparison() -> CustomComparison:
    """Postcode and address line as one correlated piece of evidence."""
    return CustomComparison(
        output_column_name="location",
        comparison_description="Postcode and address line together (movers keep their old address)",
        comparison_levels=[
            cll.CustomLevel(
                "(postcode_l IS NULL AND address_key_l IS NULL) OR (postcode_r IS NULL AND address_key_r IS NULL)"
            ).configure(is_null_level=True),
            cll.CustomLevel(
                "postcode_l = postcode_r AND address_key_l = address_key_r",
                label_for_charts="Same postcode and address",
            ),
            cll.CustomLevel("postcode_l = postcode_r", label_for_charts="Same postcode"),
            cll.CustomLevel(
                "address_key_l = address_key_r AND (postcode_district_l = postcode_district_r"
                " OR postcode_l IS NULL OR postcode_r IS NULL)",
                label_for_charts="Same address, postcode differs or missing",
            ),
            cll.CustomLevel(
                "postcode_l = previous_postcode_r OR previous_postcode_l = postcode_r",
                label_for_charts="A previous postcode of the person",
            ),
            cll.CustomLevel("postcode_sector_l = postcode_sector_r", label_for_charts="Same postcode sector"),
            cll.CustomLevel(
                "postcode_district_l = postcode_district_r", label_for_charts="Same postcode district"
            ),
            cll.ElseLevel(),
        ],
    )


def nhs_number_comparison() -> CustomComparison:
    """A record's valid NHS number that is nobody's in the spine: the record is most likely of
    someone outside it (a relative, a visitor). Both m are fixed (EM sees too few such pairs
    among matches to estimate them); u comes from random sampling like every other level."""
    return CustomComparison(
        output_column_name="nhs_number",
        comparison_description="The record's valid NHS number belongs to nobody in the spine",
        comparison_levels=[
            cll.CustomLevel("nhs_elsewhere_l IS NOT NULL OR nhs_elsewhere_r IS NOT NULL").configure(
                m_probability=NHS_ELSEWHERE_M,
                fix_m_probability=True,
                label_for_charts="Valid NHS number of someone outside the spine",
            ),
            cll.ElseLevel().configure(
                m_probability=1 - NHS_ELSEWHERE_M,
                fix_m_probability=True,
                label_for_charts="No valid NHS number outside the spine",
            ),
        ],
    )


def comparisons() -> list[CustomComparison]:
    return [
        forename_comparison(),
        surname_comparison(),
        date_of_birth_comparison(),
        sex_comparison(),
        location_comparison(),
        nhs_number_comparison(),
    ]


def prediction_blocking_rules() -> list[Any]:
    """Candidate pairs: any one rule suffices, so each covers the others' blind spots.

    Chosen on a 70,000-person synthetic world (bench/bench_linkage.py): together they propose
    99.7% of the true record-person pairs from ~2.5M pairs, where name-and-birth-year rules
    proposed the same from ~11M. Names alone (no birth date, another postcode) only block on
    rare surnames (``rare_surname_key``): a common name alone can never reach the threshold.
    """
    return [
        block_on("dob"),
        # Day and month swapped: the exact-dob rule misses these.
        "l.dob_year = r.dob_year AND l.dob_month = r.dob_day AND l.dob_day = r.dob_month",
        block_on("surname_key", "forename_alias", "postcode_district"),
        block_on("forename_alias", "dob_month", "dob_day"),
        block_on("surname_key", "dob_month", "dob_day"),
        block_on("surname_key", "dob_year", "dob_month"),
        block_on("postcode", "dob_year"),
        block_on("postcode", "forename_alias"),
        block_on("postcode", "surname_key"),
        block_on("address_key", "postcode_district"),
        block_on("address_key", "forename_alias"),
        # Movers: the record has the postcode the person had before (records carry none).
        "l.postcode = r.previous_postcode AND l.surname_key = r.surname_key",
        "l.previous_postcode = r.postcode AND l.surname_key = r.surname_key",
        block_on("rare_surname_key", "forename_alias"),
    ]


def training_blocking_rules() -> list[Any]:
    """EM sessions: each leaves some comparisons free to be estimated; together they cover all.

    Pairs sharing a date of birth train names, sex and location. Date of birth is trained on pairs
    sharing forename group, surname and postcode: nearly all true matches, whereas pairs sharing
    only a common name (Margaret Jones) are mostly different people and would teach EM that a
    differing birth date means little.
    """
    return [block_on("dob"), block_on("forename_alias", "surname_key", "postcode")]


# EM sets m to ~0 for a disagreement level it never saw among matches (e.g. sex recorded wrongly);
# that would make one clerical slip an absolute veto, so m is floored. The floor is the evidence
# a level can carry at most, so it is graded: a birth date years away is far rarer among true
# matches than a wrong sex, and a floor as high as the others' would make it cheap (a relative
# sharing name and address would then pass). Levels whose m is fixed keep it.
MIN_M_PROBABILITY = 1e-3
# Levels with their own floor (none now: the birth-date levels that need more than the common
# floor have m fixed, see WITHIN_FIVE_YEARS_M and YEARS_APART_M).
M_FLOORS: dict[tuple[str, str], float] = {}


def floor_m_probabilities(settings: dict[str, Any], floor: float = MIN_M_PROBABILITY) -> dict[str, Any]:
    """A copy of a trained settings dict with every non-null, not fixed level's m at least its
    floor (:data:`M_FLOORS`, else ``floor``)."""
    out = json.loads(json.dumps(settings))
    for comparison in out["comparisons"]:
        name = comparison.get("output_column_name", "")
        for level in comparison["comparison_levels"]:
            m = level.get("m_probability")
            if level.get("is_null_level") or level.get("fix_m_probability") or m is None:
                continue
            level_floor = M_FLOORS.get((name, level.get("label_for_charts", "")), floor)
            if m < level_floor:
                level["m_probability"] = level_floor
    return out


def build_settings(prior_match_probability: float) -> SettingsCreator:
    """The untrained model: link_only records against the spine.

    ``prior_match_probability`` is the chance that a random record-spine pair is a match: with
    one spine row per person, about (share of records whose person is in the spine) / (spine size).
    """
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=prediction_blocking_rules(),
        probability_two_random_records_match=prior_match_probability,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=25,
        em_convergence=0.0001,
    )


def comparison_names_in(settings_dict: dict[str, Any]) -> tuple[str, ...]:
    """Output column names of the comparisons of a saved model, to check it fits this code."""
    return tuple(c.get("output_column_name", "") for c in settings_dict.get("comparisons", []))
