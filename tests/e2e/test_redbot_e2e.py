"""The real `redbot` process against the fake Discord: login, prefix and slash commands,
rate limits, SIGKILL and restart. The probe cog stands in for a real cog."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.e2e.redbot_harness import E2E_DIR, RedHarness, RedProcess
from tests.fakes.discord import CB_AUTOCOMPLETE, CB_DEFERRED, CB_MESSAGE, FakeDiscordRemote

pytestmark = pytest.mark.e2e


async def test_red_logs_in_and_answers_a_prefix_command(red_harness: RedHarness) -> None:
    h = red_harness
    await h.start()  # returns once `!ping` was answered: on_ready has run

    paths = [(r.method, r.path) for r in h.fake.requests()]
    assert paths[:3] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me"), ("GET", "/gateway/bot")]
    assert h.fake.gateway_status()["identify_count"] == 1

    reply = await h.command("!ping")
    assert reply.message is not None
    assert reply.message.content == "Pong."
    assert reply.message.channel_id == h.commands_channel_id
    # Red answered through the real REST route, authenticated with the token.
    sends = [r for r in h.fake.requests() if r.method == "POST" and r.path.endswith("/messages")]
    assert sends and all(r.status == 200 for r in sends)
    assert "No packages were loaded." in h.proc.log_text()  # nothing asked to load


async def test_probe_cog_slash_commands_are_synced_and_answered(red_harness: RedHarness) -> None:
    h = red_harness
    await h.start()
    await h.load("probe_cog")  # the first boot loaded nothing; the owner loads it
    await h.enable_slash("probe")

    sync = h.fake.command_syncs()[-1]
    assert sync.guild_id is None and "probe" in sync.names
    probe = next(c for c in h.fake.commands() if c["name"] == "probe")
    assert {o["name"] for o in probe["options"]} == {"echo", "later", "secret", "where"}

    echo = await h.slash("probe", "echo", {"text": "hello", "times": 2})
    assert echo.callback_type == CB_MESSAGE
    assert echo.content == "echo: hello"
    assert echo.embeds[0]["description"] == "hello hello"
    assert not echo.ephemeral
    # A non-ephemeral interaction answer is a message in the channel, like any other.
    assert any(m.id == echo.message_id for m in h.fake.messages(h.commands_channel_id))

    assert [c["value"] for c in await h.autocomplete("probe", "echo", {"text": "g"}, focused="text")] == ["gamma"]
    assert h.fake.interaction(max(h.fake.state.interactions))["callbacks"][0]["type"] == CB_AUTOCOMPLETE

    later = await h.slash("probe", "later")
    assert later.callback_type == CB_DEFERRED
    assert later.content == "later: done"

    secret = await h.slash("probe", "secret")
    assert secret.ephemeral
    assert secret.content == "secret: only you"
    assert all(m.id != secret.message_id for m in h.fake.messages(h.commands_channel_id))

    results = h.fake.add_channel(h.guild_id, "results")
    h.fake.set_bot_permissions(results, deny=["send_messages"])
    denied = await h.slash("probe", "where", {"channel": results})
    assert denied.content == f"cannot post in <#{results}>"
    assert h.fake.messages(results) == []
    assert any(r.status == 403 and r.path == f"/channels/{results}/messages" for r in h.fake.requests())

    h.fake.set_bot_permissions(results, allow=["send_messages"])
    allowed = await h.slash("probe", "where", {"channel": results})
    assert allowed.content == f"posted in <#{results}>"
    assert [m.content for m in h.fake.messages(results)] == [f"probe was asked by {h.fake.owner_id}"]


async def test_rate_limit_and_server_errors_are_retried_as_discord_asks(red_harness: RedHarness) -> None:
    h = red_harness
    await h.start()
    route = f"/channels/{h.commands_channel_id}/messages"

    h.fake.inject_fault("POST", route, 429, retry_after=1.5)
    reply = await h.command("!ping")
    assert reply.message is not None and reply.message.content == "Pong."
    posts = [r for r in h.fake.requests() if r.method == "POST" and r.path == route]
    limited, retried = posts[-2], posts[-1]
    assert (limited.status, limited.fault) == (429, True)
    assert retried.status == 200
    # discord.py slept for retry_after before the retry (small margin for clock granularity).
    assert retried.at - limited.at >= 1.4

    h.fake.inject_fault("POST", route, 502)
    reply = await h.command("!ping")
    assert reply.message is not None and reply.message.content == "Pong."
    statuses = [r.status for r in h.fake.requests() if r.method == "POST" and r.path == route]
    assert statuses[-2:] == [502, 200]


async def test_gateway_drop_resumes_and_sigkill_restart_reconnects(red_harness: RedHarness) -> None:
    h = red_harness
    h.proc.load_cogs = ("probe_cog",)
    await h.start()
    first = await h.command("!probe echo before")
    assert first.message is not None and first.message.content == "echo: before"

    # The websocket drops while the bot lives: discord.py resumes the same session, and a
    # command sent meanwhile is replayed to it.
    await h.fake.disconnect_gateway()
    resumed = await h.command("!probe echo resumed")
    assert resumed.message is not None and resumed.message.content == "echo: resumed"
    assert h.fake.gateway_status()["identify_count"] == 1  # a RESUME, not a new IDENTIFY

    await h.kill()
    assert h.proc.returncode == -signal.SIGKILL
    await h.start()  # same instance, same fake: the cog comes back from Red's own settings
    assert h.fake.gateway_status()["identify_count"] == 2
    again = await h.command("!probe echo after")
    assert again.message is not None and again.message.content == "echo: after"
    # The fake kept every message across the restart.
    contents = [m.content for m in h.fake.messages(h.commands_channel_id)]
    assert [c for c in contents if c.startswith("echo:")] == ["echo: before", "echo: resumed", "echo: after"]


async def test_fake_as_a_separate_process_serves_red(red_harness: RedHarness) -> None:
    """`python -m tests.fakes.discord` with its /_fake control routes, Red against it."""
    import asyncio

    fake_proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.discord",
        "--port",
        "0",
        "--guilds",
        "1",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert fake_proc.stdout is not None
        where = json.loads(await asyncio.wait_for(fake_proc.stdout.readline(), 60))
        async with FakeDiscordRemote(where["url"]) as remote:
            info = await remote.info()
            assert red_harness.instance is not None
            bot = RedProcess(
                instance=red_harness.instance,
                api_base=remote.api_base,
                token="fake-bot-token",
                owner_id=info["owner_id"],
            )
            red_harness.process = bot  # so a failure prints this process's output
            await bot.start()
            try:
                await bot.guard(remote.wait_for_identify(1), "IDENTIFY")
                guild = (await remote.gateway_status())["connected"]
                assert guild
                channel = await remote.add_channel(await remote.add_guild(name="second"), "cmds")
                mid = await remote.send_message(channel, "!ping")
                pong = await bot.guard(
                    remote.wait_for_message(channel, lambda m: m.content == "Pong.", after=mid), "Pong"
                )
                assert pong.author_id == info["bot_id"]
            finally:
                await bot.kill()
    finally:
        fake_proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(fake_proc.wait(), 30)


def _git_repo_with_probe(root: Path) -> Path:
    """A Red cog repository (probe_cog at its root, repo info.json) committed to a local git repo."""
    repo = root / "cogrepo"
    shutil.copytree(E2E_DIR / "probe_cog", repo / "probe_cog", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "info.json").write_text(
        json.dumps(
            {
                "author": ["ir2dis"],
                "description": "probe repo",
                "install_msg": "thanks",
                "short": "probe",
            }
        )
    )
    (repo / "probe_cog" / "info.json").write_text(
        json.dumps(
            {
                "author": ["ir2dis"],
                "name": "probe_cog",
                "short": "probe",
                "description": "probe",
                "end_user_data_statement": "This cog stores no data.",
                "requirements": [],
                "type": "COG",
                "min_python_version": [3, 11, 0],
            }
        )
    )
    git = ["git", "-c", "user.name=ir2dis", "-c", "user.email=ir2dis@example.invalid", "-C", str(repo)]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "probe"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return repo


async def test_downloader_installs_a_cog_from_a_local_git_repo(
    make_red_harness: Callable[..., Awaitable[RedHarness]], tmp_path: Path
) -> None:
    h = await make_red_harness()  # no cog path: the cog can only come from the repo
    repo = _git_repo_with_probe(tmp_path)
    await h.start()
    missing = await h.command("!load probe_cog")
    assert "not found" in missing.text

    await h.install_from_repo("probes", str(repo), "probe_cog")
    reply = await h.command("!probe echo installed")
    assert reply.message is not None and reply.message.content == "echo: installed"
    assert h.instance is not None
    assert (h.instance.data_path / "cogs" / "CogManager" / "cogs" / "probe_cog" / "probe.py").is_file()
