"""Nothing lost, nothing twice, under the faults a real deployment meets: the real `redbot` with the
cog, a fake Discord and a fake iRacing each, six bots at once (the faults take real minutes; one
after another the scenarios would take twenty).

- The database goes away (a PostgreSQL and a MariaDB this test starts itself, never the machine's
  shared servers) for 75 s with the live watcher healthy: one tracked driver's race was found live
  and its results come out during the outage; another driver's race runs and ends during it, so
  the watcher cannot even look up who is on it. Both are posted once within two minutes of the
  database's return, and `/iracing status` says the database is the trouble meanwhile. (The bots
  are minutes old: the watcher's start-up catch-up, 15 minutes long, could find the second race
  too; the catch-up after a spell of failures is what finds it in a bot running for days.)
- iRacing answers results/get with a truncated document, an HTML page with status 200, or a
  document without `session_results`, each for one race, until switched off 45 s after every race
  met its bad answer; on the watcher's path and with `LIVE_WATCH=off` (the per-driver poll). Each
  race is posted once within two minutes of the end of the bad answers.
- iRacing answers 503 Site Maintenance to every data request for 75 s, on both paths, while
  races wait for their results: `/health` says `"iracing": "maintenance"` meanwhile, and every
  race is posted once within two minutes after.
- Discord creates a card and answers 502 (discord.py retries some 5xx by itself): one card.

Every scenario reports rows (fault, path, races expected, posted, twice, seconds from the recovery
to each card), printed whether or not it passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.e2e.db_servers import DatabaseServer, own_server
from tests.e2e.fault_bots import HEADER, LIVE_POLL, POLL, FaultBot, Outcome, ends_in

pytestmark = pytest.mark.e2e

ADA, BEN, CY = 340_001, 340_002, 340_003
DRIVERS = {ADA: "Ada Apex", BEN: "Ben Brake", CY: "Cy Curb"}
OUTAGE = 75.0  # seconds the database is down
BAD_SPELL = 45.0  # bad answers go on this long after every race met one
# 503 on every data request this long: on the watcher's path from the race leaving the list, past
# its first results/get; on both, past a poll cycle's request and the client's own retry 30 s later.
MAINTENANCE = 75.0
POSTED_WITHIN = 120.0  # after the recovery
LIVE_FOR = 45.0  # a watched race ends this long after it is added (its roster read at the next list)
BAD_ANSWERS = {ADA: "results_truncated", BEN: "results_html", CY: "results_incomplete"}
BAD_NAMES = {
    "results_truncated": "results/get truncated",
    "results_html": "results/get HTML, status 200",
    "results_incomplete": "results/get without session_results",
}

Maker = Callable[..., Awaitable[Any]]
Scenario = Callable[[FaultBot], Awaitable[list[Outcome]]]


@pytest.fixture
async def databases() -> AsyncIterator[dict[str, DatabaseServer]]:
    """A PostgreSQL and a MariaDB of this test's own, each on its own port and data directory."""
    made = await asyncio.gather(
        asyncio.to_thread(own_server, "postgresql"), asyncio.to_thread(own_server, "mysql"), return_exceptions=True
    )
    servers = [s for s in made if not isinstance(s, BaseException)]
    try:
        for failed in made:
            if isinstance(failed, BaseException):
                raise failed
        yield {s.kind: s for s in servers}
    finally:
        for server in servers:
            await asyncio.to_thread(server.close)


# --- the scenarios ------------------------------------------------------------------------------


async def database_outage(bot: FaultBot, server: DatabaseServer) -> list[Outcome]:
    found = bot.race(ADA, **ends_in(LIVE_FOR))
    await bot.roster_read(found)
    await bot.left_list(found)  # the watcher asks for its results in a minute: the database is gone by then
    down_at = time.time()
    await asyncio.to_thread(server.stop)
    try:
        unseen = bot.race(BEN, **ends_in(LIVE_FOR))  # runs and ends while the database is away
        try:
            status = (await bot.h.command("!iracing status", timeout=OUTAGE - 15)).text
        except TimeoutError:
            status = "(no answer)"
        await asyncio.sleep(max(0.0, down_at + OUTAGE - time.time()))
    finally:
        await asyncio.to_thread(server.start)
    up_at = time.time()
    await bot.wait_posted([found, unseen], up_at + POSTED_WITHIN)
    asked = sum(1 for r in bot.asked("results/get", found) if down_at < r.at < up_at)
    bot.expect(asked > 0, f"the watcher did not ask for {found}'s results during the outage")
    bot.expect(
        "database is unreachable since" in status and "went wrong" not in status,
        f"/iracing status during the outage said {status!r}",
    )
    return [
        bot.outcome(
            f"{server.kind} stopped {up_at - down_at:.0f} s",
            "watcher",
            [found, unseen],
            up_at,
            f"{found} found live, {unseen} ran during the outage; status: {' '.join(status.split())[:90]}",
        )
    ]


async def bad_answers(bot: FaultBot, *, live_watch: bool) -> list[Outcome]:
    races: dict[int, str] = {}
    for driver, kind in BAD_ANSWERS.items():
        sid = bot.race(driver, **(ends_in(LIVE_FOR) if live_watch else {}))
        bot.iracing.fault(kind, None, subsession_id=sid)  # until switched off
        races[sid] = kind

    def met() -> bool:
        return all(any(r.fault == kind for r in bot.asked("results/get", sid)) for sid, kind in races.items())

    await bot.until(met, LIVE_FOR + 2 * LIVE_POLL + 90 if live_watch else 2 * POLL + 30, "every race's bad answer")
    await asyncio.sleep(BAD_SPELL)
    for kind in BAD_ANSWERS.values():
        bot.iracing.clear_faults(kind)
    up_at = time.time()
    await bot.wait_posted(races, up_at + POSTED_WITHIN)
    path = "watcher" if live_watch else "per-driver"
    return [
        bot.outcome(
            BAD_NAMES[kind],
            path,
            [sid],
            up_at,
            f"{sum(1 for r in bot.asked('results/get', sid) if r.fault == kind)} bad answers",
        )
        for sid, kind in races.items()
    ]


async def health_during(bot: FaultBot, until: float) -> float | None:
    """Seconds into the spell at which /health first said iRacing is in maintenance (None: never)."""
    start = time.time()
    while time.time() < until:
        if (await bot.health()).get("checks", {}).get("iracing") == "maintenance":
            return time.time() - start
        await asyncio.sleep(min(3.0, max(0.0, until - time.time())))
    return None


async def maintenance_spell(bot: FaultBot, races: Callable[[], list[int]], path: str, seconds: float) -> Outcome:
    """503 on every data request for `seconds`; `races()` (called once it started) are posted once after."""
    start = time.time()
    bot.iracing.fault("maintenance", None)
    waiting = races()
    said = await health_during(bot, start + seconds)
    await asyncio.sleep(max(0.0, start + seconds - time.time()))
    bot.iracing.clear_faults("maintenance")
    up_at = time.time()
    await bot.wait_posted(waiting, up_at + POSTED_WITHIN)
    met = sum(1 for r in bot.iracing.requests if r.fault == "maintenance")
    health = f"/health: maintenance after {said:.0f} s" if said is not None else "/health never said maintenance"
    bot.expect(said is not None, health)
    return bot.outcome(f"503 maintenance {up_at - start:.0f} s", path, waiting, up_at, f"{health}; {met} answers 503")


async def maintenance_watched(bot: FaultBot) -> list[Outcome]:
    races = [bot.race(ADA, **ends_in(LIVE_FOR)), bot.race(BEN, **ends_in(LIVE_FOR))]
    for sid in races:
        await bot.roster_read(sid)
    await bot.left_list(races[-1])  # results asked for in a minute: during the maintenance
    row = await maintenance_spell(bot, lambda: races, "watcher", MAINTENANCE)
    met = [r for sid in races for r in bot.asked("results/get", sid) if r.fault == "maintenance"]
    bot.expect(bool(met), "no results/get met the maintenance")
    return [row]


async def maintenance_polled_then_discord_502(bot: FaultBot) -> list[Outcome]:
    # The races have just ended when the maintenance starts: the poll meets 503 before it sees them.
    rows = [await maintenance_spell(bot, lambda: [bot.race(ADA), bot.race(BEN)], "per-driver", MAINTENANCE)]

    # Discord makes the next card and answers 502 (a proxy timing out behind a backend that did it).
    route = f"/channels/{bot.results}/messages"
    before = len(bot.h.fake.requests())
    bot.h.fake.inject_fault("POST", route, 502, deliver=True)
    sid = bot.race(CY)
    await bot.wait_posted([sid], time.time() + 2 * POLL + 30)
    answered = [r for r in bot.h.fake.requests() if r.method == "POST" and r.path == route and r.fault]
    bot.expect(bool(answered), "the card's POST never met the 502")
    await asyncio.sleep(POLL + 5)  # discord.py's own retries, then the next cycle's outbox: no second card
    posts = sum(1 for r in bot.h.fake.requests()[before:] if r.method == "POST" and r.path == route)
    at = answered[0].at if answered else time.time()
    rows.append(bot.outcome("Discord created the card, answered 502", "per-driver", [sid], at, f"{posts} POSTs"))
    return rows


# --- the test -----------------------------------------------------------------------------------


async def test_nothing_is_lost_or_posted_twice_under_faults(
    make_red_harness: Maker, make_fake_iracing: Maker, databases: dict[str, DatabaseServer]
) -> None:
    pg, maria = databases["postgresql"], databases["mysql"]
    plans: dict[str, tuple[Scenario, dict[str, Any]]] = {
        "PostgreSQL outage": (lambda b: database_outage(b, pg), {"live_watch": True, "database_url": pg.url}),
        "MariaDB outage": (lambda b: database_outage(b, maria), {"live_watch": True, "database_url": maria.url}),
        "bad answers watcher": (lambda b: bad_answers(b, live_watch=True), {"live_watch": True}),
        "bad answers polled": (lambda b: bad_answers(b, live_watch=False), {"live_watch": False}),
        "maintenance watcher": (maintenance_watched, {"live_watch": True}),
        "maintenance polled": (maintenance_polled_then_discord_502, {"live_watch": False}),
    }
    bots: dict[str, FaultBot] = {}

    async def run(label: str, scenario: Scenario, launch: dict[str, Any]) -> list[Outcome]:
        bots[label] = await FaultBot.launch(label, make_red_harness, make_fake_iracing, DRIVERS, **launch)
        return await scenario(bots[label])

    done = await asyncio.gather(*(run(label, *plan) for label, plan in plans.items()), return_exceptions=True)

    rows = [row for result in done if isinstance(result, list) for row in result]
    print(f"\nfault report\n{HEADER}\n" + "\n".join(row.row() for row in rows))
    failed: dict[str, list[str]] = {}
    for label, result in zip(plans, done, strict=True):
        problems = failed.setdefault(label, list(bots[label].problems) if label in bots else [])
        if isinstance(result, BaseException):
            problems.append(f"{label}: {type(result).__name__}: {result}")
            continue
        for row in result:
            if row.posted != row.expected or row.twice:
                problems.append(f"{label}: {row.fault}: {row.posted} of {row.expected} posted, {row.twice} twice")
            elif (row.slowest or 0.0) > POSTED_WITHIN:
                problems.append(f"{label}: {row.fault}: posted {row.slowest:.0f} s after the recovery")
    failed = {label: problems for label, problems in failed.items() if problems}
    assert not failed, (
        "\n".join(p for ps in failed.values() for p in ps)
        + "\n"
        + "\n".join(bots[label].log_tail(40) for label in failed if label in bots)
    )
