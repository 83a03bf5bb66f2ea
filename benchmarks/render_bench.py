"""The result-picture benchmark: time and memory of ``render_png`` over the recorded results and
the synthetic extremes (the cases of tests/render/cases.py).

    python -m benchmarks.render_bench              # 40 rounds of every case
    python -m benchmarks.render_bench --rounds 5   # quicker
    python -m benchmarks.render_bench --json out.json

Each image is timed two ways, both wall clock and CPU time of this process:
- ``cold``: the font book's caches (measured widths, rendered strings) emptied first, so every
  string is laid out and rendered by FreeType: a picture drawn from nothing.
- ``steady``: caches emptied, every *other* case drawn once untimed, then this one: the labels,
  tick numbers and facts every picture shares are cached, its own names and numbers are not. This
  is a bot that has posted before.
The first render of the process (loading the fonts) is reported apart. Peak RSS growth is the
rise of the process's peak resident set from before the first render to the end.

The loop stall: while every case is drawn once, a coroutine wakes every 5 ms and records how late
it woke: drawn on the event loop itself, and drawn by ``RenderWorker`` (the bot's way, a thread).
The longest lateness is how long the bot could not answer Discord while drawing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import sys
import time
from pathlib import Path

import PIL

from ir2dis_cog.render.draw import render_png
from ir2dis_cog.render.fonts import default_fonts
from ir2dis_cog.render.image_card import ImageCard
from ir2dis_cog.render.worker import RenderWorker
from tests.render.cases import all_cards


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _timed(card: ImageCard) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    png = render_png(card)
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, len(png)


TICK = 0.005


async def _loop_stall(cards: list[ImageCard], *, in_worker: bool) -> dict[str, float]:
    """How late a 5 ms ticker wakes while the cards are drawn (ms): max and p99."""
    late: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            late.append((time.perf_counter() - before - TICK) * 1000)

    tick = asyncio.create_task(ticker())
    async with RenderWorker() as worker:
        for card in cards:
            if in_worker:
                await worker.render(card)
            else:
                render_png(card)
                await asyncio.sleep(0)
    done.set()
    await tick
    return {"max": round(max(late), 1), "p99": round(_percentile(late, 0.99), 1), "ticks": len(late)}


def run(rounds: int) -> dict[str, object]:
    cards = all_cards()
    rss_before = _peak_rss_mb()
    book = default_fonts()
    first_wall, first_cpu, _ = _timed(next(iter(cards.values())))

    samples: dict[str, dict[str, list[float]]] = {
        name: {"cold_wall": [], "cold_cpu": [], "steady_wall": [], "steady_cpu": []} for name in cards
    }
    sizes: dict[str, int] = {}
    heights: dict[str, int] = {}
    for _ in range(rounds):
        for name, card in cards.items():
            book.clear_cache()
            wall, cpu, size = _timed(card)
            samples[name]["cold_wall"].append(wall)
            samples[name]["cold_cpu"].append(cpu)
            sizes[name] = size
            book.clear_cache()
            for other_name, other in cards.items():
                if other_name != name:
                    render_png(other)
            wall, cpu, _ = _timed(card)
            samples[name]["steady_wall"].append(wall)
            samples[name]["steady_cpu"].append(cpu)
    rss_after = _peak_rss_mb()
    drawn = list(cards.values())
    stall = {
        "on_the_loop": asyncio.run(_loop_stall(drawn, in_worker=False)),
        "in_the_worker": asyncio.run(_loop_stall(drawn, in_worker=True)),
    }
    for name, card in cards.items():
        heights[name] = int.from_bytes(render_png(card)[20:24], "big")  # the PNG header's height

    def summary(key: str, which: list[str]) -> dict[str, float]:
        values = [v for n in which for v in samples[n][key]]
        return {
            "p50": round(_percentile(values, 0.5), 1),
            "p95": round(_percentile(values, 0.95), 1),
            "max": round(max(values), 1),
        }

    names = list(cards)
    return {
        "rounds": rounds,
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "first_render_ms": {"wall": round(first_wall, 1), "cpu": round(first_cpu, 1)},
        "all": {key: summary(key, names) for key in samples[names[0]]},
        "cases": {
            name: {
                **{key: summary(key, [name]) for key in samples[name]},
                "png_bytes": sizes[name],
                "height_px": heights[name],
            }
            for name in names
        },
        "loop_stall_ms": stall,
        "peak_rss_mb": {
            "before": round(rss_before, 1),
            "after": round(rss_after, 1),
            "growth": round(rss_after - rss_before, 1),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    result = run(args.rounds)
    first = result["first_render_ms"]
    print(f"rounds {args.rounds}, Python {result['python']}, Pillow {result['pillow']}")
    print(f"first render in the process (fonts load): {first}")
    print(
        f"{'case':16} {'cold wall p50/p95':>18} {'cold cpu p50/p95':>17} {'steady wall p50/p95':>20} "
        f"{'PNG KB':>7} {'px high':>8}"
    )
    cases = result["cases"]
    assert isinstance(cases, dict)
    for name, c in {**cases, "ALL": result["all"]}.items():
        size = f"{c['png_bytes'] / 1024:.0f}" if "png_bytes" in c else ""
        high = str(c.get("height_px", ""))
        print(
            f"{name:16} {c['cold_wall']['p50']:>8} / {c['cold_wall']['p95']:<7} {c['cold_cpu']['p50']:>7} / "
            f"{c['cold_cpu']['p95']:<7} {c['steady_wall']['p50']:>9} / {c['steady_wall']['p95']:<8} "
            f"{size:>7} {high:>8}"
        )
    print(f"peak RSS (MB): {result['peak_rss_mb']}")
    print(f"event loop lateness while drawing every case once (ms): {result['loop_stall_ms']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
