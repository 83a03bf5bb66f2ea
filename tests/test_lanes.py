"""The slow lane is chosen by place: a new test file there is slow without anyone marking it."""

from __future__ import annotations

import pytest

from tests.conftest import is_slow_place


@pytest.mark.parametrize(
    "where",
    [
        "tests/e2e/test_ir2dis_faults.py",
        "tests/docker/test_image.py",
        "tests/standalone/test_launcher.py",
        "tests/poller/test_real_processes.py",
        "tests/poller/test_benchmark_smoke.py",
        "tests/poller/test_scale_out_smoke.py",
        "tests/store/test_new_benchmark.py",
    ],
)
def test_processes_benchmarks_and_docker_are_slow_by_place(where: str) -> None:
    assert is_slow_place(where)


@pytest.mark.parametrize(
    "where",
    [
        "tests/standalone/test_startup.py",
        "tests/poller/test_engine.py",
        "tests/iracing/test_client.py",
        "tests/test_lanes.py",
    ],
)
def test_the_rest_is_quick(where: str) -> None:
    assert not is_slow_place(where)


def test_a_test_here_carries_the_marker_only_when_its_place_says(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("slow") is None
