"""What one run in the world of official sessions measured, and its section of RESULTS.md.

Requests are the fake iRacing's own log (data calls only; S3 downloads carry no rate limit),
by endpoint, per simulated minute from the start of tracking to the end of the run. Latency runs
from a race's publication (its results out in ``results/get`` and ``member_recent_races``) to
the card handed to the publisher.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from typing import Any

from benchmarks.world import World, expected_posts

ENDPOINTS = {
    "stats/member_recent_races": "member_recent_races",
    "results/get": "results/get",
    "results/lap_chart_data": "lap_chart_data",
    "season/spectator_subsessionids_detail": "live list",
    "session/reg_drivers_list": "roster",
}
# After a start every driver is polled once (the per-driver poll cannot know what ended just
# before): the rate after this long shows the steady state where the sweep is over.
SETTLED_AFTER = 1200.0
SECTION = "## Live watcher: a world of official sessions (issue 12)"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def analyse_sessions(world: World, result: dict[str, Any], *, run_end: float, window: float) -> dict[str, Any]:
    must = expected_posts(world, until=world.end)
    anything = expected_posts(world, until=float("inf"))
    sent = Counter((g, s) for g, s, _ in result["posts"])
    first_at: dict[tuple[int, int], float] = {}
    for g, s, t in result["posts"]:
        first_at.setdefault((g, s), t)
    latency = [(first_at[k] - at) / 60 for k, at in must.posts.items() if k in first_at]
    minutes = (run_end - world.start) / 60
    by_endpoint: Counter[str] = Counter()
    per_minute: Counter[int] = Counter()
    r429 = late_429 = settled = 0
    for at, _kind, path, _query, status in result["requests"]:
        if at < world.start:
            continue
        by_endpoint[_endpoint(path)] += 1
        settled += at >= world.start + SETTLED_AFTER
        per_minute[int((at - world.start) // 60)] += 1
        if status == 429:
            r429 += 1
            late_429 += at >= world.start + window
    live = result.get("metrics", {})
    misses = {k.split("{", 1)[1].rstrip("}"): v for k, v in live.items() if k.startswith("ir2dis_live_misses_total")}
    return {
        "requests": sum(by_endpoint.values()),
        "per_minute": {name: by_endpoint[name] / minutes for name in (*ENDPOINTS.values(), "other")},
        "per_minute_all": sum(by_endpoint.values()) / minutes,
        "per_minute_settled": settled / (minutes - SETTLED_AFTER / 60),
        "busiest_minute": max(per_minute.values(), default=0),
        "r429": r429,
        "r429_after_first_window": late_429,
        "expected": len(must.posts),
        "made": sum(sent.values()),
        "missed": sum(1 for k in must.posts if k not in sent),
        "duplicated": sum(n - 1 for n in sent.values() if n > 1),
        "unexpected": sum(1 for k in sent if k not in anything.posts),
        "late_extra": sum(1 for k in sent if k in anything.posts and k not in must.posts),
        "p50": _pct(latency, 0.5),
        "p95": _pct(latency, 0.95),
        "max": max(latency, default=None),
        "found_by_watcher": live.get("ir2dis_live_races_found_total"),
        "live_misses": sum(misses.values()) if "ir2dis_live_races_found_total" in live else None,
        "live_miss_reasons": misses,
        "cpu_seconds": result["cpu_seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "cycle_duration_max_min": max((c["duration"] for c in result["cycles"]), default=0) / 60,
        "deferred_max": max((c.get("drivers_deferred", 0) for c in result["cycles"]), default=0),
    }


def _endpoint(path: str) -> str:
    for suffix, name in ENDPOINTS.items():
        if path.endswith(suffix):
            return name
    return "other"


ROWS: list[tuple[str, Any, str]] = [
    *[(f"requests / min: {name}", ("per_minute", name), "{:.1f}") for name in ENDPOINTS.values()],
    ("requests / min: all", "per_minute_all", "{:.1f}"),
    ("requests / min: all, after the first 20 min", "per_minute_settled", "{:.1f}"),
    ("requests in the busiest minute", "busiest_minute", "{:.0f}"),
    ("429 answers (after the first window)", ("r429", "r429_after_first_window"), "{:.0f} ({:.0f})"),
    ("posts expected", "expected", "{:.0f}"),
    ("posts made (all)", "made", "{:.0f}"),
    ("of which races published after the simulated hour (not expected)", "late_extra", "{:.0f}"),
    ("posts missed at the end of the run", "missed", "{:.0f}"),
    ("posts duplicated", "duplicated", "{:.0f}"),
    ("races found by the watcher / its misses", ("found_by_watcher", "live_misses"), "{:.0f} / {:.0f}"),
    ("publication to post p50 (sim min)", "p50", "{:.1f}"),
    ("publication to post p95 (sim min)", "p95", "{:.1f}"),
    ("publication to post, slowest (sim min)", "max", "{:.1f}"),
    ("CPU seconds of the strategy's process", "cpu_seconds", "{:.1f}"),
    ("peak RSS of the strategy's process (MB)", "peak_rss_mb", "{:.1f}"),
]


def _cell(result: dict[str, Any], key: Any, pattern: str) -> str:
    if isinstance(key, tuple) and key[0] == "per_minute":
        value = result["per_minute"].get(key[1])
        return "n/a" if value is None else pattern.format(value)
    keys = key if isinstance(key, tuple) else (key,)
    values = [result.get(k) for k in keys]
    if any(v is None for v in values):
        return "n/a"
    return pattern.format(*values)


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    lines = ["| measure | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for label, key, pattern in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(results[n], key, pattern) for n in names) + " |")
    return "\n".join(lines)


def section(command: str, runs: list[tuple[str, dict[str, Any], dict[str, dict[str, Any]]]], notes: str) -> str:
    """The RESULTS.md section: the command, one table per size, then what the numbers depend on."""
    lines = [
        SECTION,
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d', time.gmtime())} ({os.cpu_count()} CPUs, shared "
        "with other engineers' test runs; CPU seconds swing with that load, the counts and simulated times do not).",
        "",
    ]
    for title, world_line, results in runs:
        lines += [f"### {title}", "", world_line, "", table(results), ""]
    lines += [notes.strip(), ""]
    return "\n".join(lines)


def replace_section(text: str, new: str) -> str:
    """RESULTS.md with this section put in place of its previous version (or added at the end)."""
    pattern = re.compile(rf"^{re.escape(SECTION)}$.*?(?=^## (?!#)|\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: new.rstrip() + "\n\n", text, count=1).rstrip() + "\n"
    return text.rstrip() + "\n\n" + new.rstrip() + "\n"
