"""The fake iRacing as a process: ``python -m tests.fakes.iracing --port 8081 [--latency-ms 80
--s3-latency-ms 40 --rate-limit 240 --rate-window 60]``; program it over ``/_fake/`` (see `control`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aiohttp import web

from .auth import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD
from .server import FakeIRacing


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.iracing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--s3-latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=240)
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument("--access-token-ttl", type=int, default=600)
    parser.add_argument("--client-id", default=FAKE_CLIENT_ID)
    parser.add_argument("--client-secret", default=FAKE_CLIENT_SECRET)
    parser.add_argument("--email", default=FAKE_EMAIL)
    parser.add_argument("--password", default=FAKE_PASSWORD)
    args = parser.parse_args(argv)
    fake = FakeIRacing(
        client_id=args.client_id,
        client_secret=args.client_secret,
        email=args.email,
        password=args.password,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        latency_ms=args.latency_ms,
        s3_latency_ms=args.s3_latency_ms,
        access_token_ttl=args.access_token_ttl,
    )
    print(f"fake iRacing listening on http://{args.host}:{args.port}", flush=True)
    web.run_app(fake.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
