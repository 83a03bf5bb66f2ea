"""The /iracing status text."""

from __future__ import annotations

from ir2dis_cog.core.status_text import StatusView, format_status, store_outage_text


def test_status_shows_every_fact() -> None:
    view = StatusView(
        last_cycle_at=1_000.0,
        drivers_due=7,
        auth="logged in (OAuth), token valid for 9 min",
        budget_remaining=200,
        budget_limit=240,
        budget_reset_at=1_060.0,
        pending_posts=2,
        last_failure="missing permission: Embed Links",
    )
    text = format_status(view, now=1_030.0)
    assert "Last poll cycle: 30 s ago" in text
    assert "Drivers due now: 7" in text
    assert "token valid for 9 min" in text
    assert "200 of 240 left, resets <t:1060:R>" in text
    assert "Posts pending for this server: 2" in text
    assert "Last post failure: missing permission: Embed Links" in text


def test_status_before_first_cycle_and_without_credentials() -> None:
    view = StatusView(None, 0, "not logged in", None, None, None, 0, None, ("IRACING_PASSWORD",))
    text = format_status(view, now=5.0)
    assert "none yet" in text and "not known yet" in text
    assert "iRacing login not set" in text and "IRACING_PASSWORD" in text
    assert "Last post failure" not in text


def test_status_shows_who_spent_the_budget_and_the_members_share() -> None:
    view = StatusView(
        1_000.0,
        0,
        "logged in",
        150,
        240,
        1_060.0,
        0,
        None,
        requests_by_lane=(("poller", 61), ("watcher", 5), ("interactive", 12)),
        interactive_cap=47,
        interactive_share=0.2,
    )
    text = format_status(view, now=1_010.0)
    assert "Requests in the last minute: poller 61, live watcher 5, commands 12 of 47 (20% share)" in text
    assert "Requests in the last minute" not in format_status(StatusView(None, 0, "", None, None, None, 0, None), now=0)


def test_the_live_watcher_line_says_its_state_and_why() -> None:
    from ir2dis_cog.core.status_text import LiveWatchView, live_line

    now = 1_770_000_000.0
    healthy = LiveWatchView("healthy", None, now - 40, races_live=83, races_watched=2, misses_last_day=1)
    assert live_line(healthy, now=now) == (
        "Live watcher: healthy; last live list 40 s ago, 83 races live, 2 watched now, 1 missed in the last day"
    )
    degraded = LiveWatchView("degraded", "the live list holds no race", None)
    assert live_line(degraded, now=now).startswith(
        "Live watcher: degraded (the live list holds no race); every driver is polled as usual; last live list none yet"
    )
    assert live_line(LiveWatchView("off"), now=now) == "Live watcher: off (LIVE_WATCH); every driver is polled"
    catching = LiveWatchView("healthy", None, now - 5, 90, 0, 0, caught_up_last_day=12, catching_up=True)
    assert live_line(catching, now=now).endswith(
        "0 missed in the last day; catching up on races that ended while it was not watching;"
        " 12 found by its catch-up in the last day"
    )


def test_a_database_outage_is_one_plain_sentence_saying_since_when() -> None:
    since = 1_770_000_000.0  # 02:40 UTC
    text = store_outage_text(since, now=since + 180)
    assert text == (
        "The database is unreachable since 02:40 UTC (3 min ago); "
        "race results wait and will be posted once it answers again."
    )
    assert "\n" not in text
    assert store_outage_text(None, now=since).startswith("The database is unreachable right now;")


def test_status_counts_every_waiting_post_and_names_the_races_given_up() -> None:
    given_up = tuple((9000 + i, "iRacing has no such race") for i in range(7))
    view = StatusView(None, 0, "ok", None, None, None, 1, None, pending_all=3, races_owed=2, given_up=given_up)
    text = format_status(view, now=5.0)
    assert "Posts pending for this server: 1 (3 in all servers)" in text
    assert "waiting for iRacing's results (asked again): 2" in text
    assert "could not give us in the last 7 days: 7: 9000 (iRacing has no such race)" in text
    assert "9004 (iRacing has no such race) and 2 more" in text and "9005" not in text
    quiet = format_status(StatusView(None, 0, "ok", None, None, None, 0, None, pending_all=0), now=5.0)
    assert "all servers" not in quiet and "given" not in quiet and "iRacing's results" not in quiet
