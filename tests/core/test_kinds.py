"""The kinds of race a server gets."""

from __future__ import annotations

import pytest

from ir2dis_cog.core.kinds import ALL_KINDS, KindsError, decode_kinds, describe, encode_kinds, parse_kinds, wanted


def test_a_server_that_never_chose_gets_every_kind() -> None:
    assert all(wanted(k, None) for k in ("official", "hosted", "league"))


def test_a_choice_is_kept_as_made() -> None:
    chosen = parse_kinds("official, league")
    assert wanted("league", chosen) and not wanted("hosted", chosen)
    assert encode_kinds(chosen) == "official,league" and decode_kinds("official,league") == chosen
    assert encode_kinds(ALL_KINDS) is None and parse_kinds("all") == ALL_KINDS
    assert describe(None) == "official, hosted, league" and describe(frozenset({"hosted"})) == "hosted"


@pytest.mark.parametrize("text", ["", "  ", "officail", "league, sprint"])
def test_unknown_kinds_are_refused(text: str) -> None:
    with pytest.raises(KindsError):
        parse_kinds(text)


def test_a_stored_word_of_a_newer_version_is_left_out() -> None:
    assert decode_kinds("official,endurance") == frozenset({"official"})
    assert decode_kinds("endurance") is None
