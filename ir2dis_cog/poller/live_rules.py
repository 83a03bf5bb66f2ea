"""Pure decisions of the live watcher: which races to look at, when to ask for results, when to
stop, what a miss was, and whether the watcher can be trusted right now.

The watcher looks at each live official race once (its roster), keeps those with a tracked
driver, and asks ``results/get`` after the race left the live list until the results are out.
Everything here works on frozen values and the time; the shell (``live_watcher``) does the I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ir2dis_cog.iracing.live import LiveRace

DAY = 86_400.0
# An empty roster this soon after the start may be a race still gridding: read it once more.
ROSTER_EARLY_SECONDS = 300.0
ROSTER_TRIES = 3  # failed roster reads before the race is left to the safety net
FIRST_RESULTS_AFTER = 60.0  # results are asked for from about a minute after the race left the list
STEADY_RESULTS_TRIES = 10  # ...then once a minute for ten minutes (results come 1 to 6 min after the end)
MAX_RESULTS_WAIT = 600.0  # ...then backing off up to ten minutes between tries
GIVE_UP_AFTER = 2 * 3600.0  # no results two hours after the end: left to the safety net
STALE_LISTS = 3  # no live list for this many periods: degraded
ROSTER_FAILURES_DEGRADE = 3  # roster reads failing in a row: degraded
MISSES_DEGRADE = 2  # misses within MISS_WINDOW: degraded
MISS_WINDOW = 3600.0

Phase = Literal["roster", "ignored", "live", "awaiting", "done", "given_up", "unread"]


@dataclass(frozen=True)
class Watch:
    """One live race subsession as the watcher knows it."""

    subsession_id: int
    started_at: float
    phase: Phase = "roster"
    drivers: frozenset[int] = frozenset()  # tracked drivers on its roster
    roster_reads: int = 0
    left_at: float | None = None  # when it left the live list
    next_try: float = 0.0  # when results/get may be asked next
    tries: int = 0


@dataclass(frozen=True)
class ListStep:
    watches: dict[int, Watch]
    rosters: tuple[int, ...]  # subsessions whose roster to read now, oldest start first
    left: tuple[int, ...]  # kept races that just left the list


def on_live_list(watches: Mapping[int, Watch], live: Sequence[LiveRace], now: float) -> ListStep:
    """A new live list: new races get their roster read; kept races gone from it await results."""
    out = dict(watches)
    listed = {r.subsession_id for r in live}
    for race in live:
        if race.subsession_id not in out:
            out[race.subsession_id] = Watch(race.subsession_id, race.start_time.timestamp())
    left = []
    for sid, w in list(out.items()):
        if sid in listed:
            continue
        if w.phase == "live":
            out[sid] = replace(w, phase="awaiting", left_at=now, next_try=now + FIRST_RESULTS_AFTER)
            left.append(sid)
        elif w.phase == "roster":
            out[sid] = replace(w, phase="unread")  # over before its roster could be read
    rosters = sorted((w for w in out.values() if w.phase == "roster"), key=lambda w: (w.started_at, w.subsession_id))
    return ListStep(forget_old(out, now), tuple(w.subsession_id for w in rosters), tuple(left))


def on_roster(w: Watch, cust_ids: Iterable[int], tracked: frozenset[int], now: float) -> Watch:
    """Keep the race when a tracked driver is on it; an empty roster early on is read once more."""
    ids = frozenset(cust_ids)
    reads = w.roster_reads + 1
    if not ids and w.roster_reads == 0 and now - w.started_at < ROSTER_EARLY_SECONDS:
        return replace(w, roster_reads=reads)
    drivers = ids & tracked
    return replace(w, phase="live" if drivers else "ignored", drivers=drivers, roster_reads=reads)


def on_roster_failed(w: Watch) -> Watch:
    reads = w.roster_reads + 1
    return replace(w, roster_reads=reads, phase="unread" if reads >= ROSTER_TRIES else w.phase)


def results_due(watches: Mapping[int, Watch], now: float) -> list[int]:
    """Kept races over whose results may be asked for now, longest waiting first."""
    due = [w for w in watches.values() if w.phase == "awaiting" and w.next_try <= now]
    return [w.subsession_id for w in sorted(due, key=lambda w: (w.next_try, w.subsession_id))]


def results_wait(tries: int) -> float:
    """Seconds until the next results/get after ``tries`` that found nothing."""
    if tries < STEADY_RESULTS_TRIES:
        return 60.0
    return min(MAX_RESULTS_WAIT, 60.0 * float(2 ** (tries - STEADY_RESULTS_TRIES + 1)))


def on_results(w: Watch, found: bool, now: float) -> Watch:
    if found:
        return replace(w, phase="done")
    tries = w.tries + 1
    if now - (w.left_at if w.left_at is not None else now) >= GIVE_UP_AFTER:
        return replace(w, phase="given_up", tries=tries)
    return replace(w, tries=tries, next_try=now + results_wait(tries))


def next_results_at(watches: Mapping[int, Watch]) -> float | None:
    times = [w.next_try for w in watches.values() if w.phase == "awaiting"]
    return min(times) if times else None


def forget_old(watches: dict[int, Watch], now: float) -> dict[int, Watch]:
    """Settled races are kept a day (to explain a miss), then forgotten; waiting ones never are."""
    return {
        sid: w for sid, w in watches.items() if w.phase in ("roster", "live", "awaiting") or now - w.started_at < DAY
    }


def watched_now(watches: Mapping[int, Watch]) -> int:
    """Races with a tracked driver, live or waiting for their results."""
    return sum(1 for w in watches.values() if w.phase in ("live", "awaiting"))


# --- misses ------------------------------------------------------------------------------------

_REASONS: dict[Phase, tuple[str, str]] = {
    "ignored": ("no_tracked_driver", "its roster listed no tracked driver when it was read"),
    "unread": ("roster_unread", "its roster could not be read while it ran"),
    "roster": ("roster_unread", "its roster was not read yet"),
    "given_up": ("no_results", "its results did not appear within two hours of its end"),
}


@dataclass(frozen=True)
class Miss:
    code: str  # a short label for the metric
    reason: str  # plain words for the log


def miss_of(w: Watch | None, started_at: float, unwatched: Sequence[tuple[float, float]]) -> Miss | None:
    """Why the watcher did not post a race the safety net found; None when that is no miss.

    No miss: the watcher has the race and is still on it (the safety net was only faster), or the
    race started while the watcher was not trusted (``unwatched`` spells: starting, degraded), when
    the engine polled every driver as it always did.
    """
    if w is not None and w.phase in ("live", "awaiting", "done"):
        return None
    if any(since <= started_at <= until for since, until in unwatched):
        return None
    if w is None:
        return Miss("not_listed", "it was not in the live list")
    return Miss(*_REASONS[w.phase])


# --- health ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthFacts:
    now: float
    period: float
    last_list_at: float | None  # the last live list read
    last_list_error: str | None  # why the last attempt failed, if it did
    last_list_races: int
    roster_failures: int  # in a row
    miss_times: tuple[float, ...]


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str | None = None


def assess(f: HealthFacts) -> Health:
    """Healthy: a live list within a few periods, holding races, rosters readable, no run of misses."""
    if f.last_list_at is None:
        why = f"no live list yet ({f.last_list_error})" if f.last_list_error else "no live list yet"
        return Health(False, why)
    if f.now - f.last_list_at > STALE_LISTS * f.period:
        minutes = int((f.now - f.last_list_at) // 60)
        return Health(False, f"no live list for {minutes} min ({f.last_list_error or 'not answered'})")
    if f.last_list_races == 0:
        return Health(False, "the live list holds no race")
    if f.roster_failures >= ROSTER_FAILURES_DEGRADE:
        return Health(False, f"{f.roster_failures} roster reads failed in a row")
    recent = sum(1 for t in f.miss_times if f.now - t <= MISS_WINDOW)
    if recent >= MISSES_DEGRADE:
        return Health(False, f"{recent} races missed in the last hour")
    return Health(True)
