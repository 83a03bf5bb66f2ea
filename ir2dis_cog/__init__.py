"""ir2dis: posts iRacing race results of tracked drivers into Discord."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redbot.core.bot import Red

# Read with plain json so that importing the pure core (store, engine, models) never pulls
# in discord.py or Red.
__red_end_user_data_statement__: str = json.loads((Path(__file__).with_name("info.json")).read_text(encoding="utf-8"))[
    "end_user_data_statement"
]


async def setup(bot: Red) -> None:
    from .red.cog import IRacingCog

    await bot.add_cog(IRacingCog(bot))
