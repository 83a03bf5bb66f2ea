"""Runs the real `redbot` process against the fake Discord, the way a person would drive it.

- `create_instance(root)`: `redbot-setup --no-prompt ... --backend json` into `root`, with
  XDG_CONFIG_HOME inside `root` (the user's own Red config is never touched), and the
  first-boot pitfall defused (see `seed_system_info`).
- `RedProcess`: start / SIGKILL / stop one `redbot` process; its output goes to one log file
  (appended across restarts), which a failing e2e test prints.
- `RedHarness`: a fake Discord + a Red process + the owner, in one guild with a commands
  channel: `start()` waits until Red answers, `command("!load x")` sends a prefix command
  and returns the answer, `slash(...)` sends an interaction and returns the reply,
  `enable_slash(...)` enables and syncs app commands, `kill()` + `start()` restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.fakes.discord import FakeDiscord, InteractionReply, Message

T = TypeVar("T")

E2E_DIR = Path(__file__).resolve().parent
LAUNCHER = E2E_DIR / "red_launcher.py"
VENV_BIN = Path(sys.executable).parent


async def poll_until(check: Callable[[], object], timeout: float, what: str) -> object:  # noqa: ASYNC109
    """Polls `check` until it returns something truthy (for state the fakes do not signal: files, logs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if result := check():
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


class BotDiedError(AssertionError):
    """The redbot process ended while a test waited for it."""


@dataclass(frozen=True)
class RedInstance:
    """A Red instance living entirely inside `root`."""

    name: str
    root: Path
    data_path: Path
    config_home: Path

    def env(self) -> dict[str, str]:
        """The environment every Red command for this instance needs."""
        return {"XDG_CONFIG_HOME": str(self.config_home)}

    @property
    def log_path(self) -> Path:
        return self.root / "redbot.log"

    @property
    def red_log_path(self) -> Path:
        """Red's own rotating log (with tracebacks at full length)."""
        return self.data_path / "core" / "logs" / "latest.log"


def seed_system_info(data_path: Path) -> None:
    """Records this Python and machine as "last seen", so the first boot loads its cogs.

    A new instance remembers Python 3.7; Red then thinks Python changed and skips every
    package, `--load-cogs` included ("No packages were loaded."). Red's JSON backend keeps
    core settings in `core/settings.json` under identifier "0", scope "GLOBAL".
    """
    path = data_path / "core" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    info = data.setdefault("0", {}).setdefault("GLOBAL", {}).setdefault("last_system_info", {})
    info.update(python_version=list(sys.version_info[:2]), machine=platform.machine(), system=platform.system())
    path.write_text(json.dumps(data))


def create_instance(root: Path, name: str = "ir2dis_e2e") -> RedInstance:
    """`redbot-setup --no-prompt` into `root` (JSON backend), then the first-boot seed."""
    inst = RedInstance(name=name, root=root, data_path=root / "data", config_home=root / "config")
    inst.config_home.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(VENV_BIN / "redbot-setup"),
        "--no-prompt",
        "--instance-name",
        name,
        "--data-path",
        str(inst.data_path),
        "--backend",
        "json",
        "--overwrite-existing-instance",
    ]
    done = subprocess.run(
        cmd, env={**os.environ, **inst.env()}, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"redbot-setup failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    seed_system_info(inst.data_path)
    return inst


@dataclass
class RedProcess:
    """One `redbot` process for an instance, pointed at a Discord API base."""

    instance: RedInstance
    api_base: str
    token: str
    owner_id: int
    prefix: str = "!"
    cog_paths: tuple[Path, ...] = ()
    load_cogs: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    offline: bool = True  # no PyPI version check
    starts: int = 0
    _proc: asyncio.subprocess.Process | None = None

    def command_line(self) -> list[str]:
        # -P: the repository root stays off sys.path; cogs come from cog paths only.
        args = [
            sys.executable,
            "-P",
            str(LAUNCHER),
            self.instance.name,
            "--no-prompt",
            "--prefix",
            self.prefix,
            "--owner",
            str(self.owner_id),
        ]
        for path in self.cog_paths:
            args += ["--cog-path", str(path)]
        if self.load_cogs:
            args += ["--load-cogs", *self.load_cogs]
        return [*args, *self.extra_args]

    def process_env(self) -> dict[str, str]:
        env = {
            **os.environ,
            **self.instance.env(),
            "DISCORD_API_BASE": self.api_base,
            "RED_TOKEN": self.token,
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "COLUMNS": "160",
            **self.env,
        }
        if self.offline:
            env["RED_E2E_OFFLINE"] = "1"
        env.pop("PYTHONPATH", None)
        return env

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self) -> None:
        if self.running:
            raise RuntimeError("redbot is already running")
        self.starts += 1
        with self.instance.log_path.open("ab") as log:
            log.write(f"\n===== redbot start {self.starts} at {time.strftime('%H:%M:%S')} =====\n".encode())
            # The token goes by environment (RED_TOKEN), never on the command line.
            self._proc = await asyncio.create_subprocess_exec(
                *self.command_line(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.process_env(),
                cwd=str(self.instance.root),
                start_new_session=True,
            )

    async def kill(self) -> int:
        """SIGKILL: no cleanup at all, as a crash or an OOM kill would be."""
        return await self._signal(signal.SIGKILL, 30.0)

    async def stop(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """SIGTERM (Red shuts down gracefully), SIGKILL if it does not end within `timeout`."""
        try:
            return await self._signal(signal.SIGTERM, timeout)
        except TimeoutError:
            return await self.kill()

    async def _signal(self, sig: int, timeout: float) -> int:  # noqa: ASYNC109
        proc = self._proc
        if proc is None:
            return 0
        if proc.returncode is None:
            if sig == signal.SIGKILL:
                # Its own session (start_new_session): also ends a git or pip it was running.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        return await asyncio.wait_for(proc.wait(), timeout)

    @property
    def returncode(self) -> int | None:
        """None while running (or never started); -9 after `kill()`."""
        return self._proc.returncode if self._proc else None

    async def wait_exit(self) -> int:
        assert self._proc is not None
        return await self._proc.wait()

    def log_text(self) -> str:
        path = self.instance.log_path
        return path.read_text(errors="replace") if path.exists() else "(no redbot output)"

    def log_tail(self, lines: int = 150) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    async def guard(self, awaitable: Awaitable[T], what: str) -> T:
        """Awaits `awaitable`, but fails at once (with the log) if redbot exits meanwhile."""
        task = asyncio.ensure_future(awaitable)
        if self._proc is None:
            return await task
        died = asyncio.ensure_future(self._proc.wait())
        try:
            done, _ = await asyncio.wait({task, died}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            died.cancel()
        if task in done:
            return task.result()
        task.cancel()
        raise BotDiedError(f"redbot exited with {self._proc.returncode} while waiting for {what}\n{self.log_tail()}")


@dataclass(frozen=True)
class Reply:
    """What the bot did in answer to a prefix command: its first message and/or reactions."""

    command_id: int
    message: Message | None
    reactions: tuple[str, ...]

    @property
    def text(self) -> str:
        return self.message.text() if self.message else ""


class RedHarness:
    """A fake Discord with one guild, the owner and a `#bot-commands` channel, and Red against it."""

    def __init__(
        self,
        root: Path,
        *,
        cog_paths: Iterable[Path] = (),
        load_cogs: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        prefix: str = "!",
        fake: FakeDiscord | None = None,
    ) -> None:
        self.root = root
        self.fake = fake or FakeDiscord()
        self._own_fake = fake is None
        self.prefix = prefix
        self._cog_paths = tuple(cog_paths)
        self._load_cogs = tuple(load_cogs)
        self._env = dict(env or {})
        self.instance: RedInstance | None = None
        self.process: RedProcess | None = None
        self.guild_id = 0
        self.commands_channel_id = 0

    async def __aenter__(self) -> RedHarness:
        await self.prepare()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def prepare(self) -> None:
        """Starts the fake, builds the guild, sets up the Red instance (does not start Red)."""
        if self._own_fake:
            await self.fake.start()
        if not self.guild_id:
            self.guild_id = self.fake.add_guild(name="ir2dis e2e")
            self.commands_channel_id = self.fake.add_channel(self.guild_id, "bot-commands")
        self.instance = await asyncio.to_thread(create_instance, self.root)
        self.process = RedProcess(
            instance=self.instance,
            api_base=self.fake.api_base,
            token=self.fake.token,
            owner_id=self.fake.owner_id,
            prefix=self.prefix,
            cog_paths=self._cog_paths,
            load_cogs=self._load_cogs,
            env=self._env,
        )

    async def close(self) -> None:
        if self.process is not None and self.process.running:
            await self.process.kill()
        if self._own_fake:
            await self.fake.stop()

    @property
    def proc(self) -> RedProcess:
        assert self.process is not None, "call prepare() first"
        return self.process

    async def start(self, timeout: float = 120.0) -> None:  # noqa: ASYNC109
        """Starts Red and returns once it answers a prefix command (so `on_ready` has run)."""
        identified = self.fake.state.identify_count
        await self.proc.start()
        await self.proc.guard(self.fake.wait_for_identify(identified + 1, timeout), "the gateway IDENTIFY")
        # Red runs commands only once on_ready has finished (its before-invoke hook waits for it).
        await self.command(f"{self.prefix}ping", expect=lambda m: m.content == "Pong.", timeout=timeout)

    async def kill(self) -> None:
        await self.proc.kill()
        # The fake notices the dropped websocket; wait so a restart is a fresh IDENTIFY.
        await self.fake.wait_until(lambda: not self.fake.hub.connected, 30, "the gateway to drop")

    async def restart(self, timeout: float = 120.0) -> None:  # noqa: ASYNC109
        """SIGKILL, then start again: same instance, same fake state."""
        await self.kill()
        await self.start(timeout)

    # -- the owner talking to the bot --------------------------------------------------------
    def say(self, text: str, *, channel_id: int | None = None, author_id: int | None = None) -> int:
        """Writes a message (no waiting); returns its id."""
        return self.fake.send_message(channel_id or self.commands_channel_id, text, author_id=author_id)

    async def command(
        self,
        text: str,
        *,
        expect: Callable[[Message], bool] | None = None,
        channel_id: int | None = None,
        author_id: int | None = None,
        timeout: float = 60.0,  # noqa: ASYNC109
    ) -> Reply:
        """Sends `text` (e.g. "!load probe_cog") and returns the bot's answer in that channel.

        The answer is the first bot message after the command that satisfies `expect`; without
        `expect`, any bot message or a reaction on the command (Red's ✅ tick). Pass `expect`
        when an earlier command may still be talking (Red sends some answers in several messages).
        """
        cid = channel_id or self.commands_channel_id
        mid = self.say(text, channel_id=cid, author_id=author_id)

        def answered() -> Reply | None:
            msg = next(
                (
                    m
                    for m in self.fake.messages(cid)
                    if m.id > mid and m.author_id == self.fake.bot_id and (expect is None or expect(m))
                ),
                None,
            )
            ticks = self.fake.message(mid).reactions if expect is None else ()
            return Reply(mid, msg, ticks) if msg or ticks else None

        return await self.proc.guard(
            self.fake.wait_until(answered, timeout, f"an answer to {text!r}"), f"an answer to {text!r}"
        )

    async def answer_prompt(
        self,
        text: str,
        *,
        expect: Callable[[Message], bool] | None = None,
        pause: float = 1.0,
        timeout: float = 60.0,  # noqa: ASYNC109
    ) -> Reply:
        """Answers a question the bot just asked (Red's `bot.wait_for("message")`).

        Red starts listening only after its question's POST has returned; an answer sent at once
        can arrive before that and be ignored. Nothing observable marks the moment, so the answer
        waits `pause` seconds, as a person would.
        """
        await asyncio.sleep(pause)
        return await self.command(text, expect=expect, timeout=timeout)

    async def load(self, *packages: str) -> Reply:
        """`[p]load ...`; fails with Red's answer and log unless every package loaded."""
        # Only Red's answers to `load`: a cog's install message (sent after `cog install`) may
        # arrive meanwhile and mention loading too.
        answers = ("Loaded ", "The following package", "Failed to load")
        reply = await self.command(
            f"{self.prefix}load {' '.join(packages)}", expect=lambda m: m.text().startswith(answers)
        )
        if not reply.text.startswith("Loaded") or "fail" in reply.text.lower():
            raise AssertionError(f"load {packages} failed:\n{reply.text}\n{self.proc.log_tail()}")
        return reply

    async def enable_slash(self, *names: str, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """`[p]slash enable NAME` for each, then `[p]slash sync`; returns once the PUT reached the fake."""
        for name in names:
            reply = await self.command(f"{self.prefix}slash enable {name}")
            if "nabled" not in reply.text:
                raise AssertionError(f"slash enable {name}: {reply.text}")
        syncs = len(self.fake.command_syncs())
        await self.command(f"{self.prefix}slash sync", timeout=timeout)
        await self.proc.guard(self.fake.wait_for_command_sync(syncs + 1, timeout), "the command sync")

    async def install_from_repo(self, repo_name: str, url: str, *cogs: str) -> None:
        """`[p]load downloader`, `[p]repo add` (answering Red's 'I agree'), `[p]cog install`, `[p]load`."""
        p = self.prefix
        await self.load("downloader")
        added_or_prompt = lambda m: "successfully added" in m.text() or "I agree" in m.text()  # noqa: E731
        reply = await self.command(f"{p}repo add {repo_name} {url}", expect=added_or_prompt, timeout=300)
        if "successfully added" not in reply.text:  # the clone happens after the agreement
            reply = await self.answer_prompt(
                "I agree", expect=lambda m: "successfully added" in m.text() or "wrong" in m.text(), timeout=300
            )
        if "successfully added" not in reply.text:
            raise AssertionError(f"repo add: {reply.text}")
        # Downloader's own answer, not the repo's install message sent just after `repo add`.
        installed = lambda m: any(w in m.text() for w in ("Successfully installed", "Failed to install", "Error"))  # noqa: E731
        reply = await self.command(f"{p}cog install {repo_name} {' '.join(cogs)}", timeout=600, expect=installed)
        if "Successfully installed" not in reply.text or "Failed" in reply.text:
            raise AssertionError(f"cog install: {reply.text}\n{self.proc.log_tail()}")
        await self.load(*cogs)

    # -- slash commands ----------------------------------------------------------------------
    def send_slash(
        self, command: str, *path_and_options: Any, user_id: int | None = None, channel_id: int | None = None
    ) -> int:
        return self.fake.send_slash(
            self.guild_id,
            user_id or self.fake.owner_id,
            command,
            *path_and_options,
            channel_id=channel_id or self.commands_channel_id,
        )

    async def slash(
        self,
        command: str,
        *path_and_options: Any,
        user_id: int | None = None,
        channel_id: int | None = None,
        timeout: float = 60.0,  # noqa: ASYNC109 (a bound the caller sets, passed on to the fake)
    ) -> InteractionReply:
        """`await h.slash("iracing", "track", {"driver": "123"})` -> what the user saw."""
        iid = self.send_slash(command, *path_and_options, user_id=user_id, channel_id=channel_id)
        return await self.proc.guard(
            self.fake.wait_for_interaction_reply(iid, timeout),
            f"a reply to /{command} {' '.join(map(str, path_and_options))}",
        )

    async def autocomplete(
        self,
        command: str,
        *path_and_options: Any,
        focused: str,
        user_id: int | None = None,
        timeout: float = 60.0,  # noqa: ASYNC109 (a bound the caller sets, passed on to the fake)
    ) -> list[dict[str, Any]]:
        iid = self.fake.send_autocomplete(
            self.guild_id,
            user_id or self.fake.owner_id,
            command,
            *path_and_options,
            focused=focused,
            channel_id=self.commands_channel_id,
        )
        reply = await self.proc.guard(self.fake.wait_for_interaction_reply(iid, timeout), "autocomplete choices")
        return list(reply.choices)

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[Message], bool] = lambda m: True,
        timeout: float = 60.0,  # noqa: ASYNC109 (a bound the caller sets, passed on to the fake)
        *,
        after: int = 0,
    ) -> Message:
        """A message in `channel_id` matching `predicate`; fails at once if redbot dies meanwhile."""
        return await self.proc.guard(
            self.fake.wait_for_message(channel_id, predicate, timeout, after=after),
            f"a message in channel {channel_id}",
        )
