"""work_lease and account_auth_state on every backend."""

from __future__ import annotations

from ir2dis_cog.store import Store
from ir2dis_cog.store.work_lease import LeaseRow


async def test_a_beat_inserts_then_refreshes_only_its_own_row(store: Store) -> None:
    await store.work.beat(LeaseRow("inst-a:1", "inst-a", 100, 100))
    await store.work.beat(LeaseRow("inst-b:1", "inst-b", 100, 105))
    await store.work.beat(LeaseRow("inst-a:1", "inst-a", 999, 130, drivers=12, watcher="healthy", watcher_requests=7))
    rows = await store.work.all()
    assert rows == [
        LeaseRow("inst-a:1", "inst-a", 100, 130, 12, "healthy", 7),  # started_at is the first beat's
        LeaseRow("inst-b:1", "inst-b", 100, 105),
    ]


async def test_leaving_restarting_and_pruning(store: Store) -> None:
    for row in (LeaseRow("i:old", "i", 1, 10), LeaseRow("i:new", "i", 50, 50), LeaseRow("j:1", "j", 1, 20)):
        await store.work.beat(row)
    assert await store.work.forget_earlier_lives("i", "i:new") == 1
    assert await store.work.prune(before=15) == 0
    await store.work.leave("i:new")
    assert [r.process_id for r in await store.work.all()] == ["j:1"]
    assert await store.work.prune(before=21) == 1
    assert await store.work.all() == []


async def test_saved_sessions_are_kept_apart_by_key(store: Store) -> None:
    one, two = store.account_auth.for_key("acct-1"), store.account_auth.for_key("acct-2")
    assert await one.load() is None
    await one.save({"oauth": {"access_token": "x"}})
    await two.save({"oauth": None})
    await one.save({"oauth": {"access_token": "y"}})
    assert await one.load() == {"oauth": {"access_token": "y"}}
    assert await two.load() == {"oauth": None}
    await store.db.execute("UPDATE account_auth_state SET state_json = ? WHERE account_key = ?", ("{bad", "acct-2"))
    assert await two.load() is None  # damaged: log in again, never a crash
