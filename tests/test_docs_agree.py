"""The README, `.env.example`, the settings loader, the command tree and the metrics name the same things.

Each setting the loader reads is in the README's settings table and in `.env.example`, and each one
named there is read; each command of the synced `/iracing` tree and each `[p]iracingset`
subcommand is in the README's tables, and each one named there exists; each metric (with its
labels) is in the README's metrics table, and each one named there exists. All of it is read from
the code's own objects (the cog's command objects, without a Discord connection; a fresh metrics
registry), so a name added in one place and not the others fails here.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from discord import app_commands

from ir2dis_cog.config.settings import SETTING_NAMES, load_settings
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.red.cog import IRacingCog

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (REPO / ".env.example").read_text(encoding="utf-8")
COMPOSE = (REPO / "docker-compose.yml").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README's text under the heading ``## title``, up to the next heading of that level."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, flags=re.M | re.S)
    assert found, f"README has no '## {title}' section"
    return found.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of the Markdown tables in ``text`` (``\\|`` stays inside a cell)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows[1:] if rows else rows  # the first row of a table is its heading


def code_spans(text: str) -> list[str]:
    return [span.replace("\\|", "|") for span in re.findall(r"`([^`]+)`", text)]


# ----- settings --------------------------------------------------------------------------------


def readme_settings() -> set[str]:
    names = set()
    for row in table_rows(section("Settings")):
        names.update(span for span in code_spans(row[0]) if re.fullmatch(r"[A-Z][A-Z0-9_]+", span))
    return names


def env_example_keys() -> set[str]:
    """Every KEY= line of .env.example, set or shown commented out (``# KEY=value``)."""
    return set(re.findall(r"^(?:# ?)?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, flags=re.M))


def test_every_setting_is_in_the_readme_table_and_every_row_is_a_setting() -> None:
    assert readme_settings() == set(SETTING_NAMES)


def test_every_setting_is_in_env_example_and_every_other_key_is_compose_s() -> None:
    keys = env_example_keys()
    assert set(SETTING_NAMES) - keys == set()
    compose_variables = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", COMPOSE))
    assert keys - set(SETTING_NAMES) - compose_variables == set()


def test_env_example_works_without_docker() -> None:
    # Paths of the image (/data) belong to the image and the compose file, which set their own.
    set_lines = [line for line in ENV_EXAMPLE.splitlines() if re.match(r"[A-Z][A-Z0-9_]*=", line)]
    assert not [line for line in set_lines if "=/" in line or line.startswith(("DATA_DIR=", "HEALTH_HOST="))]
    assert "DATA_DIR: /data" in COMPOSE and "HEALTH_HOST: 0.0.0.0" in COMPOSE


def test_compose_gives_up_on_a_bad_configuration_as_the_readme_says() -> None:
    bot = COMPOSE.split("\n  postgres:", 1)[0]
    limit = re.search(r"^    restart: on-failure:(\d+)$", bot, flags=re.M)
    assert limit, "the bot service must restart on failure with a limit, not forever"
    assert f"`restart: on-failure:{limit.group(1)}`" in section("What the standalone launcher does")


# ----- commands --------------------------------------------------------------------------------


def synced_commands() -> set[str]:
    """The leaves of the /iracing tree as Red syncs it, e.g. ``iracing filter sof``."""
    group = IRacingCog.iracing.app_command
    assert isinstance(group, app_commands.Group)
    return {c.qualified_name for c in group.walk_commands() if not isinstance(c, app_commands.Group)}


def readme_commands(text: str, root: app_commands.Group) -> set[str]:
    """The commands each ``/iracing ...`` span names, read along the tree: ``link confirm|remove
    <member>`` is two; a word after a command is its argument; an unknown subcommand is kept
    (``iracing nosuch``) so that the comparison names it."""
    found = set()
    for span in code_spans(text):
        words = span.split()
        if not words or words[0] != "/" + root.name:
            continue
        level: list[app_commands.Group | app_commands.Command] = [root]  # type: ignore[type-arg]
        for word in words[1:]:
            groups = [g for g in level if isinstance(g, app_commands.Group)]
            if not groups or word.startswith(("<", "[")):
                break
            choices = word.split("|")
            children = [c for g in groups for c in g.commands if c.name in choices]
            if not children:
                found.update(f"{g.qualified_name} {word}" for g in groups)
                level = []
                break
            level = children
        found.update(c.qualified_name for c in level if not isinstance(c, app_commands.Group))
        found.update(f"{g.qualified_name} (a group alone)" for g in level if isinstance(g, app_commands.Group))
    return found


def test_every_synced_command_is_in_the_readme_table_and_every_one_named_exists() -> None:
    group = IRacingCog.iracing.app_command
    table = "\n".join(" ".join(row) for row in table_rows(section("Commands")))
    assert readme_commands(table, group) == synced_commands()
    # The rest of the README names only commands that exist.
    assert readme_commands(README, group) <= synced_commands()


def test_every_owner_subcommand_is_in_the_owner_table_and_every_one_named_exists() -> None:
    owner = {c.name for c in IRacingCog.iracingset.commands}
    rows = table_rows(section("In a Red bot you already run"))
    named = {
        m.group(1) for row in rows for span in code_spans(row[0]) if (m := re.match(r"\[p\]iracingset (\w+)", span))
    }
    assert named == owner
    elsewhere = set(re.findall(r"\[p\]iracingset (\w+)", README))
    assert elsewhere <= owner


# ----- metrics ---------------------------------------------------------------------------------


def code_metrics() -> dict[str, tuple[str, ...]]:
    """Each metric's exposed name (counters with ``_total``) and its label names."""
    metrics = Metrics()
    found = {}
    for family in metrics.registry.collect():
        name = f"{family.name}_total" if family.type == "counter" else family.name
        found[name] = ()
    for value in vars(metrics).values():
        labels = getattr(value, "_labelnames", None)  # prometheus-client keeps them only there
        if labels:
            name = value._name + ("_total" if value._type == "counter" else "")
            found[name] = tuple(labels)
    return found


def readme_metrics() -> dict[str, str]:
    """Each metric row of the README's metrics table: name -> the whole row."""
    rows = table_rows(section("Health and metrics"))
    found = {}
    for row in rows:
        spans = code_spans(row[0])
        if spans and spans[0].startswith("ir2dis_"):
            found[spans[0].split("{", 1)[0]] = " ".join(row)
    return found


def test_every_metric_is_in_the_readme_table_and_every_row_is_a_metric() -> None:
    assert set(readme_metrics()) == set(code_metrics())


@pytest.mark.parametrize("name", sorted(n for n, labels in code_metrics().items() if labels))
def test_each_metric_row_names_its_labels(name: str) -> None:
    row = readme_metrics().get(name, "")
    for label in code_metrics()[name]:
        assert re.search(rf"[{{,`]{label}[}},`]", row), f"{name}: the README's row does not name its label {label!r}"


def test_env_example_sourced_by_a_shell_loads_once_the_required_values_are_filled(tmp_path: Path) -> None:
    # The README's way without Docker: `set -a; . ./.env; set +a`, in a shell with nothing else set.
    shown = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; set +a; env -0', "bash", str(REPO / ".env.example")],
        env={},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    environ = dict(item.split("=", 1) for item in shown.split("\0") if "=" in item)
    required = {
        "DISCORD_TOKEN": "t",
        "IRACING_EMAIL": "e@example.com",
        "IRACING_PASSWORD": "p",
        "IRACING_CLIENT_ID": "c",
        "IRACING_CLIENT_SECRET": "s",
    }
    assert {key: environ.get(key) for key in required} == dict.fromkeys(required, "")
    settings = load_settings({**environ, **required}, data_dir=tmp_path)
    assert (settings.health_host, settings.data_dir) == ("127.0.0.1", tmp_path)
