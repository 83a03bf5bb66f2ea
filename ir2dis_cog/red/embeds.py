"""RaceCard -> discord.Embed: pure (no I/O), always within Discord's embed limits.

Every text that comes from outside (driver, team, series, track and car names) is
whitespace-flattened, markdown-escaped and mention-neutralised before it is placed, and is
clipped so that an escape is never cut in half.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

import discord
from discord.utils import escape_mentions

from ir2dis_cog.core.cards import (
    MISSING,
    DriverLine,
    EntryLine,
    FieldLine,
    RaceCard,
    card_marker,
    dropped_out,
    format_gain,
    format_gap,
    format_incidents,
    format_irating,
    format_lap,
    format_laps,
    format_number,
    format_position,
    format_safety,
    league_url,
    race_title,
    ratings_changed,
    results_url,
)

# Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_COUNT_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
TOTAL_LIMIT = 6000
AUTHOR_LIMIT = 256

# The unofficial race's description keeps this much room for the top of the order, so the
# tracked drivers' fields still fit in the embed's 6,000 characters.
FIELD_TEXT_LIMIT = 2000
CARS_TEXT_LIMIT = 300

# A name inside a field value is kept short so a field holds several drivers.
NAME_IN_VALUE_LIMIT = 96

COLOUR_WIN = discord.Colour.gold()
COLOUR_PODIUM = discord.Colour.green()
COLOUR_OTHER = discord.Colour.blurple()
COLOUR_NONE = discord.Colour.dark_grey()

ELLIPSIS = "…"


# --- safe text ---------------------------------------------------------------------------------


def _flatten(raw: str) -> str:
    """Control characters (newlines, tabs...) become spaces; runs of spaces become one."""
    spaced = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in raw)
    return " ".join(spaced.split())


# discord.py's escape_markdown also matches a whole masked link as one piece, greedily: with two
# links in one text, everything between them (bold, spoilers, a third link) was left live. So the
# same characters are escaped one by one here, ``[`` included, and no link is special.
_MARKDOWN = re.compile(r"(?P<markdown>[_\\~|*`\[]|^>(?:>>)?\s|^#{1,3}|^\s*-)", re.MULTILINE)


def _escape(text: str) -> str:
    return escape_mentions(_MARKDOWN.sub(lambda m: "\\" + m.group("markdown"), text))


def safe_text(raw: str, limit: int) -> str:
    """Outside text made inert for an embed and at most ``limit`` characters long.

    Clipping happens on the raw text, before escaping, so no escape is cut in half.
    """
    flat = _flatten(raw)
    text = _escape(flat)
    if len(text) <= limit:
        return text
    cut = min(len(flat), limit)
    while cut > 0:
        text = _escape(flat[:cut].rstrip())
        if len(text) + len(ELLIPSIS) <= limit:
            return text + ELLIPSIS
        cut -= 1
    return ELLIPSIS[:limit]


def _clip(text: str, limit: int) -> str:
    """Clip text we composed ourselves (already safe) at a line break when one is near."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    if "\n" in head:
        head = head[: head.rindex("\n")]
    return head + ELLIPSIS


# --- pieces ----------------------------------------------------------------------------------


def _description(card: RaceCard) -> str:
    when = f"<t:{card.start_epoch}:f> · {safe_text(card.start_local, 100)}"
    facts = [] if card.official is None else ["Official" if card.official else "Unofficial"]
    if card.kind == "official" or card.event_sof is not None:  # a hosted race seldom has one: no dash then
        facts.append(f"SOF {format_number(card.event_sof)}")
    if card.split_number is not None and card.num_splits > 0:
        facts.append(f"Split {card.split_number} of {card.num_splits}")
    facts.append(f"Field {card.field_size}")
    # Without a track's name the line is left out (a config alone says little).
    lines = [] if not card.track_name else [_track_line(card.track_name, card.track_config)]
    lines.append(when)
    if card.unofficial:
        lines += _unofficial_lines(card)
    lines.append(" · ".join(facts))
    if card.league_id is not None and card.kind == "league":
        lines.append(f"[League standings]({league_url(card.league_id)})")
    if card.field:
        lines += ["", _field_text(card)]
    return _clip("\n".join(lines), DESCRIPTION_LIMIT)


def _track_line(name: str, config: str | None) -> str:
    track = f"**{safe_text(name, 300)}**"
    return track + (f" · {safe_text(config, 300)}" if config else "")


def _title(card: RaceCard) -> str:
    """An unofficial race is known by its session's name; an official one by its series."""
    return safe_text(race_title(card.kind, card.series_name, card.session_name), TITLE_LIMIT)


def _author(card: RaceCard) -> str | None:
    """What kind of race it is, above the title: the league and its season, or "Hosted"."""
    if card.kind == "league":
        league = safe_text(card.league_name or "League race", 150)
        season = f" · {safe_text(card.league_season_name, 90)}" if card.league_season_name else ""
        return _clip(f"{league}{season}", AUTHOR_LIMIT)
    if card.kind == "hosted":
        return "Hosted session"
    return None


def _unofficial_lines(card: RaceCard) -> list[str]:
    lines = []
    if card.host_name:
        lines.append(f"Host: {safe_text(card.host_name, NAME_IN_VALUE_LIMIT)}")
    if card.cars:
        label = "Car" if len(card.cars) == 1 else "Cars"
        lines.append(_clip(f"{label}: " + ", ".join(safe_text(c, 120) for c in card.cars), CARS_TEXT_LIMIT))
    return lines


def _field_row(card: RaceCard, row: FieldLine, leader: bool) -> str:
    name = safe_text(row.name, NAME_IN_VALUE_LIMIT)
    parts = [f"`{format_position(row.finish_position):>3}` " + (f"**{name}**" if row.tracked else name)]
    car = row.class_name if card.multiclass else row.car_name
    if car:
        parts.append(safe_text(car, 64))
    if dropped_out(row.reason_out):
        parts.append(f"out: {safe_text(row.reason_out or '', 40) or MISSING}")
    else:
        parts.append(format_laps(row.laps_complete) if leader else format_gap(row.interval, row.laps_down))
    if row.champ_points is not None:
        parts.append(f"{row.champ_points} pts")
    return " · ".join(parts)


def _field_text(card: RaceCard) -> str:
    """The top of the order, as many rows as fit, then "…and N more" with the full results."""
    head = "**Top of the order**" if card.more_field else "**Results**"
    rows = [_field_row(card, row, i == 0) for i, row in enumerate(card.field)]
    text = head
    for i, row in enumerate(rows):
        left = len(rows) - i - 1 + card.more_field
        candidate = f"{text}\n{row}"
        if len(candidate) + (len(_field_more(left, card)) if left else 0) > FIELD_TEXT_LIMIT:
            return text + _field_more(len(rows) - i + card.more_field, card)
        text = candidate
    return text + (_field_more(card.more_field, card) if card.more_field else "")


def _field_more(count: int, card: RaceCard) -> str:
    return f"\n{ELLIPSIS}and {count} more: [full results]({results_url(card.subsession_id)})"


def _shown_position(card: RaceCard, entry: EntryLine) -> int | None:
    """The position that matters for the colour: in class when classes race together."""
    return entry.finish_position_in_class if card.multiclass else entry.finish_position


def _colour(card: RaceCard) -> discord.Colour:
    positions = [p for p in (_shown_position(card, e) for e in card.entries) if p is not None]
    if not positions:
        return COLOUR_NONE
    best = min(positions)
    if best == 1:
        return COLOUR_WIN
    if best <= 3:
        return COLOUR_PODIUM
    return COLOUR_OTHER


def _position_line(card: RaceCard, entry: EntryLine) -> str:
    if card.multiclass:
        klass = safe_text(entry.class_name, 64) if entry.class_name else "class"
        parts = [
            f"**{format_position(entry.finish_position_in_class)}** of {format_number(entry.class_size)} in {klass}",
            f"{format_position(entry.finish_position)} of {card.field_size} overall",
            f"started {format_position(entry.start_position_in_class)} in class",
            format_gain(entry.start_position_in_class, entry.finish_position_in_class),
        ]
    else:
        parts = [
            f"**{format_position(entry.finish_position)}** of {card.field_size}",
            f"started {format_position(entry.start_position)}",
            format_gain(entry.start_position, entry.finish_position),
        ]
    if not entry.finished_running:
        parts.append(f"out: {safe_text(entry.reason_out or '', 64) or MISSING}")
    return " · ".join(parts)


def _car_line(card: RaceCard, entry: EntryLine) -> str | None:
    """The car (and in a multiclass race its class's SOF); None when there is nothing to say."""
    parts = [safe_text(entry.car_name, 120)] if entry.car_name else []
    # The class itself is named in the position line already.
    if card.multiclass:
        parts.append(f"class SOF {format_number(entry.class_sof)}")
    return " · ".join(parts) or None


def _lap_stats(laps: int | None, led: int | None, incidents: int | None, best: float | None) -> str:
    return (
        f"Laps {format_number(laps)} (led {format_number(led)}) · Inc {format_incidents(incidents)}"
        f" · Best {format_lap(best)}"
    )


def _rating_line(driver: DriverLine) -> str:
    safety = format_safety(
        driver.old_license_level, driver.old_sub_level, driver.new_license_level, driver.new_sub_level
    )
    return (
        f"iRating {format_irating(driver.old_irating, driver.new_irating)} · SR {safety}"
        f" · Champ pts {format_number(driver.champ_points)}"
    )


def _unofficial_rating_line(driver: DriverLine) -> str | None:
    """An unofficial race changes no rating: the ratings only when the payload says they
    moved, and the league points where iRacing gives them."""
    parts = []
    if ratings_changed(driver):
        safety = format_safety(
            driver.old_license_level, driver.old_sub_level, driver.new_license_level, driver.new_sub_level
        )
        parts.append(f"iRating {format_irating(driver.old_irating, driver.new_irating)} · SR {safety}")
    if driver.champ_points is not None:
        parts.append(f"League pts {driver.champ_points}")
    return " · ".join(parts) or None


def _driver_block(driver: DriverLine, *, with_name: bool, official: bool = True) -> str:
    stats = _lap_stats(driver.laps_complete, driver.laps_led, driver.incidents, driver.best_lap_time)
    if with_name:
        stats = f"**{safe_text(driver.name, NAME_IN_VALUE_LIMIT)}**: {stats}"
    rating = _rating_line(driver) if official else _unofficial_rating_line(driver)
    return f"{stats}\n{rating}" if rating else stats


def _entry_field(card: RaceCard, entry: EntryLine) -> tuple[str, str]:
    car = _car_line(card, entry)
    head = [_position_line(card, entry), *([car] if car else [])]
    if entry.team is None:
        name = safe_text(entry.drivers[0].name if entry.drivers else MISSING, FIELD_NAME_LIMIT)
        blocks = [_driver_block(d, with_name=False, official=not card.unofficial) for d in entry.drivers]
    else:
        name = safe_text(entry.team.name, FIELD_NAME_LIMIT)
        team = entry.team
        head.append("Team: " + _lap_stats(team.laps_complete, team.laps_led, team.incidents, team.best_lap_time))
        blocks = [_driver_block(d, with_name=True, official=not card.unofficial) for d in entry.drivers]
    return name, _fit_blocks("\n".join(head), blocks)


def _more_line(count: int) -> str:
    return f"\n{ELLIPSIS}and {count} more"


def _fit_blocks(head: str, blocks: list[str]) -> str:
    """Head, then as many driver blocks as fit in one field value, then "…and N more"."""
    # Room for the "…and N more" line is kept from the start, so it always fits.
    value = _clip(head, FIELD_VALUE_LIMIT - len(_more_line(len(blocks))))
    for i, block in enumerate(blocks):
        later = len(blocks) - i - 1
        candidate = f"{value}\n{block}"
        if len(candidate) + (len(_more_line(later)) if later else 0) > FIELD_VALUE_LIMIT:
            return value + _more_line(len(blocks) - i)
        value = candidate
    return value


def _more_field(card: RaceCard, omitted_drivers: int) -> tuple[str, str]:
    noun = "driver" if omitted_drivers == 1 else "drivers"
    return (
        f"{ELLIPSIS}and {omitted_drivers} more",
        f"{omitted_drivers} more tracked {noun} in this race: [full results]({results_url(card.subsession_id)})",
    )


def _choose_fields(card: RaceCard, fields: list[tuple[str, str]], used: int) -> list[tuple[str, str]]:
    """As many entry fields as Discord allows, plus one "…and N more" field for the rest."""
    for shown in range(min(len(fields), FIELD_COUNT_LIMIT), -1, -1):
        # Drivers the card only counted, plus those of the entries left out here.
        omitted = card.more_drivers + sum(len(e.drivers) for e in card.entries[shown:])
        extra: list[tuple[str, str]] = []
        if omitted:
            if shown >= FIELD_COUNT_LIMIT:
                continue
            extra = [_more_field(card, omitted)]
        chosen = fields[:shown] + extra
        if used + sum(len(n) + len(v) for n, v in chosen) <= TOTAL_LIMIT:
            return chosen
    return []


# --- the embed -------------------------------------------------------------------------------


def image_filename(subsession_id: int) -> str:
    """The attachment's name; the embed points at it with ``attachment://``."""
    return f"ir2dis-{subsession_id}.png"


def card_to_embed(card: RaceCard, *, with_image: bool = False) -> discord.Embed:
    """The result message for one race and one server; ``with_image`` shows the attached picture
    inside the embed (the embed's text stays: notifications, search and screen readers use it)."""
    embed = discord.Embed(
        title=_title(card),
        url=results_url(card.subsession_id),
        description=_description(card),
        colour=_colour(card),
        timestamp=datetime.fromtimestamp(card.start_epoch, UTC),
    )
    footer = card_marker(card.subsession_id)
    embed.set_footer(text=footer)
    author = _author(card)
    if author:
        embed.set_author(name=author)
    if with_image:
        embed.set_image(url=f"attachment://{image_filename(card.subsession_id)}")
    if not card.entries:
        if not card.field:  # a followed league's race shows its field instead
            embed.add_field(name="No tracked driver", value="None of this server's drivers ran in this race.")
        return embed
    used = len(embed.title or "") + len(embed.description or "") + len(footer) + len(author or "")
    fields = [_entry_field(card, e) for e in card.entries]
    for name, value in _choose_fields(card, fields, used):
        embed.add_field(name=name, value=value, inline=False)
    return embed
