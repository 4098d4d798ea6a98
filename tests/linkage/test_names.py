from __future__ import annotations

import pandas as pd

from falls_risk.linkage.names import address_key, forename_alias_list, postcode_parts, surname_key


def shares_group(a: str, b: str) -> bool:
    return bool(set(forename_alias_list(a)) & set(forename_alias_list(b)))


def test_nicknames_share_a_group_with_their_formal_name() -> None:
    assert shares_group("bill", "william")
    assert shares_group("peggy", "margaret")
    assert shares_group("dai", "david")
    assert not shares_group("william", "margaret")


def test_an_ambiguous_nickname_does_not_merge_its_formal_names() -> None:
    assert shares_group("chris", "christopher") and shares_group("chris", "christine")
    assert not shares_group("christopher", "christine")


def test_unknown_names_are_their_own_group() -> None:
    assert forename_alias_list("zebedee") == ["zebedee"]
    assert forename_alias_list(None) is None


def test_surname_and_address_keys() -> None:
    assert surname_key("o'brien") == surname_key("obrien") == "obrien"
    assert surname_key("smith-jones") == surname_key("smith jones")
    assert address_key("12, Church Rd.") == address_key("12 church road") == "12 church road"


def test_postcode_sector_and_district() -> None:
    sector, district = postcode_parts(pd.Series(["CF10 1AB", "NP4 7XY", "bad", None]))
    assert sector.tolist()[:2] == ["CF10 1", "NP4 7"] and district.tolist()[:2] == ["CF10", "NP4"]
    assert sector.isna().tolist()[2:] == [True, True]
