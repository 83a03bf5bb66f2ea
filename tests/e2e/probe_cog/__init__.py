"""A throwaway cog that proves the end-to-end harness: prefix, slash, defer, autocomplete."""

from __future__ import annotations

from typing import Any

__red_end_user_data_statement__ = "This cog stores no data."


async def setup(bot: Any) -> None:
    from .probe import Probe

    await bot.add_cog(Probe(bot))
