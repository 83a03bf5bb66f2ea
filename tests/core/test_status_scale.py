"""`/iracing status` when running big: per account who spent its budget, which processes share."""

from __future__ import annotations

from ir2dis_cog.core.status_text import AccountLine, ProcessLine, StatusView, WorkLines, format_status

NOW = 1_770_000_000.0


def view(**kw: object) -> StatusView:
    base = {
        "last_cycle_at": NOW - 30,
        "drivers_due": 0,
        "auth": "logged in (OAuth)",
        "budget_remaining": None,
        "budget_limit": None,
        "budget_reset_at": None,
        "pending_posts": 0,
        "last_failure": None,
    }
    return StatusView(**{**base, **kw})  # type: ignore[arg-type]


def test_each_account_shows_its_login_and_who_spent_its_minute() -> None:
    lanes = (("poller", 61), ("watcher", 4), ("interactive", 2))
    text = format_status(
        view(
            accounts=(
                AccountLine(1, "logged in (OAuth)", lanes, 240),
                AccountLine(2, "not logged in: bad password", (("poller", 0),), None, set_aside=True),
            )
        ),
        now=NOW,
    )
    assert "iRacing accounts: 2" in text
    assert "- account 1: logged in (OAuth); last minute of 240: poller 61, live watcher 4, commands 2" in text
    assert "- account 2: not logged in: bad password; set aside, its work goes to the others" in text


def test_one_account_and_one_process_add_no_lines() -> None:
    one = ProcessLine("a:1", True, 10, 5.0)
    text = format_status(view(accounts=(AccountLine(1, "x", ()),), work=WorkLines((one,), True, 10)), now=NOW)
    assert "accounts" not in text and "Processes" not in text


def test_processes_sharing_the_work_and_sqlite_saying_it_is_for_one() -> None:
    procs = (
        ProcessLine("i1:p1", True, 3340, 4.0, "healthy"),
        ProcessLine("i2:p2", False, 3310, 20.0),
        ProcessLine("i3:p3", False, 3350, 8.0),
    )
    text = format_status(view(work=WorkLines(procs, True, 10_000)), now=NOW)
    assert "Processes sharing the work: 3 (10000 drivers tracked)" in text
    assert "- i1:p1 (this one): 3340 drivers, last heartbeat 4 s ago, runs the live watcher (healthy)" in text
    assert "- i2:p2: 3310 drivers, last heartbeat 20 s ago" in text
    sqlite = format_status(view(work=WorkLines(procs[:2], False, 10)), now=NOW)
    assert "2 processes use this SQLite database" in sqlite and "PostgreSQL or MariaDB" in sqlite
