"""The fakes a launched bot talks to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.iracing import FakeIRacing
from tests.standalone.launched import OWNER_ID


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeIRacing]]:
    iracing = FakeIRacing()
    await iracing.start()
    discord = FakeDiscord(owner_id=OWNER_ID)
    await discord.start()
    try:
        yield discord, iracing
    finally:
        await discord.stop()
        await iracing.stop()
