"""The hosted watermark, followed leagues and race kinds, on each backend."""

from __future__ import annotations

from ir2dis_cog.core.kinds import ALL_KINDS
from ir2dis_cog.store import HostedWatch, LeagueFollow, Store


async def test_tracking_starts_the_hosted_watermark_now_and_it_never_moves_back(store: Store) -> None:
    await store.hosted.start(500, 1_000)
    assert await store.hosted.get_many([500, 600]) == {500: HostedWatch(500, 1_000, None, False, 0)}
    await store.hosted.checked(500, finish_begin=1_500, last_race_at=1_400, now=1_600)
    await store.hosted.checked(500, finish_begin=1_200, last_race_at=None, now=1_700)  # an older answer
    assert (await store.hosted.get_many([500]))[500] == HostedWatch(500, 1_500, 1_400, True, 1_700)
    await store.hosted.start(500, 1_300)  # a second server tracks them: no going back
    assert (await store.hosted.get_many([500]))[500].finish_begin == 1_500
    await store.hosted.start(500, 2_000)  # ... and no backlog for it either
    assert (await store.hosted.get_many([500]))[500].finish_begin == 2_000


async def test_follow_is_once_per_server_and_league(store: Store) -> None:
    assert await store.leagues.follow(1, 637, "SFL", 82_074_245, 77, now=10) is True
    assert await store.leagues.follow(1, 637, "SFL again", 90_000_000, 77, now=11) is False
    assert await store.leagues.follow(2, 637, "SFL", 82_262_357, None, now=12) is True
    assert await store.leagues.follow(1, 9035, "V-Racing", 0, None, now=13) is True
    assert await store.leagues.for_guild(1) == [
        LeagueFollow(1, 637, "SFL", 82_074_245, 10),
        LeagueFollow(1, 9035, "V-Racing", 0, 13),
    ]
    by_league = await store.leagues.by_league()
    assert sorted(f.guild_id for f in by_league[637]) == [1, 2]
    assert await store.leagues.unfollow(1, 637) is True
    assert await store.leagues.unfollow(1, 637) is False
    assert [f.guild_id for f in (await store.leagues.by_league())[637]] == [2]
    assert await store.leagues.forget_user(77) == 0  # the one row it made is gone


async def test_race_kinds_default_to_all_and_are_kept_per_server(store: Store) -> None:
    await store.guilds.set_channel(1, 100, now=1)
    assert await store.race_kinds.get_many([1, 2]) == {1: None, 2: None}
    await store.race_kinds.set(1, {"league", "official"}, now=2)
    await store.race_kinds.set(2, {"hosted"}, now=3)  # a server without a channel yet
    assert await store.race_kinds.get_many([1, 2]) == {1: frozenset({"official", "league"}), 2: frozenset({"hosted"})}
    await store.race_kinds.set(1, ALL_KINDS, now=4)
    assert await store.race_kinds.get_many([1]) == {1: None}
    guild = await store.guilds.get(1)
    assert guild is not None and guild.channel_id == 100  # the channel is untouched
