"""The fake Discord on its own: its pure rules, its REST answers, its gateway, its control surface."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes.discord import (
    ALL_PERMISSIONS,
    OPERATIONS,
    PERMISSIONS,
    FakeDiscord,
    FakeDiscordRemote,
    build_command_options,
    compute_permissions,
    validate_message_body,
)
from tests.fakes.discord.rules import pinged

GUILD, BOT, OWNER, USER = 10, 20, 30, 40
ROLES = {
    GUILD: {"permissions": str(PERMISSIONS["view_channel"] | PERMISSIONS["send_messages"])},
    50: {"permissions": str(PERMISSIONS["embed_links"])},
    60: {"permissions": str(PERMISSIONS["administrator"])},
}


def perms(user: int, roles: list[int], overwrites: list[dict[str, object]]) -> int:
    return compute_permissions(
        user_id=user, owner_id=OWNER, guild_id=GUILD, roles=ROLES, member_roles=roles, overwrites=overwrites
    )


def ow(target: int, kind: int, allow: int = 0, deny: int = 0) -> dict[str, object]:
    return {"id": str(target), "type": kind, "allow": str(allow), "deny": str(deny)}


def test_permissions_follow_roles_then_overwrites() -> None:
    send, embed, view = PERMISSIONS["send_messages"], PERMISSIONS["embed_links"], PERMISSIONS["view_channel"]
    assert perms(BOT, [50], []) == view | send | embed
    assert perms(BOT, [50], [ow(BOT, 1, deny=send)]) == view | embed  # member overwrite
    assert perms(BOT, [50], [ow(50, 0, deny=embed)]) == view | send  # role overwrite
    assert perms(BOT, [50], [ow(50, 0, deny=send), ow(BOT, 1, allow=send)]) & send  # member wins
    assert perms(BOT, [50], [ow(GUILD, 0, deny=view)]) == 0  # no view: nothing
    assert perms(BOT, [60], [ow(BOT, 1, deny=send)]) == ALL_PERMISSIONS  # administrator
    assert perms(OWNER, [], [ow(GUILD, 0, deny=view)]) == ALL_PERMISSIONS  # guild owner


def test_message_limits_match_discords() -> None:
    assert validate_message_body({"content": "hi"}) is None
    assert validate_message_body({}) == "Cannot send an empty message"
    assert validate_message_body({}, has_files=True) is None
    assert "2000" in (validate_message_body({"content": "x" * 2001}) or "")
    assert "10" in (validate_message_body({"embeds": [{"title": "t"}] * 11}) or "")
    assert "4096" in (validate_message_body({"embeds": [{"description": "x" * 4097}]}) or "")
    assert "25" in (validate_message_body({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}) or "")
    assert "fields.0" in (validate_message_body({"embeds": [{"fields": [{"name": "n", "value": ""}]}]}) or "")
    two_big = [{"description": "x" * 3500}, {"description": "y" * 3500}]
    assert "6000" in (validate_message_body({"embeds": two_big}) or "")


SCHEMA = [
    {
        "type": 1,
        "name": "track",
        "options": [
            {"type": 3, "name": "driver", "required": True},
            {"type": 4, "name": "limit"},
            {"type": 7, "name": "where"},
        ],
    }
]


def test_options_are_typed_by_the_registered_schema() -> None:
    opts = build_command_options(SCHEMA, ["track"], {"driver": 123, "limit": "5", "where": 77}, None)
    assert opts == [
        {
            "type": 1,
            "name": "track",
            "options": [
                {"type": 3, "name": "driver", "value": "123"},
                {"type": 4, "name": "limit", "value": 5},
                {"type": 7, "name": "where", "value": "77"},
            ],
        }
    ]
    focused = build_command_options(SCHEMA, ["track"], {"driver": "Ma"}, "driver")
    assert focused[0]["options"] == [{"type": 3, "name": "driver", "value": "Ma", "focused": True}]
    with pytest.raises(ValueError, match="no option 'nope'"):
        build_command_options(SCHEMA, ["track"], {"driver": "1", "nope": 1}, None)
    with pytest.raises(ValueError, match="required options missing"):
        build_command_options(SCHEMA, ["track"], {"limit": 1}, None)
    with pytest.raises(ValueError, match="no subcommand 'untrack'"):
        build_command_options(SCHEMA, ["untrack"], {}, None)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as f:
        yield f


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=fake.url, headers={"Authorization": f"Bot {fake.token}"}) as s:
        yield s


async def test_rest_answers_are_exact_json_and_need_the_token(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v10/users/@me") as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/json"
        assert (await r.json())["id"] == str(fake.bot_id)
    async with aiohttp.ClientSession(base_url=fake.url) as anon, anon.get("/api/v10/users/@me") as r:
        assert r.status == 401
    async with http.get("/api/v10/gateway/bot") as r:
        body = await r.json()
        assert body["url"].startswith("ws://127.0.0.1:") and body["shards"] == 1
    async with http.get("/api/v10/no/such/route") as r:
        assert r.status == 404
    assert [(q.path, q.status) for q in fake.requests()] == [
        ("/users/@me", 200),
        ("/users/@me", 401),
        ("/gateway/bot", 200),
        ("/no/such/route", 404),
    ]


async def test_messages_history_permissions_and_limits(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    gid = fake.add_guild()
    cid = fake.add_channel(gid, "results")
    ids = []
    for i in range(5):
        async with http.post(
            f"/api/v10/channels/{cid}/messages", json={"content": f"m{i}", "embeds": [{"title": f"t{i}"}]}
        ) as r:
            assert r.status == 200
            ids.append(int((await r.json())["id"]))
    async with http.get(f"/api/v10/channels/{cid}/messages", params={"limit": "2"}) as r:
        assert [m["content"] for m in await r.json()] == ["m4", "m3"]  # newest first
    async with http.get(f"/api/v10/channels/{cid}/messages", params={"before": str(ids[2])}) as r:
        assert [m["content"] for m in await r.json()] == ["m1", "m0"]
    assert [m.embeds[0]["title"] for m in fake.messages(cid)] == ["t0", "t1", "t2", "t3", "t4"]
    assert fake.messages(cid)[0].embeds[0]["type"] == "rich"

    async with http.post(f"/api/v10/channels/{cid}/messages", json={"content": ""}) as r:
        assert (r.status, (await r.json())["code"]) == (400, 50006)
    fake.set_bot_permissions(cid, deny=["send_messages"])
    async with http.post(f"/api/v10/channels/{cid}/messages", json={"content": "no"}) as r:
        assert (r.status, (await r.json())["code"]) == (403, 50013)
    fake.set_bot_permissions(cid, deny=["view_channel"])
    async with http.get(f"/api/v10/channels/{cid}/messages") as r:
        assert (r.status, (await r.json())["code"]) == (403, 50001)
    assert len(fake.messages(cid)) == 5

    form = aiohttp.FormData()
    fake.set_bot_permissions(cid)
    form.add_field("payload_json", json.dumps({"content": "with file"}), content_type="application/json")
    form.add_field("files[0]", b"data", filename="card.png", content_type="image/png")
    async with http.post(f"/api/v10/channels/{cid}/messages", data=form) as r:
        assert r.status == 200
    last = fake.messages(cid)[-1]
    assert last.content == "with file" and last.payload["attachments"][0]["filename"] == "card.png"


def test_pings_follow_allowed_mentions_as_discord_decides_them() -> None:
    content = "<@1> <@!2> <@&7> @everyone <@1>"
    assert pinged(content, None) == ([1, 2], [7], True)  # no allowed_mentions: every mention pings
    assert pinged(content, {"parse": []}) == ([], [], False)
    assert pinged(content, {"parse": [], "users": ["2"], "roles": []}) == ([2], [], False)
    assert pinged(content, {"parse": ["roles"], "users": [1]}) == ([1], [7], False)
    assert pinged("no mentions", {"parse": ["users", "roles", "everyone"]}) == ([], [], False)


async def test_a_message_keeps_what_it_pinged_and_its_allowed_mentions(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    gid = fake.add_guild()
    cid = fake.add_channel(gid, "results")
    pat = fake.add_member(gid, name="Pat")
    fans = fake.add_role(gid, "fans", mentionable=True)
    allowed = {"parse": [], "users": [str(pat)], "roles": [], "replied_user": False}
    body = {"content": f"<@{pat}> <@{fake.owner_id}> <@&{fans}>", "allowed_mentions": allowed}
    async with http.post(f"/api/v10/channels/{cid}/messages", json=body) as r:
        assert r.status == 200
        assert [u["id"] for u in (await r.json())["mentions"]] == [str(pat)]
    async with http.post(f"/api/v10/channels/{cid}/messages", json={"content": f"<@{pat}>"}) as r:
        assert r.status == 200
    first, second = fake.messages(cid)
    assert first.allowed_mentions == allowed and first.pinged_users == (pat,) and first.pinged_roles == ()
    assert second.allowed_mentions is None and second.pinged_users == (pat,)
    assert fake.state.guilds[gid].roles[fans]["mentionable"] is True


async def test_injected_faults_answer_like_discord_then_stop(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    gid = fake.add_guild()
    cid = fake.add_channel(gid)
    fake.inject_fault("POST", "/channels/*/messages", 429, count=2, retry_after=0.25)
    fake.inject_fault("GET", f"/channels/{cid}", 503)
    for _ in range(2):
        async with http.post(f"/api/v10/channels/{cid}/messages", json={"content": "x"}) as r:
            assert r.status == 429
            assert r.headers["Via"]  # without it discord.py assumes a Cloudflare ban
            assert r.headers["Content-Type"] == "application/json"
            assert (await r.json())["retry_after"] == 0.25
    async with http.post(f"/api/v10/channels/{cid}/messages", json={"content": "x"}) as r:
        assert r.status == 200
    async with http.get(f"/api/v10/channels/{cid}") as r:
        assert r.status == 503
    async with http.get(f"/api/v10/channels/{cid}") as r:
        assert r.status == 200
    assert [q.fault for q in fake.requests()] == [True, True, False, True, False]


async def test_a_delivered_fault_creates_the_message_and_answers_the_error(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    gid = fake.add_guild()
    cid = fake.add_channel(gid)
    fake.inject_fault("POST", "/channels/*/messages", 502, deliver=True)
    async with http.post(f"/api/v10/channels/{cid}/messages", json={"content": "made"}) as r:
        assert r.status == 502 and (await r.json())["message"].startswith("502")
    async with http.post(f"/api/v10/channels/{cid}/messages", json={"content": "again"}) as r:
        assert r.status == 200
    # Discord kept the first although its sender heard 502: a blind retry makes a second message.
    assert [m.content for m in fake.messages(cid)] == ["made", "again"]
    assert [(q.status, q.fault) for q in fake.requests() if q.method == "POST"] == [(502, True), (200, False)]

    # ...unless it carries a nonce Discord is told to enforce: the retry gets the first message back.
    fake.inject_fault("POST", "/channels/*/messages", 502, deliver=True)
    once = {"content": "once", "nonce": "card-1", "enforce_nonce": True}
    async with http.post(f"/api/v10/channels/{cid}/messages", json=once) as r:
        assert r.status == 502
    async with http.post(f"/api/v10/channels/{cid}/messages", json=once) as r:
        assert r.status == 200 and (await r.json())["content"] == "once"
    assert [m.content for m in fake.messages(cid)] == ["made", "again", "once"]


async def test_stalled_requests_take_effect_or_not_and_wait_for_release(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    gid = fake.add_guild()
    cid = fake.add_channel(gid)
    route = f"/channels/{cid}/messages"
    fake.stall("POST", route, deliver=True)
    fake.stall("POST", route)

    async def post(text: str) -> tuple[int, str]:
        async with http.post(f"/api/v10{route}", json={"content": text}) as r:
            return r.status, (await r.json())["content"]

    delivered = asyncio.create_task(post("kept"))
    await fake.wait_until(lambda: len(fake.stalled_requests()) == 1, 5, "the first stall")
    lost = asyncio.create_task(post("held"))
    await fake.wait_until(lambda: len(fake.stalled_requests()) == 2, 5, "the second stall")
    # Discord has the first message although nobody heard back; the second has not arrived.
    assert [m.content for m in fake.messages(cid)] == ["kept"]
    assert [(s.delivered, s.status) for s in fake.stalled_requests()] == [(True, 200), (False, 0)]
    assert not delivered.done() and not lost.done()

    fake.release_stalled()  # the client is still there: both get their answers now
    assert await delivered == (200, "kept")
    assert await lost == (200, "held")
    assert [m.content for m in fake.messages(cid)] == ["kept", "held"]
    assert await post("after") == (200, "after")  # release disarmed the rules

    fake.stall("POST", route)
    async with aiohttp.ClientSession(base_url=fake.url, headers={"Authorization": f"Bot {fake.token}"}) as gone:
        request = asyncio.create_task(gone.post(f"/api/v10{route}", json={"content": "never"}))
        await fake.wait_until(lambda: len(fake.stalled_requests()) == 3, 5, "the third stall")
        request.cancel()  # the client dies while its request is held
    await asyncio.sleep(0.2)  # for the server to see the connection go
    fake.release_stalled()
    await asyncio.sleep(0.1)
    assert [m.content for m in fake.messages(cid)] == ["kept", "held", "after"]


async def test_commands_and_interaction_callbacks(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    gid = fake.add_guild()
    cid = fake.add_channel(gid)
    app = fake.application_id
    async with http.put(
        f"/api/v10/applications/{app}/commands",
        json=[
            {"name": "iracing", "description": "d", "options": SCHEMA},
        ],
    ) as r:
        first_id = (await r.json())[0]["id"]
    async with http.put(
        f"/api/v10/applications/{app}/commands",
        json=[
            {"name": "iracing", "description": "changed", "options": SCHEMA},
        ],
    ) as r:
        assert (await r.json())[0]["id"] == first_id  # same name keeps its id
    assert len(fake.command_syncs()) == 2
    with pytest.raises(ValueError, match="not registered"):
        fake.send_slash(gid, fake.owner_id, "other")

    iid = fake.send_slash(gid, fake.owner_id, "iracing", "track", {"driver": "123"})
    token = fake.state.interactions[iid].token
    body = {"type": 5, "data": {"flags": 64}}
    async with http.post(
        f"/api/v10/interactions/{iid}/{token}/callback", params={"with_response": "1"}, json=body
    ) as r:
        answer = await r.json()
        assert answer["interaction"]["response_message_loading"] is True
        assert answer["interaction"]["response_message_ephemeral"] is True
        assert answer["resource"] == {"type": 5}
    async with http.post(f"/api/v10/interactions/{iid}/{token}/callback", json={"type": 4}) as r:
        assert (r.status, (await r.json())["code"]) == (400, 40060)
    assert fake.state.interaction_reply(iid) is None  # still "thinking"
    async with http.post(
        f"/api/v10/webhooks/{app}/{token}", params={"wait": "true"}, json={"content": "tracked", "flags": 64}
    ) as r:
        assert r.status == 200
    reply = await fake.wait_for_interaction_reply(iid, timeout=5)
    assert (reply.callback_type, reply.content, reply.ephemeral) == (5, "tracked", True)
    assert fake.messages(cid) == []  # ephemeral answers are not in the channel

    channel_opt = fake.send_slash(gid, fake.owner_id, "iracing", "track", {"driver": "1", "where": cid})
    data = fake.state.interactions[channel_opt].data
    assert data["resolved"]["channels"][str(cid)]["name"] == "general"


async def _frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
    return json.loads((await asyncio.wait_for(ws.receive(), 10)).data)


async def test_gateway_hello_identify_ready_and_dispatch(fake: FakeDiscord) -> None:
    gid = fake.add_guild()
    cid = fake.add_channel(gid)
    fake.add_member(gid, USER, "racer")
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(fake.hub.ws_url + "?v=10&encoding=json") as ws:
            assert (await _frame(ws))["op"] == 10
            await ws.send_json({"op": 2, "d": {"token": "wrong"}})
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4004
        async with s.ws_connect(fake.hub.ws_url) as ws:
            await _frame(ws)
            await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1}})
            ready = await _frame(ws)
            assert ready["t"] == "READY" and ready["s"] == 1
            assert ready["d"]["shard"] == [0, 1]  # type: ignore[index]
            assert ready["d"]["application"]["id"] == str(fake.application_id)  # type: ignore[index]
            guild = (await _frame(ws))["d"]
            assert guild["member_count"] == len(guild["members"]) == 3  # type: ignore[index,arg-type]
            await ws.send_json({"op": 1, "d": 2})
            assert (await _frame(ws))["op"] == 11
            mid = fake.send_message(cid, "!ping", author_id=USER)
            created = await _frame(ws)
            assert created["t"] == "MESSAGE_CREATE" and created["s"] == 3
            assert created["d"]["id"] == str(mid) and created["d"]["guild_id"] == str(gid)  # type: ignore[index]
            assert created["d"]["member"]["roles"] == []  # type: ignore[index]
    assert fake.gateway_status()["identify_count"] == 1


async def test_http_control_surface_drives_the_same_state(fake: FakeDiscord) -> None:
    async with FakeDiscordRemote(fake.url) as remote:
        gid = await remote.add_guild(name="remote")
        cid = await remote.add_channel(gid, "cmds")
        await remote.set_bot_permissions(cid, deny=["send_messages"])
        assert fake.state.permissions_in(cid, fake.bot_id) & PERMISSIONS["send_messages"] == 0
        await remote.inject_fault("GET", "/users/@me", 500)
        assert fake.state.take_fault("GET", "/users/@me") is not None

        waiter = asyncio.create_task(remote.wait_for_message(cid, lambda m: m.content == "second", timeout=10))
        await remote.send_message(cid, "first")
        await remote.send_message(cid, "second")
        found = await waiter
        assert found.content == "second" and found.author_id == fake.owner_id
        assert [m.content for m in await remote.messages(cid)] == ["first", "second"]
        with pytest.raises(RuntimeError, match="KeyError"):
            await remote.add_channel(12345, "nowhere")


async def test_gateway_resume_replays_what_a_dropped_socket_missed(fake: FakeDiscord) -> None:
    gid = fake.add_guild()
    cid = fake.add_channel(gid)
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(fake.hub.ws_url) as ws:
            await _frame(ws)
            await ws.send_json({"op": 2, "d": {"token": fake.token}})
            session_id = (await _frame(ws))["d"]["session_id"]  # type: ignore[index]
            assert (await _frame(ws))["s"] == 2
        await fake.wait_until(lambda: not fake.hub.connected, 10, "the socket to drop")
        missed = fake.send_message(cid, "sent while away")
        async with s.ws_connect(fake.hub.ws_url) as ws:
            await _frame(ws)
            await ws.send_json({"op": 6, "d": {"token": fake.token, "session_id": session_id, "seq": 2}})
            replayed = await _frame(ws)
            assert (replayed["t"], replayed["s"], replayed["d"]["id"]) == ("MESSAGE_CREATE", 3, str(missed))  # type: ignore[index]
            assert ((await _frame(ws))["t"], fake.hub.connected) == ("RESUMED", True)
        async with s.ws_connect(fake.hub.ws_url) as ws:
            await _frame(ws)
            await ws.send_json({"op": 6, "d": {"token": fake.token, "session_id": "unknown", "seq": 0}})
            assert (await _frame(ws))["op"] == 9  # invalid session: identify again
    assert fake.gateway_status()["identify_count"] == 1


# The surface tests drive the fake with, in-process and remotely.
CONTROL_OPERATIONS = {
    *("info", "add_guild", "add_channel", "add_role", "add_member", "set_bot_permissions", "set_overwrite"),
    *("inject_fault", "clear_faults", "stall", "release_stalled", "stalled_requests"),
    *("send_message", "send_slash", "send_autocomplete", "disconnect_gateway"),
    *("messages", "message", "interaction", "commands", "command_syncs", "requests", "gateway_status"),
    *("wait_change", "wait_for_interaction_reply", "wait_for_identify", "wait_for_command_sync"),
}


def test_each_control_operation_is_mirrored_by_the_remote_with_its_signature() -> None:
    assert set(OPERATIONS) == CONTROL_OPERATIONS
    for name in OPERATIONS:
        remote = getattr(FakeDiscordRemote, name)
        assert inspect.iscoroutinefunction(remote), name
        assert inspect.signature(remote) == inspect.signature(getattr(FakeDiscord, name)), name
        assert remote.__doc__ == getattr(FakeDiscord, name).__doc__, name


async def test_remote_results_are_the_in_process_records(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    async with FakeDiscordRemote(fake.url) as remote:
        gid = await remote.add_guild()
        cid = await remote.add_channel(gid)
        await remote.add_role(gid, "racers", ("send_messages", "embed_links"))  # a tuple travels as a list
        mid = await remote.send_message(cid, "hello")
        assert await remote.message(mid) == fake.message(mid)
        await remote.stall("GET", "/users/@me", deliver=True)
        held = asyncio.create_task(http.get("/api/v10/users/@me"))
        await fake.wait_until(fake.stalled_requests, 5, "the stall")
        assert await remote.stalled_requests() == fake.stalled_requests()
        await remote.release_stalled()
        (await held).close()
        assert await remote.requests() == fake.requests() != []
        assert await remote.command_syncs() == []
        with pytest.raises(RuntimeError, match="TimeoutError"):
            await remote.wait_for_command_sync(1, timeout=0.1)
        with pytest.raises(TypeError):
            await remote.add_guild(1, "two", "three")  # refused before anything is sent, as in-process
        info = await remote.info()
        assert (info["bot_id"], info["api_base"]) == (fake.bot_id, fake.api_base)
    async with aiohttp.ClientSession(base_url=fake.url) as s:
        async with s.get("/_fake/info") as r:  # bare, for shell scripts waiting for the fake
            assert (await r.json())["owner_id"] == fake.owner_id
        async with s.post("/_fake/start", json={}) as r:  # not an operation
            assert r.status == 404
