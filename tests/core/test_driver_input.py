"""Driver input: ids, names, and the plain answers for bad input."""

from __future__ import annotations

import pytest

from ir2dis_cog.core.driver_input import (
    Candidate,
    DriverInputError,
    autocomplete_choices,
    filter_tracked,
    match_tracked,
    parse_driver_query,
    pick_candidate,
)
from ir2dis_cog.core.numbers import InputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123456", 123456),
        (" 42 ", 42),
        ("#99", 99),
        ("+7", 7),
        ("Max  Verstappen", "Max Verstappen"),
        ("2147483647", 2147483647),
    ],
)
def test_parse_accepts_ids_and_names(text: str, expected: object) -> None:
    assert parse_driver_query(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "customer id or name"),
        ("0", "whole number from 1 to 2147483647"),
        ("-5", "whole number from 1 to 2147483647"),
        ("2147483648", "whole number from 1 to 2147483647"),
        ("99999999999999999999999", "whole number from 1 to 2147483647"),
        ("²", "at least 3"),  # not a number: a (too short) name
        ("ab", "at least 3"),
        ("x" * 101, "too long"),
    ],
)
def test_parse_rejects_bad_input_with_a_sentence(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        parse_driver_query(text)


def test_pick_single_exact_or_ambiguous() -> None:
    one = [Candidate(1, "Ann Apex")]
    assert pick_candidate("ann", one) == one[0]
    many = [Candidate(1, "Ann Apex"), Candidate(2, "Ann Apexa"), Candidate(3, "Joann Apex")]
    assert pick_candidate("ann apex", many) == many[0]
    with pytest.raises(DriverInputError, match=r"Several drivers match 'ann'.*Ann Apex \(1\)"):
        pick_candidate("ann", many)
    with pytest.raises(DriverInputError, match="No iRacing driver matches"):
        pick_candidate("zed", [])


def test_autocomplete_labels_carry_the_id_and_respect_limits() -> None:
    cands = [Candidate(i, f"Driver {i} " + "x" * 120) for i in range(1, 40)]
    choices = autocomplete_choices(cands)
    assert len(choices) == 25
    assert all(len(label) <= 100 for label, _ in choices)
    assert choices[0][1] == "1"


def test_match_and_filter_tracked() -> None:
    tracked = [Candidate(10, "Ann Apex"), Candidate(20, "Bob Brake")]
    assert match_tracked("20", tracked).display_name == "Bob Brake"
    assert match_tracked("brak", tracked).cust_id == 20
    with pytest.raises(DriverInputError, match="not tracked"):
        match_tracked("30", tracked)
    with pytest.raises(DriverInputError, match="No tracked driver"):
        match_tracked("Carl", tracked)
    assert [c.cust_id for c in filter_tracked("", tracked)] == [10, 20]
    assert [c.cust_id for c in filter_tracked("2", tracked)] == [20]
