"""`FakeDiscordRemote`: drives a fake Discord in another process (`python -m tests.fakes.discord`).

Its methods are made from `FakeDiscord`'s control operations: the same names, signatures and
results, all async. Only `wait_for_message` is written here, because a predicate cannot travel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from .control import Operation
from .records import Message
from .server import OPERATIONS

WAIT_CHANGE_SLICE_S = 10.0  # one long-poll at most this long, so a dead fake is noticed


class FakeDiscordRemote:
    """Drives a fake Discord running in another process; the same operations, all async."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeDiscordRemote:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    async def _send(self, op: Operation, body: dict[str, Any]) -> Any:
        assert self._session is not None, "use `async with FakeDiscordRemote(url)`"
        async with self._session.post(f"{self.url}/_fake/{op.name}", json=body) as r:
            data = await r.json()
        if "error" in data:
            raise RuntimeError(f"fake Discord {op.name}: {data['error']}")
        return data["result"]

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[Message], bool] = lambda m: True,
        timeout: float = 30.0,  # noqa: ASYNC109
        *,
        after: int = 0,
    ) -> Message:
        """Checked here (a predicate cannot travel); long-polls the fake for changes in between."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            version = (await self.info())["version"]
            found = next((m for m in await self.messages(channel_id) if m.id > after and predicate(m)), None)
            if found:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"fake Discord: no matching message in channel {channel_id}")
            await self.wait_change(version, min(remaining, WAIT_CHANGE_SLICE_S))

    if TYPE_CHECKING:
        # The generated operations, for type checkers (which cannot see them).
        def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]: ...


def _remote_method(op: Operation) -> Callable[..., Awaitable[Any]]:
    """An async method that runs `op` in the remote fake, named, documented and signed like the operation."""

    async def method(self: FakeDiscordRemote, *args: Any, **kwargs: Any) -> Any:
        return op.result.decode(await self._send(op, op.request_body(*args, **kwargs)))

    method.__name__ = op.name
    method.__qualname__ = f"{FakeDiscordRemote.__name__}.{op.name}"
    method.__doc__ = op.doc
    method.__signature__ = op.signature  # type: ignore[attr-defined]  # what help() and IDEs show
    return method


for _op in OPERATIONS.values():
    if _op.name in vars(FakeDiscordRemote):
        raise TypeError(f"FakeDiscordRemote.{_op.name} is written by hand and would hide the operation")
    setattr(FakeDiscordRemote, _op.name, _remote_method(_op))
