"""Who of a race's tracked drivers finished on their class podium (or won it). Pure, from the card."""

from __future__ import annotations

from collections.abc import Iterator

from .cards import EntryLine, RaceCard


def class_position(entry: EntryLine) -> int | None:
    """The car's place in its class (in a one-class race, the overall place)."""
    return entry.finish_position_in_class if entry.finish_position_in_class is not None else entry.finish_position


def _placed(card: RaceCard, top: int) -> Iterator[tuple[int, EntryLine]]:
    for entry in card.entries:
        position = class_position(entry)
        if position is not None and 1 <= position <= top:
            yield position, entry


def podium_drivers(card: RaceCard, top: int) -> frozenset[int]:
    """Tracked drivers (cust_ids) whose car finished in the class top ``top`` (3: podium, 1: win).

    Every tracked driver of a team car that made it counts: they shared the car.
    """
    return frozenset(d.cust_id for _, entry in _placed(card, top) for d in entry.drivers)


def best_class_position(card: RaceCard) -> int | None:
    found = [p for e in card.entries if (p := class_position(e)) is not None]
    return min(found) if found else None
