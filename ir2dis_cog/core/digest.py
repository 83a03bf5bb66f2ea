"""The weekly digest: its numbers from the compact rows kept for each posted race and tracked
driver, and its schedule (is it this server's digest hour now, and which week). Pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .cards import RaceCard, in_zone
from .podium import class_position

WEEK = 7 * 86_400
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TOP = 3  # gains and losses shown
# The stored row's column is NOT NULL: a driver whose incidents iRacing left out is kept with this,
# and counts in no incident figure (as a -1 iRating counts in no iRating figure).
UNKNOWN_INCIDENTS = -1


@dataclass(frozen=True)
class DigestRow:
    """One tracked driver in one posted race: what the digest needs, nothing more."""

    guild_id: int
    subsession_id: int
    cust_id: int
    name: str
    finished_at: int
    series_name: str  # "" when iRacing named no series
    class_position: int | None
    class_start: int | None
    incidents: int  # UNKNOWN_INCIDENTS when iRacing did not say
    old_irating: int | None
    new_irating: int | None
    series_id: int | None = None
    category_id: int | None = None

    @property
    def irating_delta(self) -> int | None:
        if self.old_irating is None or self.new_irating is None or self.old_irating < 0 or self.new_irating < 0:
            return None
        return self.new_irating - self.old_irating

    @property
    def places_gained(self) -> int | None:
        if self.class_start is None or self.class_position is None:
            return None
        return self.class_start - self.class_position


def rows_of(
    guild_id: int, card: RaceCard, finished_at: int, *, series_id: int | None = None, category_id: int | None = None
) -> list[DigestRow]:
    """The rows of a race just posted, from its card (no extra iRacing request)."""
    rows = []
    for entry in card.entries:
        start = entry.start_position_in_class if entry.start_position_in_class is not None else entry.start_position
        for d in entry.drivers:
            rows.append(
                DigestRow(
                    guild_id,
                    card.subsession_id,
                    d.cust_id,
                    d.name,
                    finished_at,
                    card.series_name or "",
                    class_position(entry),
                    start,
                    UNKNOWN_INCIDENTS if d.incidents is None else d.incidents,
                    d.old_irating,
                    d.new_irating,
                    series_id,
                    category_id,
                )
            )
    return rows


@dataclass(frozen=True)
class Standout:
    name: str
    value: float
    races: int


@dataclass(frozen=True)
class Digest:
    week: str
    races: int
    wins: int
    podiums: int
    drivers: int
    gains: tuple[Standout, ...]
    losses: tuple[Standout, ...]
    cleanest: Standout | None  # fewest incidents per race
    climb: Standout | None  # most places gained in one race (``races`` holds that race's subsession)

    @property
    def empty(self) -> bool:
        return self.races == 0


def build_digest(week: str, rows: Iterable[DigestRow]) -> Digest:
    rows = list(rows)
    by_driver: defaultdict[int, list[DigestRow]] = defaultdict(list)
    for r in rows:
        by_driver[r.cust_id].append(r)
    name = {c: sorted(rs, key=lambda r: r.finished_at)[-1].name for c, rs in by_driver.items()}
    deltas: list[Standout] = []
    for c, rs in by_driver.items():
        known = [d for r in rs if (d := r.irating_delta) is not None]
        if known:
            deltas.append(Standout(name[c], sum(known), len(known)))
    gains = tuple(sorted((d for d in deltas if d.value > 0), key=lambda d: (-d.value, d.name))[:TOP])
    losses = tuple(sorted((d for d in deltas if d.value < 0), key=lambda d: (d.value, d.name))[:TOP])
    counted = {c: known for c, rs in by_driver.items() if (known := [r.incidents for r in rs if r.incidents >= 0])}
    cleanest = min(
        (Standout(name[c], sum(incs) / len(incs), len(incs)) for c, incs in counted.items()),
        key=lambda s: (s.value, -s.races, s.name),
        default=None,
    )
    climbs = [(g, r) for r in rows if (g := r.places_gained) is not None and g > 0]
    climb = None
    if climbs:
        g, r = max(climbs, key=lambda x: (x[0], -x[1].finished_at))
        climb = Standout(r.name, g, r.subsession_id)
    return Digest(
        week=week,
        races=len({r.subsession_id for r in rows}),
        wins=sum(1 for r in rows if r.class_position == 1),
        podiums=sum(1 for r in rows if r.class_position is not None and 1 <= r.class_position <= 3),
        drivers=len(by_driver),
        gains=gains,
        losses=losses,
        cleanest=cleanest,
        climb=climb,
    )


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def digest_lines(d: Digest, safe: Callable[[str], str]) -> list[str]:
    """The digest as lines of text; ``safe`` makes a stored name inert (the embed's escaping)."""
    if d.empty:
        return ["No races of tracked drivers were posted this week."]
    lines = [
        f"**{d.races}** {_plural(d.races, 'race')} by {d.drivers} {_plural(d.drivers, 'driver')}"
        f" · **{d.wins}** {_plural(d.wins, 'win')} · **{d.podiums}** {_plural(d.podiums, 'podium')}"
    ]
    if d.gains:
        lines.append("iRating gains: " + ", ".join(f"{safe(s.name)} +{int(s.value)}" for s in d.gains))
    if d.losses:
        lines.append("iRating losses: " + ", ".join(f"{safe(s.name)} {int(s.value)}" for s in d.losses))
    if d.cleanest is not None:
        per = f"{d.cleanest.value:.1f}".rstrip("0").rstrip(".")
        races = f"{d.cleanest.races} {_plural(d.cleanest.races, 'race')}"
        lines.append(f"Cleanest: {safe(d.cleanest.name)}, {per} incidents per race over {races}")
    if d.climb is not None:
        gained = int(d.climb.value)
        lines.append(f"Best climb: {safe(d.climb.name)}, {gained} {_plural(gained, 'place')} gained in one race")
    return lines


# --- the schedule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestSlot:
    """This week's digest of one server: its key (the ISO week, local) and the period it covers."""

    week: str
    since: int
    until: int


def digest_slot(now: float, timezone: str, day: int, hour: int) -> DigestSlot | None:
    """The slot when ``now`` is at or after this server's digest hour on its day (local time,
    until that day's end: a cycle late by a few minutes still sends it); else None."""
    local, _ = in_zone(datetime.fromtimestamp(now, UTC), timezone)
    if local.weekday() != day or local.hour < hour:
        return None
    due = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    iso = due.isocalendar()
    until = int(due.timestamp())
    return DigestSlot(f"{iso.year}-W{iso.week:02d}", until - WEEK, until)


def parse_day(text: str) -> int:
    """A weekday -> 0..6 (Monday first): its name or the first three letters or more of it
    (``mon``, ``Tues``, ``wednesday``), or its number 1..7 (Monday is 1); ValueError otherwise."""
    t = text.strip().casefold()
    if t.isdigit() and 1 <= int(t) <= 7:
        return int(t) - 1
    for i, name in enumerate(WEEKDAYS):
        if len(t) >= 3 and name.casefold().startswith(t):
            return i
    raise ValueError("not a day")


def next_digest(now: float, timezone: str, day: int, hour: int) -> int:
    """When the next digest is due (epoch), for the confirmation message."""
    local, _ = in_zone(datetime.fromtimestamp(now, UTC), timezone)
    due = local.replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=(day - local.weekday()) % 7)
    if due.timestamp() <= now:
        due += timedelta(days=7)
    return int(due.timestamp())
