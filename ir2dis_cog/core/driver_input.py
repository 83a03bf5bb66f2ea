"""What a user typed as a driver, turned into a cust_id or a name to look up: pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .numbers import CUST_ID, InputError, looks_like_number, parse_number

MAX_CUST_ID = CUST_ID.high
MIN_NAME_LENGTH = 3
MAX_NAME_LENGTH = 100


class DriverInputError(InputError):
    """Input that cannot name a driver; the message is a sentence for the user."""


@dataclass(frozen=True)
class Candidate:
    cust_id: int
    display_name: str


def parse_driver_query(text: str) -> int | str:
    """A cust_id (int) or a name fragment (str) to search for."""
    query = " ".join((text or "").split())
    if not query:
        raise DriverInputError("Give the driver's iRacing customer id or name.")
    if looks_like_number(query):
        # "#123" and "+123" as members write ids; a sign anywhere else is not an id.
        return parse_number(query.removeprefix("#").removeprefix("+"), CUST_ID)
    if len(query) < MIN_NAME_LENGTH:
        raise DriverInputError(f"Type at least {MIN_NAME_LENGTH} letters of the name, or the customer id.")
    if len(query) > MAX_NAME_LENGTH:
        raise DriverInputError("That name is too long to be an iRacing display name.")
    return query


def pick_candidate(query: str, candidates: Sequence[Candidate]) -> Candidate:
    """The one driver a name means: a single match, or the single exact (case-blind) match."""
    if not candidates:
        raise DriverInputError("No iRacing driver matches '{}'. Try the customer id.", query)
    if len(candidates) == 1:
        return candidates[0]
    exact = [c for c in candidates if c.display_name.casefold() == query.casefold()]
    if len(exact) == 1:
        return exact[0]
    shown = ", ".join(f"{{}} ({c.cust_id})" for c in candidates[:5])
    more = f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
    raise DriverInputError(
        f"Several drivers match '{{}}': {shown}{more}. Pick one from the list or use the id.",
        query,
        *(c.display_name for c in candidates[:5]),
    )


def autocomplete_choices(candidates: Iterable[Candidate], limit: int = 25) -> list[tuple[str, str]]:
    """(label, value) pairs for Discord autocomplete: the label shows name and id, the value is the id."""
    choices: list[tuple[str, str]] = []
    for c in candidates:
        label = f"{c.display_name} ({c.cust_id})"
        choices.append((label[:100], str(c.cust_id)))
        if len(choices) == limit:
            break
    return choices


def match_tracked(query: str, tracked: Sequence[Candidate]) -> Candidate:
    """Find a driver among a server's tracked drivers, by id or by name."""
    parsed = parse_driver_query(query)
    if isinstance(parsed, int):
        for c in tracked:
            if c.cust_id == parsed:
                return c
        raise DriverInputError(f"Customer id {parsed} is not tracked on this server.")
    folded = parsed.casefold()
    hits = [c for c in tracked if folded in c.display_name.casefold()]
    if not hits:
        raise DriverInputError("No tracked driver here matches '{}'.", parsed)
    return pick_candidate(parsed, hits)


def filter_tracked(current: str, tracked: Iterable[Candidate]) -> list[Candidate]:
    """Tracked drivers whose name or id contains what the user has typed so far."""
    folded = current.strip().casefold()
    return [c for c in tracked if not folded or folded in c.display_name.casefold() or folded in str(c.cust_id)]
