"""A fake iRacing on 127.0.0.1: OAuth token endpoint, legacy /auth, data API, S3 links.

Used by the client tests, the engine tests, the end-to-end test, the Docker test and the
benchmark. Payloads follow the shapes of iRacing's recorded answers; per-request work is O(1),
as result bodies are encoded once, when a race is added.

- `server`: `FakeIRacing`, programmable in-process (members, races, faults) and serving:
- `routes`: what a client sees: `/oauth2/token`, `/auth`, `/data/...` (step one: a link) and
  `/_s3/...` (step two: the body), with `auth` (tokens), `ratelimit`, `faults` and `links`;
- `control`: the `/_fake/...` routes a test in another process programs it with;
- `world` (members, races) and `records` (their data); `payloads`: the JSON shapes, pure;
- `__main__`: ``python -m tests.fakes.iracing --port N``.
"""

from __future__ import annotations

from .auth import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD, mask
from .control import CONTROL_ROUTES
from .faults import FAULT_KINDS
from .records import RaceEntry, RequestRecord, recent_start
from .server import FakeIRacing

__all__ = [
    "CONTROL_ROUTES",
    "FAKE_CLIENT_ID",
    "FAKE_CLIENT_SECRET",
    "FAKE_EMAIL",
    "FAKE_PASSWORD",
    "FAULT_KINDS",
    "FakeIRacing",
    "RaceEntry",
    "RequestRecord",
    "mask",
    "recent_start",
]
