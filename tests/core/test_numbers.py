"""The one number rule: ASCII digits within the bounds of their use, else one sentence."""

from __future__ import annotations

import pytest

from ir2dis_cog.core.numbers import (
    CUST_ID,
    HOUR,
    LEAGUE_ID,
    SERIES_ID,
    WEEKDAY,
    Bounds,
    InputError,
    NumberError,
    looks_like_number,
    parse_number,
)

# Text that str.isdigit() (or int()) accepts and no member means as a number, and plain junk.
JUNK = (
    "",
    " ",
    "²",
    "①",
    "１２",  # full-width digits: int() reads them, a member did not type ASCII
    "٣",  # Arabic-Indic three
    "12a",
    "1.5",
    "1e3",
    "0x10",
    "1_000",
    "+1",
    "-1",
    "1 2",
    "\u200b1",
    "1\u200b",
    "9" * 5000,
    "0" * 5000 + "1",  # int() refuses more than 4,300 digits, leading zeros too
    "'; DROP TABLE guild; --",
)


@pytest.mark.parametrize("text", JUNK)
@pytest.mark.parametrize("bounds", [CUST_ID, LEAGUE_ID, SERIES_ID, WEEKDAY, HOUR])
def test_junk_is_one_sentence(text: str, bounds: Bounds) -> None:
    with pytest.raises(NumberError) as caught:
        parse_number(text, bounds)
    assert str(caught.value) == bounds.sentence
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "bounds", "value"),
    [
        ("1", CUST_ID, 1),
        (" 2147483647 ", CUST_ID, 2**31 - 1),
        ("007", SERIES_ID, 7),
        ("0", HOUR, 0),
        ("23", HOUR, 23),
        (7, WEEKDAY, 7),
    ],
)
def test_numbers_within_bounds(text: str | int, bounds: Bounds, value: int) -> None:
    assert parse_number(text, bounds) == value


@pytest.mark.parametrize(
    ("value", "bounds"),
    [("0", CUST_ID), ("2147483648", CUST_ID), (str(2**63), LEAGUE_ID), ("24", HOUR), (8, WEEKDAY), (-1, HOUR)],
)
def test_out_of_bounds(value: str | int, bounds: Bounds) -> None:
    with pytest.raises(NumberError, match=r"whole number|Monday"):
        parse_number(value, bounds)


def test_what_looks_like_a_number() -> None:
    assert looks_like_number("123") and looks_like_number("#123") and looks_like_number("-5")
    assert looks_like_number(" +7 ")
    for text in ("²", "①", "１２", "", "abc", "12 monkeys"):
        assert not looks_like_number(text), text


def test_an_input_error_keeps_the_members_text_apart() -> None:
    exc = InputError("No driver matches '{}' or '{}'.", "**x**", "{0}")
    assert str(exc) == "No driver matches '**x**' or '{0}'."
    # The member's text is never read as a template: braces in it stay as typed.
    assert exc.render(lambda s: f"<{s}>") == "No driver matches '<**x**>' or '<{0}>'."
    # A sentence with no member text in it is kept as written.
    assert str(InputError("Use {braces} freely.")) == InputError("Use {braces} freely.").render(str.upper)
