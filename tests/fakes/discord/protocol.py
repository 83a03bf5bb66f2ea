"""Discord's numbers the fake speaks (flags, option and callback types) and the REST error it answers with."""

from __future__ import annotations

# Exactly this: discord.py compares the header and rejects "application/json; charset=utf-8".
JSON_TYPE = "application/json"
# Snowflakes count milliseconds from here; discord.py reads creation times out of ids.
DISCORD_EPOCH_MS = 1_420_070_400_000

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7  # a deferred interaction's "thinking..." message

# Application command option types.
OPT_SUB_COMMAND, OPT_SUB_GROUP = 1, 2
OPT_STRING, OPT_INTEGER, OPT_BOOLEAN, OPT_USER, OPT_CHANNEL, OPT_ROLE = 3, 4, 5, 6, 7, 8
OPT_MENTIONABLE, OPT_NUMBER = 9, 10
# Options whose value is a snowflake (and which the interaction's `resolved` describes).
OPT_SNOWFLAKES = (OPT_USER, OPT_CHANNEL, OPT_ROLE, OPT_MENTIONABLE)

# Interaction types.
INTERACTION_COMMAND, INTERACTION_AUTOCOMPLETE = 2, 4

# Interaction callback types.
CB_MESSAGE, CB_DEFERRED, CB_DEFERRED_UPDATE, CB_UPDATE, CB_AUTOCOMPLETE, CB_MODAL = 4, 5, 6, 7, 8, 9


class FakeError(Exception):
    """A REST error the fake answers with: status, Discord error code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
