"""The fake iRacing itself: its HTTP control routes and its command line, as other suites use them."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.observability.metrics import Metrics
from tests.fakes.iracing import FakeIRacing
from tests.iracing.conftest import FAST, make_settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def fake() -> AsyncIterator[FakeIRacing]:
    # tests/iracing/conftest.py has the same fixture, but conftest fixtures do not reach this folder.
    server = FakeIRacing()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_control_routes_program_the_world(fake: FakeIRacing, tmp_path: Path) -> None:
    base = fake.base_url
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/_fake/members",
            json={"members": [{"cust_id": 11, "display_name": "Eleven"}, {"cust_id": 12, "display_name": "Twelve"}]},
        ) as r:
            assert (await r.json())["members"] == 2
        async with http.post(
            f"{base}/_fake/races",
            json={
                "entries": [12, {"cust_ids": [11, 13], "team_name": "Dusk", "car_class_id": 2}],
                "car_classes": [[1, "GTP"], [2, "GT3"]],
                "session_start_time": "2026-01-02T20:00:00Z",
                "series_name": "Endurance",
            },
        ) as r:
            sid = (await r.json())["subsession_id"]
        async with http.post(f"{base}/_fake/faults", json={"kind": "maintenance", "count": 1}) as r:
            assert r.status == 200
        async with http.post(f"{base}/_fake/faults", json={"kind": "no-such-fault"}) as r:
            assert r.status == 400
        async with http.get(f"{base}/data/results/get", params={"subsession_id": str(sid)}) as r:
            assert r.status == 503  # the injected fault comes first
        async with http.get(f"{base}/data/results/get", params={"subsession_id": str(sid)}) as r:
            assert r.status == 401 and r.headers["x-ratelimit-limit"] == "240"
        async with http.delete(f"{base}/_fake/requests") as r:
            assert r.status == 200

    settings = make_settings(fake, tmp_path)
    async with IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=Metrics(), tuning=FAST) as c:
        sub = await c.get_subsession(sid)
        races = await c.get_recent_races(11)
    assert sub.series_name == "Endurance" and sub.start_time.isoformat() == "2026-01-02T20:00:00+00:00"
    assert [d.display_name for _, d in sub.driver_rows()] == ["Twelve", "Eleven", "Driver 13"]
    assert [(r.subsession_id, r.finish_position) for r in races] == [(sid, 2)]

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/_fake/requests") as r:
            log = await r.json()
        async with http.get(f"{base}/_fake/stats") as r:
            stats = await r.json()
        async with http.post(f"{base}/_fake/expire_tokens") as r:
            assert r.status == 200
    kinds = [row["kind"] for row in log["requests"]]
    assert kinds == ["oauth", "data", "s3", "data", "s3"] and log["next"] == 5
    assert [row["authorization"] for row in log["requests"] if row["kind"] == "s3"] == [False, False]
    assert stats["logins"] == 1 and stats["races"] == 1


async def test_s3_rejects_an_authorization_header(fake: FakeIRacing, tmp_path: Path) -> None:
    token = fake.issue_tokens()["access_token"]
    fake.add_member(5)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{fake.base_url}/data/stats/member_recent_races", params={"cust_id": "5"}, headers=headers
        ) as r:
            link = (await r.json())["link"]
        async with http.get(link, headers=headers) as r:
            assert r.status == 400
        async with http.get(link) as r:
            assert r.status == 200 and (await r.json()) == {"cust_id": 5, "races": []}
    assert fake.stats["s3_with_authorization"] == 1


async def test_bad_results_answers_and_maintenance_are_switched_on_and_off(fake: FakeIRacing) -> None:
    """Through the control routes, as a test against a running fake uses them: a bad results/get
    answer for one race only (for N answers, or until switched off), maintenance until switched off."""
    token = fake.issue_tokens()["access_token"]
    first, second = fake.add_race([21, 22]), fake.add_race([23])
    base, auth = fake.base_url, {"Authorization": f"Bearer {token}"}

    async with aiohttp.ClientSession() as http:

        async def control(method: str, body: dict[str, object] | None = None, query: str = "") -> int:
            async with http.request(method, f"{base}/_fake/faults{query}", json=body) as r:
                return r.status

        async def results(sid: int) -> tuple[int, str, bytes]:
            async with http.get(f"{base}/data/results/get", params={"subsession_id": str(sid)}, headers=auth) as r:
                if r.content_type == "text/html":
                    return r.status, r.content_type, await r.read()
                link = (await r.json())["link"]
            async with http.get(link) as r:
                return r.status, r.content_type, await r.read()

        assert await control("POST", {"kind": "results_truncated", "count": 2, "subsession_id": first}) == 200
        assert await control("POST", {"kind": "results_incomplete", "count": None, "subsession_id": second}) == 200
        whole = fake.world.races[first].body
        assert (await results(first))[2] == whole[: len(whole) // 2]
        status, _, body = await results(second)
        assert status == 200 and "session_results" not in json.loads(body)
        assert (await results(first))[2] == whole[: len(whole) // 2]  # the second and last one
        assert (await results(first))[2] == whole  # used up
        assert "session_results" not in json.loads((await results(second))[2])  # until switched off
        assert await control("DELETE", query="?kind=results_incomplete") == 200
        assert json.loads((await results(second))[2])["session_results"]

        assert await control("POST", {"kind": "results_html", "count": 1}) == 200  # any race
        status, kind, body = await results(second)
        assert (status, kind) == (200, "text/html") and body.startswith(b"<!DOCTYPE html>")

        assert await control("POST", {"kind": "maintenance", "count": None}) == 200
        for _ in range(3):
            async with http.get(f"{base}/data/member/get", params={"cust_ids": "21"}, headers=auth) as r:
                assert r.status == 503 and (await r.json())["error"] == "Site Maintenance"
        assert await control("DELETE", query="?kind=maintenance") == 200
        assert (await results(first))[0] == 200
        assert await control("DELETE", query="?kind=captcha") == 400  # sticky kinds: cleared all at once
    faulty = [r.fault for r in fake.requests if r.kind == "data" and r.fault]
    assert faulty == [
        "results_truncated",
        "results_incomplete",
        "results_truncated",
        "results_incomplete",
        "results_html",
        *["maintenance"] * 3,
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_runs_from_the_command_line() -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.iracing",
        "--port",
        str(port),
        "--latency-ms",
        "5",
        "--rate-limit",
        "50",
        "--rate-window",
        "10",
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # wait for it to listen
                try:
                    async with http.get(f"{base}/_fake/stats") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with http.post(f"{base}/_fake/members", json={"cust_id": 3, "display_name": "C"}) as r:
                assert r.status == 200
            async with http.get(f"{base}/data/member/get", params={"cust_ids": "3"}) as r:
                assert r.status == 401 and r.headers["x-ratelimit-limit"] == "50"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)
