"""The pictures every render test (and benchmarks/render_bench.py) draws: each recorded result,
with and without its lap chart, and the synthetic extremes."""

from __future__ import annotations

from functools import lru_cache

from ir2dis_cog.iracing.lap_chart import LapChart, parse_lap_chart
from ir2dis_cog.iracing.models import Subsession, parse_subsession
from ir2dis_cog.render.image_card import ImageCard, build_image_card
from tests.render.extremes import all_extremes
from tests.samples import load_sample

# result.json (GT4, one class, 30 cars): P3, P23 with two pit laps, and P29 who never started.
SOLO_TRACKED = {1009174: "", 1258349: "Seb", 1180318: ""}
# result_with_team.json (Daytona 24, three classes): the GTP winner's driver (a stored name),
# two drivers of the GTP P3 car, and one of the IMSA23 car that was disqualified.
TEAM_TRACKED = {1070827: "Alex W", 289709: "", 611015: "", 1188331: ""}
TEAM_DQ_NAME = "Leche Condensada Racing Team"


@lru_cache(maxsize=1)
def solo() -> Subsession:
    return parse_subsession(load_sample("result.json"))


@lru_cache(maxsize=1)
def solo_chart() -> LapChart:
    return parse_lap_chart(load_sample("result_lap_chart_data.json"))


@lru_cache(maxsize=1)
def team() -> Subsession:
    return parse_subsession(load_sample("result_with_team.json"))


@lru_cache(maxsize=1)
def all_cards() -> dict[str, ImageCard]:
    cards = {
        "solo_chart": build_image_card(solo(), SOLO_TRACKED, "Europe/Berlin", solo_chart(), "official"),
        "solo_no_chart": build_image_card(solo(), SOLO_TRACKED, "Europe/Berlin", None, "official"),
        "team_no_chart": build_image_card(team(), TEAM_TRACKED, "America/New_York", None, "official"),
        "team_hosted": build_image_card(team(), {1188331: ""}, "Asia/Tokyo", None, "hosted"),
    }
    for extreme in all_extremes():
        cards[extreme.name] = build_image_card(
            extreme.subsession, extreme.tracked, "Europe/Moscow", extreme.chart, "league"
        )
    return cards
