"""One member against the whole bot: 10 autocomplete events and 5 ``/iracing lastrace`` a second
for a minute, while tracked drivers' races finish and the poll engine runs.

One level below end to end: the real command handlers of ``IRacingCommands`` (lastrace, the
autocomplete, discord.py's member cooldown and our server cooldown, the cog's error sentences),
the real iRacing client over HTTP against the fake iRacing, the real poll engine on SQLite.
Discord is a stub context that records what the member saw (and whether it was private).
Time is simulated (``--speed`` times the wall clock) for the fake, the client, the engine and
the cooldowns (which read the message's time, as discord.py's do).

    python -m benchmarks.member_load [--seconds 60] [--speed 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

FIRST = ["Ada", "Max", "Lewis", "Charles", "Lando", "Oscar", "George", "Carlos", "Fernando", "Nico"]
LAST = ["Lovelace", "Verstappen", "Hamilton", "Leclerc", "Norris", "Piastri", "Russell", "Sainz", "Alonso", "Rosberg"]


class SimClock:
    def __init__(self, start: float, speed: float) -> None:
        self.start, self.speed, self.real_start = start, speed, time.time()

    def now(self) -> float:
        return self.start + (time.time() - self.real_start) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    async def sleep_until(self, when: float) -> None:
        await self.sleep(when - self.now())


@dataclass
class Seen:
    """What the member saw: (kind, text, private) per answer, and autocomplete timings."""

    answers: list[tuple[str, str, bool]] = field(default_factory=list)
    autocomplete: list[tuple[float, int]] = field(default_factory=list)  # (sim seconds to answer, choices)


class StubContext:
    """A slash invocation as the handlers see it: defer, send (private or not), message time."""

    def __init__(self, command: Any, clock: SimClock, seen: Seen, guild_id: int, user_id: int) -> None:
        self.command = command
        self.clean_prefix = "/"
        self.guild = SimpleNamespace(id=guild_id)
        self.author = SimpleNamespace(id=user_id)
        at = datetime.fromtimestamp(clock.now(), UTC)
        self.message = SimpleNamespace(
            guild=self.guild, author=self.author, created_at=at, edited_at=None, channel=None
        )
        self.interaction = SimpleNamespace()
        self._seen = seen
        self._deferred_private: bool | None = None
        self._answered = False

    async def defer(self, *, ephemeral: bool = False) -> None:
        self._deferred_private = ephemeral

    async def send(self, content: str | None = None, *, ephemeral: bool = False, **kwargs: Any) -> None:
        # Discord: the first answer after a defer replaces the "thinking" message and keeps its
        # privacy; later ones are messages of their own.
        private = ephemeral
        if self._deferred_private is not None and not self._answered:
            private = self._deferred_private
        self._answered = True
        self._seen.answers.append(("card" if kwargs.get("card") else "text", content or "", private))


async def run(seconds: float = 60.0, speed: float = 10.0, drivers: int = 40) -> dict[str, Any]:
    from ir2dis_cog.config.settings import load_settings
    from ir2dis_cog.core.tracking import baseline_mark
    from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
    from ir2dis_cog.iracing.client import ClientTuning, IRacingClient
    from ir2dis_cog.observability.metrics import Metrics
    from ir2dis_cog.poller.engine import PollEngine
    from ir2dis_cog.red.errors import answer_for
    from ir2dis_cog.red.iracing_commands import IRacingCommands
    from ir2dis_cog.store import open_store
    from tests.fakes.iracing import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD, FakeIRacing

    logging.getLogger("red.ir2dis").setLevel(logging.ERROR)
    clock = SimClock(time.time(), speed)
    fake = FakeIRacing(clock=clock.now, latency_ms=80 / speed, s3_latency_ms=40 / speed)
    await fake.start()
    workdir = Path(tempfile.mkdtemp(prefix="ir2dis-member-load-"))
    names = {1000 + i: f"{FIRST[i % 10]} {LAST[i // 10 % 10]}" for i in range(drivers)}
    for cust_id, name in names.items():
        fake.add_member(cust_id, name)
    env = {
        "IRACING_EMAIL": FAKE_EMAIL,
        "IRACING_PASSWORD": FAKE_PASSWORD,
        "IRACING_CLIENT_ID": FAKE_CLIENT_ID,
        "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
        "IRACING_API_BASE": fake.base_url or "",
        "IRACING_OAUTH_URL": fake.oauth_url,
        "POLL_INTERVAL_SECONDS": "30",
    }
    settings = load_settings(env, config_file=workdir / "absent.json", mode="cog", data_dir=workdir)
    store = await open_store(f"sqlite:///{workdir / 'load.sqlite3'}", data_dir=workdir)
    guild, channel, member_id = 1, 11, 77
    await store.guilds.set_channel(guild, channel, now=int(clock.now()))
    # Half the drivers raced two hours ago (already known: not posted again, but lastrace shows it).
    started = clock.now() - 2 * 3600
    earlier = fake.add_race(list(names)[: drivers // 2], session_start_time=started, race_minutes=25.0)
    for cust_id, name in names.items():
        mark = (earlier, int(started)) if cust_id in list(names)[: drivers // 2] else baseline_mark([])
        await store.last_seen.set(guild, cust_id, *mark)
        await store.drivers.track(guild, cust_id, name, None, now=int(clock.now()))
    posts: list[tuple[int, float]] = []

    class Publisher:
        async def publish(self, channel_id: int, card: Any, image: bytes | None = None) -> int:
            posts.append((card.subsession_id, clock.now()))
            return len(posts)

        async def find_existing(self, channel_id: int, subsession_id: int) -> int | None:
            return None

    metrics = Metrics()
    tuning = ClientTuning(max_rate_wait=600.0)
    seen = Seen()
    sent: list[tuple[float, str]] = []
    async with IRacingClient(
        settings,
        state_store=MemoryAuthStateStore(),
        metrics=metrics,
        tuning=tuning,
        clock=clock.now,
        sleep=clock.sleep,
    ) as client:
        limiter = client._limiter  # the measurement taps what went out, by lane
        went_out = limiter.went_out

        def tap(ticket: Any) -> Any:
            out = went_out(ticket)
            sent.append((out.at, out.lane))
            return out

        limiter.went_out = tap  # type: ignore[method-assign]
        engine = PollEngine(store, client, Publisher(), settings, metrics, clock, process="load")  # type: ignore[arg-type]

        class Handlers(IRacingCommands):
            async def _show_result(self, ctx: Any, subsession: Any, tracked: dict[int, str]) -> None:
                await ctx.send(None, card=True)

        handlers = Handlers()
        handlers.store, handlers.client, handlers.settings, handlers.engine = store, client, settings, engine
        lastrace = IRacingCommands.iracing_lastrace
        start = clock.now()
        end = start + seconds
        races: list[tuple[int, float]] = []

        async def world() -> None:
            # Two races finish during the minute, each with a few tracked drivers.
            for at, field_ in ((5.0, [1000, 1001, 1002, 5, 6]), (seconds / 2 + 5, [1003, 1011, 7, 8])):
                await clock.sleep_until(start + at)
                races.append((fake.add_race(field_, race_minutes=25.0), clock.now()))

        async def poller() -> None:
            tick = start
            while tick < end + 35:
                await clock.sleep_until(tick)
                await engine.run_cycle()
                tick += settings.poll_interval_seconds

        calls: Counter[str] = Counter()

        async def one_lastrace(query: str) -> None:
            calls["lastrace"] += 1
            ctx = StubContext(lastrace, clock, seen, guild, member_id)
            try:
                lastrace._prepare_cooldowns(ctx)  # discord.py's own member cooldown
                await lastrace._before_invoke(handlers, ctx)  # type: ignore[misc]
                await lastrace.callback(handlers, ctx, driver=query)  # type: ignore[arg-type]
            except Exception as exc:  # the cog's error handler
                answer = answer_for(ctx, exc)  # type: ignore[arg-type]
                await ctx.send(answer or "?", ephemeral=True)

        async def one_autocomplete(text: str) -> None:
            began = clock.now()
            choices = await handlers._track_autocomplete(SimpleNamespace(), text)  # type: ignore[arg-type]
            seen.autocomplete.append((clock.now() - began, len(choices)))

        async def member() -> None:
            # A keystroke every 100 ms (through the names one after another, 3 to 14 letters of
            # each) and a lastrace every 200 ms (names and ids of tracked drivers, in turn).
            tasks: list[asyncio.Task[None]] = []
            typed = list(names.values())
            tick = 0
            while clock.now() < end:
                name = typed[tick // 12 % len(typed)]
                tasks.append(asyncio.create_task(one_autocomplete(name[: 3 + tick % 12])))
                if tick % 2 == 0:
                    k = tick // 2
                    query = str(1000 + k % drivers) if k % 2 else typed[k % len(typed)]
                    tasks.append(asyncio.create_task(one_lastrace(query)))
                tick += 1
                await clock.sleep_until(start + tick / 10)
            await asyncio.gather(*tasks)

        await asyncio.gather(world(), poller(), member())
    await store.close()
    await fake.stop()

    window = 60.25
    times = sorted(t for t, lane in sent if lane == "interactive")
    worst, j = 0, 0
    for k, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        worst = max(worst, k - j + 1)
    total_times = sorted(t for t, _ in sent)
    worst_total, j = 0, 0
    for k, t in enumerate(total_times):
        while total_times[j] <= t - window:
            j += 1
        worst_total = max(worst_total, k - j + 1)
    fake_windows = Counter(int(r.at // fake.rate_window) for r in fake.requests if r.kind == "data")
    kinds = Counter(kind for kind, _, _ in seen.answers)
    texts = [(t, private) for kind, t, private in seen.answers if kind == "text"]
    throttled = [t for t, _ in texts if "Try again" in t]
    latency = [
        posted - next(at for sid, at in races if sid == s) for s, posted in posts if any(s == r for r, _ in races)
    ]
    cap = client.usage().interactive_cap
    return {
        "simulated_seconds": seconds,
        "speed": speed,
        "drivers": drivers,
        "autocomplete_events": len(seen.autocomplete),
        "autocomplete_with_choices": sum(1 for _, n in seen.autocomplete if n),
        "autocomplete_slowest_sim_s": round(max(t for t, _ in seen.autocomplete), 3),
        "lastrace_calls": calls["lastrace"],
        "cards_posted_publicly": sum(1 for kind, _, private in seen.answers if kind == "card" and not private),
        "cards_private": sum(1 for kind, _, private in seen.answers if kind == "card" and private),
        "answers": dict(kinds),
        "throttle_sentences": len(throttled),
        "throttle_sentences_private": sum(1 for t, private in texts if "Try again" in t and private),
        "text_answers_public": sum(1 for _, private in texts if not private),
        "sample_throttle_sentence": throttled[0] if throttled else None,
        "sentences": dict(Counter(t.split(" Try again")[0] if "Try again" in t else t for t, _ in texts)),
        "interactive_requests": len(times),
        "interactive_cap_per_window": cap,
        "interactive_most_in_any_window": worst,
        "all_requests_most_in_any_window": worst_total,
        "engine_requests": sum(1 for _, lane in sent if lane != "interactive"),
        "fake_most_in_one_window": max(fake_windows.values()),
        "rate_limited_429": fake.stats["rate_limited"],
        "races": len(races),
        "races_posted": len({s for s, _ in posts if any(s == r for r, _ in races)}),
        "post_latency_sim_s": [round(x, 1) for x in latency],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--speed", type=float, default=10.0)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    result = asyncio.run(run(args.seconds, args.speed))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
