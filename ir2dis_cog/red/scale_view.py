"""Running big in ``/iracing status``: the accounts and the processes as plain lines' data."""

from __future__ import annotations

from ir2dis_cog.core.status_text import AccountLine, ProcessLine, WorkLines
from ir2dis_cog.iracing.accounts import AccountPool
from ir2dis_cog.poller.work_share import WorkShare


def account_lines_of(pool: AccountPool | None) -> tuple[AccountLine, ...]:
    if pool is None:
        return ()
    return tuple(
        AccountLine(
            a.number,
            a.auth,
            tuple(a.usage.by_lane.items()),
            a.usage.limit,
            a.set_aside_until is not None,
        )
        for a in pool.accounts()
    )


def work_lines_of(work: WorkShare | None, *, now: float) -> WorkLines | None:
    if work is None:
        return None
    view = work.view()
    processes = tuple(
        ProcessLine(
            r.process_id,
            r.process_id == view.me,
            view.mine if r.process_id == view.me else r.drivers,
            now - r.heartbeat_at,
            r.watcher,
        )
        for r in view.processes
    )
    return WorkLines(processes, view.split, view.tracked)
