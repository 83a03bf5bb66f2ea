"""One real `redbot` with the ir2dis cog, its own fake Discord and fake iRacing, for the fault tests.

`FaultBot.launch(...)` starts Red, gives the login, loads the cog, chooses the results channel and
tracks the drivers; then a scenario adds races, breaks something, mends it and asks `outcome(...)`
what became of its races: how many were posted, how many twice, and how many seconds after the
recovery each card appeared (the moment it was first seen in the fake Discord).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.ir2dis_setup import ir2dis_env, load_ir2dis
from tests.e2e.redbot_harness import RedHarness, poll_until
from tests.fakes.discord import Message
from tests.fakes.iracing import FakeIRacing, RequestRecord, recent_start

REPO_ROOT = Path(__file__).resolve().parents[2]
LIVE_POLL = 30  # the shortest live list period the settings accept
POLL = 30  # the shortest per-driver poll interval the settings accept
SAFETY_NET_POLL = 600  # with the watcher on: the per-driver poll far slower than the watcher needs
RACE_MINUTES = 20.0
STRANGERS = tuple(range(990_001, 990_016))  # the rest of every field: drivers nobody tracks


@dataclass(frozen=True)
class Outcome:
    """What became of one scenario's races: a row of the fault report."""

    fault: str
    path: str  # "watcher" or "per-driver"
    expected: int
    posted: int
    twice: int
    seconds: tuple[float, ...]  # recovery -> card, for each race posted
    note: str = ""

    @property
    def slowest(self) -> float | None:
        return max(self.seconds) if self.seconds else None

    def row(self) -> str:
        after = ", ".join(f"{s:.0f}" for s in self.seconds) or "-"
        return (
            f"| {self.fault} | {self.path} | {self.expected} | {self.posted} | {self.twice} | {after} | {self.note} |"
        )


HEADER = (
    "| fault | path | races expected | posted | twice | s from recovery to post | note |\n|---|---|---|---|---|---|---|"
)


def ends_in(seconds: float) -> dict[str, Any]:
    """`add_race` arguments for a race that started minutes ago and ends in `seconds`."""
    minutes = max(RACE_MINUTES, seconds / 60 + 5)
    return {"session_start_time": recent_start(minutes - seconds / 60), "race_minutes": minutes}


class FaultBot:
    """A started Red with the cog loaded, tracking `drivers`, posting to its #race-results."""

    def __init__(self, label: str, h: RedHarness, iracing: FakeIRacing, results: int, health_port: int) -> None:
        self.label = label
        self.h = h
        self.iracing = iracing
        self.results = results
        self.health_port = health_port
        self.first_seen: dict[int, float] = {}
        self.problems: list[str] = []  # checks that failed, reported with the outcome rows

    def expect(self, ok: bool, problem: str) -> None:
        """A check that does not stop the scenario: its rows are still measured and reported."""
        if not ok:
            self.problems.append(f"{self.label}: {problem}")

    @classmethod
    async def launch(
        cls,
        label: str,
        make_red_harness: Callable[..., Awaitable[RedHarness]],
        make_fake_iracing: Callable[[str, str], Awaitable[FakeIRacing]],
        drivers: Mapping[int, str],
        *,
        live_watch: bool,
        database_url: str | None = None,
    ) -> FaultBot:
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        client_id, email = f"ir2dis-faults-{slug}", f"{slug}@example.com"
        iracing = await make_fake_iracing(client_id, email)
        for cust_id, name in drivers.items():
            iracing.add_member(cust_id, name)
        # Each driver's last race, days ago: tracking starts after it.
        iracing.add_race([*drivers, *STRANGERS[:3]], series_name="Fake Warmup", session_start_time=recent_start(4320))
        if live_watch:
            # iRacing always has races running: an empty live list would (rightly) degrade the watcher.
            iracing.add_race(list(STRANGERS[3:6]), series_name="Fake Endurance", **ends_in(3600))
        # By environment, read at load: the commands would take effect only at the next cycle.
        chosen = {
            "LIVE_WATCH": "on" if live_watch else "off",
            "LIVE_POLL_SECONDS": str(LIVE_POLL),
            "POLL_INTERVAL_SECONDS": str(SAFETY_NET_POLL if live_watch else POLL),
        }
        if database_url:
            chosen["DATABASE_URL"] = database_url
        env = ir2dis_env(iracing, **chosen)
        h = await make_red_harness(cog_paths=[REPO_ROOT], env=env)
        results = h.fake.add_channel(h.guild_id, "race-results")
        await h.start()
        await load_ir2dis(h, iracing, client_id, email)
        await h.command(f"!iracing setchannel <#{results}>", expect=lambda m: "will be posted in" in m.content)
        for cust_id, name in drivers.items():
            tracked = await h.command(f"!iracing track {cust_id}", expect=lambda m: "tracking" in m.content)
            assert f"{name}** ({cust_id})" in tracked.text, f"{label}: {tracked.text}"
        return cls(label, h, iracing, results, int(env["HEALTH_PORT"]))

    # --- races and what iRacing was asked ---------------------------------------------------------

    def race(self, driver: int, **when: Any) -> int:
        """A race of `driver` and strangers (by default it has just ended, results out at once)."""
        return self.iracing.add_race([driver, *STRANGERS[6:]], series_name=f"Fake {self.label} Cup", **when)

    def asked(self, endpoint: str, subsession_id: int | None = None) -> list[RequestRecord]:
        """The data requests to `endpoint` (e.g. "results/get"), for one race if given."""
        wanted = f"subsession_id={subsession_id}"
        return [
            r
            for r in self.iracing.requests
            if r.kind == "data"
            and r.path.endswith(endpoint)
            and (subsession_id is None or wanted in r.query.split("&"))
        ]

    async def until(self, check: Callable[[], object], timeout: float, what: str) -> object:  # noqa: ASYNC109
        """`poll_until`, failing at once (with the log) if redbot dies meanwhile."""
        return await self.h.proc.guard(poll_until(check, timeout, f"{self.label}: {what}"), what)

    async def roster_read(self, subsession_id: int, timeout: float = 75.0) -> None:  # noqa: ASYNC109
        """The watcher read the race's roster (it is watching it, if a tracked driver is on it)."""
        await self.until(
            lambda: any(r.status == 200 for r in self.asked("reg_drivers_list", subsession_id)),
            timeout,
            f"the roster of {subsession_id} read",
        )

    async def left_list(self, subsession_id: int, timeout: float = 75.0) -> None:  # noqa: ASYNC109
        """A live list read after the race's end: the watcher now waits a minute, then asks its results."""
        end = self.iracing.world.races[subsession_id].end
        await self.until(
            lambda: any(r.at > end and r.status == 200 for r in self.asked("spectator_subsessionids_detail")),
            timeout,
            f"a live list without {subsession_id}",
        )

    # --- what Discord got ---------------------------------------------------------------------------

    def cards(self, subsession_id: int) -> list[Message]:
        return [m for m in self.h.fake.messages(self.results) if f"Subsession {subsession_id}" in m.text()]

    async def wait_posted(self, races: Iterable[int], deadline: float) -> None:
        """Until every race has a card or `deadline` (epoch seconds) passes; notes when each first appeared."""
        races = tuple(races)

        def check() -> bool:
            now = time.time()
            for sid in races:
                if sid not in self.first_seen and self.cards(sid):
                    self.first_seen[sid] = now
            return all(sid in self.first_seen for sid in races)

        with contextlib.suppress(TimeoutError):
            await self.h.proc.guard(
                self.h.fake.wait_until(check, max(0.0, deadline - time.time()), "every card"), "the cards"
            )

    def outcome(self, fault: str, path: str, races: Sequence[int], recovered_at: float, note: str = "") -> Outcome:
        return Outcome(
            fault=fault,
            path=path,
            expected=len(races),
            posted=sum(1 for sid in races if self.cards(sid)),
            twice=sum(1 for sid in races if len(self.cards(sid)) > 1),
            seconds=tuple(self.first_seen[sid] - recovered_at for sid in races if sid in self.first_seen),
            note=note,
        )

    # --- the bot's own view -------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """`/health`'s body; empty if it does not answer."""
        url = f"http://127.0.0.1:{self.health_port}/health"
        try:
            async with aiohttp.ClientSession() as http, http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as r:
                return dict(await r.json())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return {}

    def log_tail(self, lines: int = 60) -> str:
        return f"--- {self.label}: redbot output (tail) ---\n{self.h.proc.log_tail(lines)}"
