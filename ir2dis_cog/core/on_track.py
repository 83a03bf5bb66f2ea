"""On track now: what a short notice says when a tracked driver's race goes live, and whether a
server wants it. Pure, from what the live watcher already read (the live list and the roster) and
the season's schedule.

What is known cheaply: the drivers (the roster), the split (the live list's subsessions of the same
session, numbered by subsession id, as iRacing numbers splits), an estimate of the SOF (the
roster's iRatings, iRacing's formula) and the licence category (the roster's licences). The series
and the track are in neither answer: they come from the season's schedule (the live list gives the
season and the week), one request per season kept for a day (``poller/schedules.py``). Without it
the notice names neither, and a server that posts only chosen series gets none (as for a card
whose series is unknown).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from ir2dis_cog.iracing.live import LiveRace, RosterEntry
from ir2dis_cog.iracing.schedule import RaceWeek

from .cards import track_label
from .choices import ServerChoices
from .filters import RaceFacts, filtered_out

MAX_NAMES = 10  # more tracked drivers in one race are counted, not named
_SOF_BASE = 1600 / math.log(2)


@dataclass(frozen=True)
class OnTrack:
    """A live race with tracked drivers on it, as the notice shows it."""

    subsession_id: int
    started_at: int
    drivers: tuple[tuple[int, str], ...]  # (cust_id, name) of the tracked drivers on its roster
    split: int | None = None
    splits: int | None = None
    sof: int | None = None  # estimated from the roster; the results give the real one
    category_id: int | None = None
    series_name: str | None = None
    track_name: str | None = None  # with its config, as the cards show it ("Spa · Grand Prix")
    series_id: int | None = None
    # Where the names come from: the live list's season and week (``named``).
    season_id: int | None = None
    race_week_num: int | None = None

    def facts(self) -> RaceFacts:
        """What a server's filters look at (the series only once the schedule named it)."""
        return RaceFacts(self.subsession_id, self.category_id, None, self.sof, self.series_id, self.series_name)


def split_of(subsession_id: int, session_id: int, live: Iterable[LiveRace]) -> tuple[int, int] | None:
    """(split number, number of splits): the subsessions of one session, by subsession id."""
    ids = sorted({r.subsession_id for r in live if r.session_id == session_id} | {subsession_id})
    return ids.index(subsession_id) + 1, len(ids)


def estimated_sof(iratings: Iterable[int | None]) -> int | None:
    """iRacing's strength of field over the drivers whose iRating the roster gives; None for none."""
    known = [ir for ir in iratings if ir is not None and ir > 0]
    if not known:
        return None
    total = sum(math.exp(-ir / _SOF_BASE) for ir in known)
    return round(_SOF_BASE * math.log(len(known) / total))


def on_track_of(
    race: LiveRace, live: Sequence[LiveRace], roster: Sequence[RosterEntry], tracked: Iterable[int]
) -> OnTrack:
    wanted = frozenset(tracked)
    drivers = tuple(sorted({(e.cust_id, e.display_name) for e in roster if e.cust_id in wanted}, key=lambda d: d[1]))
    split = split_of(race.subsession_id, race.session_id, live)
    categories = [e.category_id for e in roster if e.category_id is not None]
    return OnTrack(
        subsession_id=race.subsession_id,
        started_at=int(race.start_time.timestamp()),
        drivers=drivers,
        split=split[0] if split else None,
        splits=split[1] if split else None,
        sof=estimated_sof(e.irating for e in roster),
        # Every driver's licence is the race's category: the most common one, should they differ.
        category_id=max(set(categories), key=categories.count) if categories else None,
        season_id=race.season_id,
        race_week_num=race.race_week_num,
    )


def named(race: OnTrack, week: RaceWeek | None) -> OnTrack:
    """The race with its series and track from its season's week (unchanged without one)."""
    if week is None:
        return race
    return replace(
        race,
        series_name=week.series_name or None,
        track_name=track_label(week.track_name, week.track_config) or None,
        series_id=week.series_id,
    )


def not_wanted(race: OnTrack, choices: ServerChoices, drivers: Iterable[int]) -> str | None:
    """Why this server gets no notice of this race (off, none of its drivers, its filters), or None."""
    if choices.live_channel is None:
        return "on track now is off"
    if not frozenset(drivers) & {c for c, _ in race.drivers}:
        return "none of its drivers"
    return filtered_out(race.facts(), choices.filters)


def may_want(race: OnTrack, choices: ServerChoices, drivers: Iterable[int]) -> bool:
    """Whether the server could want a notice before the series is known: everything but the
    series filters passes (only then is the schedule worth a request)."""
    open_series = replace(choices.filters, series_in=frozenset(), series_out=frozenset())
    return not_wanted(race, replace(choices, filters=open_series), drivers) is None


def notice_text(race: OnTrack, names: Sequence[str], safe: Callable[[str], str]) -> tuple[str, list[str]]:
    """The notice's title and lines; ``names`` are this server's drivers on it, ``safe`` makes a
    name inert (the embed's escaping)."""
    shown = [safe(n) for n in names[:MAX_NAMES]]
    more = len(names) - len(shown)
    who = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    title = f"On track now: {who}"[:256]
    where = " at ".join(safe(x) for x in (race.series_name, race.track_name) if x)
    lines = [f"{where}, started <t:{race.started_at}:R>." if where else f"Race started <t:{race.started_at}:R>."]
    facts = []
    if race.split is not None and race.splits is not None:
        facts.append(f"split {race.split} of {race.splits}")
    if race.sof is not None:
        facts.append(f"SOF about {race.sof}")
    if facts:
        text = ", ".join(facts)
        lines.append(text[0].upper() + text[1:] + ".")
    lines.append("The result card follows when the race is over.")
    return title, lines
