"""Prometheus counters and gauges, in a registry that belongs to one cog instance.

A registry of our own (not prometheus-client's global one) lets the cog be unloaded and
loaded again in the same process without "Duplicated timeseries" errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_PREFIX = "ir2dis"


@dataclass(eq=False)
class Metrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        r = self.registry
        self.poll_cycles_total = Counter(
            f"{_PREFIX}_poll_cycles", "Poll cycles run, by outcome.", ["outcome"], registry=r
        )
        self.results_fetched_total = Counter(
            f"{_PREFIX}_results_fetched", "Subsession results fetched from iRacing.", registry=r
        )
        self.posts_published_total = Counter(
            f"{_PREFIX}_posts_published", "Result messages published to Discord.", registry=r
        )
        self.post_failures_total = Counter(
            f"{_PREFIX}_post_failures",
            "Result messages that could not be published, by reason.",
            ["reason"],
            registry=r,
        )
        self.dedupe_skips_total = Counter(
            f"{_PREFIX}_dedupe_skips", "Posts skipped because they were already claimed or sent.", registry=r
        )
        self.races_too_old_total = Counter(
            f"{_PREFIX}_races_too_old",
            "Races of tracked drivers never posted: they ended longer than MAX_POST_AGE_HOURS ago when first found.",
            registry=r,
        )
        self.races_given_up_total = Counter(
            f"{_PREFIX}_races_given_up",
            "Races found but never posted because iRacing could not give them, by reason "
            "(not_found: no such subsession, said twice minutes apart; unreadable: bad answers for over a day).",
            ["reason"],
            registry=r,
        )
        self.render_failures_total = Counter(
            f"{_PREFIX}_render_failures",
            "Result pictures drawn without their chart (stage chart_data, too_large) or not at all "
            "(build, render, stored): the post still goes out, as an embed alone when there is no picture.",
            ["stage"],
            registry=r,
        )
        self.images_rendered_total = Counter(
            f"{_PREFIX}_images_rendered", "Result pictures drawn and attached to a post.", registry=r
        )
        self.poll_errors_total = Counter(
            f"{_PREFIX}_poll_errors", "Errors isolated during a cycle, by kind.", ["kind"], registry=r
        )
        self.auth_failures_total = Counter(
            f"{_PREFIX}_auth_failures", "Failed iRacing logins or refreshes.", registry=r
        )
        self.captcha_required_total = Counter(
            f"{_PREFIX}_captcha_required", "Legacy logins refused with a CAPTCHA demand.", registry=r
        )
        self.rate_limited_total = Counter(
            f"{_PREFIX}_rate_limited", "Answers from iRacing saying the rate limit was exceeded.", registry=r
        )
        self.iracing_requests_total = Counter(
            f"{_PREFIX}_iracing_requests", "HTTP requests sent to the iRacing data API, by kind.", ["kind"], registry=r
        )
        self.iracing_lane_requests_total = Counter(
            f"{_PREFIX}_iracing_lane_requests",
            "Data API requests by who spent them: poller, watcher (the engine) or interactive (members' commands).",
            ["lane"],
            registry=r,
        )
        self.cycle_duration_seconds = Histogram(
            f"{_PREFIX}_cycle_duration_seconds",
            "Wall time of one poll cycle.",
            buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.tracked_drivers = Gauge(
            f"{_PREFIX}_tracked_drivers", "Distinct drivers tracked by any server.", registry=r
        )
        self.guilds = Gauge(f"{_PREFIX}_guilds", "Servers with a results channel set.", registry=r)
        self.rate_limit_remaining = Gauge(
            f"{_PREFIX}_rate_limit_remaining", "Requests left in the current iRacing rate-limit window.", registry=r
        )

        # The live watcher (poller/live_watcher.py).
        self.live_requests_total = Counter(
            f"{_PREFIX}_live_requests",
            "iRacing requests of the live watcher, by kind (live_list, roster, results).",
            ["kind"],
            registry=r,
        )
        self.live_misses_total = Counter(
            f"{_PREFIX}_live_misses",
            "Races the safety net posted that the live watcher missed, by why.",
            ["reason"],
            registry=r,
        )
        self.live_races_found_total = Counter(
            f"{_PREFIX}_live_races_found", "Races the live watcher found and handed to the outbox.", registry=r
        )
        self.live_races_watched = Gauge(
            f"{_PREFIX}_live_races_watched", "Races with a tracked driver, live or waiting for results.", registry=r
        )
        self.live_watcher_healthy = Gauge(
            f"{_PREFIX}_live_watcher_healthy", "1 while the live watcher is healthy, else 0.", registry=r
        )
        self.live_catchup_total = Counter(
            f"{_PREFIX}_live_catchup",
            "The live watcher's catch-up after a start or a degraded spell (results/search_series), by "
            "outcome: search, search_failed, skipped (the sweep is cheaper), found, no_tracked, results_failed.",
            ["outcome"],
            registry=r,
        )
        # A server's own choices (issue 15).
        self.races_filtered_total = Counter(
            f"{_PREFIX}_races_filtered",
            "Races not posted in a server because its filters leave them out, by filter.",
            ["filter"],
            registry=r,
        )
        self.copies_published_total = Counter(
            f"{_PREFIX}_copies_published", "Races posted again in a second channel (the podium channel).", registry=r
        )
        self.pings_total = Counter(
            f"{_PREFIX}_pings", "Members and roles mentioned on a podium or a win, by kind.", ["kind"], registry=r
        )
        self.digests_sent_total = Counter(
            f"{_PREFIX}_digests_sent", "Weekly digests posted (one per server and week).", registry=r
        )
        self.live_notices_total = Counter(
            f"{_PREFIX}_live_notices", "On-track-now notices posted (one per server and race).", registry=r
        )
        # Hosted and league races (issue 13).
        self.unofficial_requests_total = Counter(
            f"{_PREFIX}_unofficial_requests",
            "iRacing requests for hosted and league races, by request (hosted_search, league_seasons, "
            "league_sessions, result).",
            ["request"],
            registry=r,
        )
        self.hosted_sessions_skipped_total = Counter(
            f"{_PREFIX}_hosted_sessions_skipped",
            "search_hosted rows passed over, by reason (no_race: a practice or qualifying session only).",
            ["reason"],
            registry=r,
        )
        self.unofficial_races_found_total = Counter(
            f"{_PREFIX}_unofficial_races_found",
            "New hosted and league races found, by kind (hosted, league) and by what found them "
            "(driver: a tracked driver's search; league: a followed league's season).",
            ["kind", "by"],
            registry=r,
        )
        self.unofficial_not_posted_total = Counter(
            f"{_PREFIX}_unofficial_not_posted",
            "Hosted and league races a server does not get, by reason (kind: its race kinds leave the kind "
            "out; before_tracking: it finished before the server tracked the driver; unreadable: iRacing's "
            "answer could not be read).",
            ["reason"],
            registry=r,
        )

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
