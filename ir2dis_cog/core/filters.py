"""Which races a server wants: licence categories, a minimum SOF, series in or out. Pure.

iRacing split "road" (category 2) into sports car (5) and formula car (6) in 2024. An older road
race carries 2 and cannot be told apart, so it counts as both: a server that wants either sports
car or formula car races gets it, and only a server that wants neither leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass

# The names a server uses, in the order they are shown.
CATEGORIES = ("oval", "sports_car", "formula_car", "dirt_oval", "dirt_road")
CATEGORY_LABELS = {
    "oval": "Oval",
    "sports_car": "Sports car",
    "formula_car": "Formula car",
    "dirt_oval": "Dirt oval",
    "dirt_road": "Dirt road",
}
_BY_ID: dict[int, tuple[str, ...]] = {
    1: ("oval",),
    2: ("sports_car", "formula_car"),  # the old "road": both of its successors
    3: ("dirt_oval",),
    4: ("dirt_road",),
    5: ("sports_car",),
    6: ("formula_car",),
}
# The older name-only form (``license_category`` without an id), as results/get spells it.
_BY_NAME = {"oval": 1, "road": 2, "dirt_oval": 3, "dirt_road": 4, "sports_car": 5, "formula_car": 6}
_ALIASES = {
    "sports": "sports_car",
    "sportscar": "sports_car",
    "sports_car": "sports_car",
    "formula": "formula_car",
    "formulacar": "formula_car",
    "formula_car": "formula_car",
    "oval": "oval",
    "dirt_oval": "dirt_oval",
    "dirtoval": "dirt_oval",
    "dirt_road": "dirt_road",
    "dirtroad": "dirt_road",
}
MAX_SOF = 20_000  # above any field iRacing has seen; a larger number is a typo
MAX_SERIES = 25  # per list: more than an autocomplete can show


class ChoiceError(ValueError):
    """A setting that cannot be used; the message is one short sentence for the server's admins."""


def categories_of(category_id: int | None, category_name: str | None = None) -> tuple[str, ...]:
    """The categories a race counts for (empty when iRacing did not say)."""
    if category_id is None and category_name:
        category_id = _BY_NAME.get(category_name.strip().casefold().replace(" ", "_"))
    return _BY_ID.get(category_id or 0, ())


def parse_categories(text: str) -> frozenset[str]:
    """``"oval, formula"`` -> the categories; ``all`` (or nothing) means every one."""
    words = [w for w in text.replace(",", " ").replace("/", " ").split() if w]
    if not words or [w.casefold() for w in words] == ["all"]:
        return frozenset()
    chosen: set[str] = set()
    for word in words:
        key = _ALIASES.get(word.casefold().replace("-", "_"))
        if key is None:
            raise ChoiceError(
                f"I don't know the category {word[:30]!r}. Use {', '.join(CATEGORIES)} or all (several with commas)."
            )
        chosen.add(key)
    return frozenset(chosen)


def parse_category(text: str) -> str:
    key = _ALIASES.get(text.strip().casefold().replace("-", "_").replace(" ", "_"))
    if key is None:
        raise ChoiceError(f"I don't know that category. Use one of {', '.join(CATEGORIES)}.")
    return key


def parse_min_sof(text: str | int) -> int:
    """A whole number from 0 (no minimum) to ``MAX_SOF``."""
    raw = str(text).strip()
    if not raw.isdigit():
        raise ChoiceError(f"The minimum SOF is a whole number from 0 (none) to {MAX_SOF}.")
    value = int(raw)
    if value > MAX_SOF:
        raise ChoiceError(f"The minimum SOF is a whole number from 0 (none) to {MAX_SOF}.")
    return value


@dataclass(frozen=True)
class RaceFacts:
    """What the filters and routes look at, from the race's results."""

    subsession_id: int
    category_id: int | None
    category_name: str | None
    sof: int | None
    series_id: int | None
    series_name: str | None

    @property
    def categories(self) -> tuple[str, ...]:
        return categories_of(self.category_id, self.category_name)


@dataclass(frozen=True)
class Filters:
    """A server's filters; empty sets mean "no limit"."""

    categories: frozenset[str] = frozenset()
    min_sof: int = 0
    series_in: frozenset[int] = frozenset()
    series_out: frozenset[int] = frozenset()

    @property
    def is_open(self) -> bool:
        return not (self.categories or self.min_sof or self.series_in or self.series_out)


def filtered_out(race: RaceFacts, filters: Filters) -> str | None:
    """Why this server does not want the race, or None when it does."""
    if filters.categories:
        cats = race.categories
        # A race of unknown category is posted: leaving it out would hide races for a gap in the data.
        if cats and not filters.categories.intersection(cats):
            shown = "/".join(CATEGORY_LABELS[c] for c in cats)
            return f"filtered out: category {shown} not chosen"
    if filters.min_sof and (race.sof is None or race.sof < filters.min_sof):
        return f"filtered out: SOF {race.sof if race.sof is not None else 'unknown'} below {filters.min_sof}"
    if race.series_id is not None:
        if filters.series_in and race.series_id not in filters.series_in:
            return f"filtered out: series {race.series_id} not in the chosen series"
        if race.series_id in filters.series_out:
            return f"filtered out: series {race.series_id} excluded"
    elif filters.series_in:
        return "filtered out: series unknown, and only chosen series are posted"
    return None
