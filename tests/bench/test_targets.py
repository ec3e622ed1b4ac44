"""The bench's targets (bench/targets.py): each verdict at and beside its boundary, and the
report (bench/report.py) showing the verdict the targets give."""

from __future__ import annotations

import pytest

from bench import targets
from bench.report import render


def wrk(p50_ms: float) -> dict:
    return {
        "p50_us": p50_ms * 1000,
        "p95_us": p50_ms * 2000,
        "rps": 100.0,
        "requests": 1000,
        "non200": 0,
        "socket_errors": 0,
    }


def test_every_page_label_names_its_path():
    for label, path in targets.PAGES.items():
        assert label.endswith(")") and path in label  # the tick: the path with the key
    assert {targets.PROGRESS, targets.SIGNED_IN, targets.TRIVIAL} <= set(targets.PAGES)


@pytest.mark.parametrize(("progress_ms", "fast"), [(15.0, True), (15.1, False), (3.0, True)])
def test_progress_within_one_and_a_half_times_the_signed_in_trivial_page(progress_ms, fast):
    pages = {targets.PROGRESS: wrk(progress_ms), targets.SIGNED_IN: wrk(10.0)}
    assert targets.progress_fast(pages) is fast


@pytest.mark.parametrize(
    ("queries", "fixed"),
    [
        ({"a (miss)": 6, "b (miss)": 6, "a (hit)": 3, "b (hit)": 3, "/healthz": 40}, True),
        ({"a (miss)": 6, "b (miss)": 7, "a (hit)": 3}, False),  # depends on the learner
        ({"a (miss)": 9, "b (miss)": 9}, False),  # above PROGRESS_MAX_QUERIES
        ({"a (miss)": 8, "a (hit)": 2}, True),
    ],
)
def test_progress_queries_are_few_and_the_same_for_every_learner(queries, fixed):
    assert targets.progress_queries_fixed(queries) is fixed


@pytest.mark.parametrize(
    ("opened", "max_age", "reused"),
    [(9, 60, True), (10, 60, False), (3, 0, False), (12, 30, True), (13, 30, False)],
)
def test_connections_are_kept_across_requests(opened, max_age, reused):
    # 3 workers, 70 s of load: CONN_MAX_AGE 60 s -> 1 + 1 periods, 30 s -> 1 + 2; each worker
    # may open one connection a period, and one more.
    assert (
        targets.connections_reused(opened=opened, workers=3, load_seconds=70, max_age=max_age)
        is reused
    )


def test_an_admin_page_stays_flat_across_sizes():
    small = {"p50_ms": 100.0, "queries": 7}
    assert targets.admin_flat(small, {"p50_ms": 150.0, "queries": 7})
    assert not targets.admin_flat(small, {"p50_ms": 151.0, "queries": 7})
    assert not targets.admin_flat(small, {"p50_ms": 100.0, "queries": 8})


def test_insights_targets():
    largest = {
        "insights, engineer": {"p50_ms": 499.0},
        "insights, engineer, recomputed": {"p50_ms": 5000.0},
        "list, inactive": {"p50_ms": 100.0},
        "list, stuck point": {"p50_ms": 150.0},
        "list": {"p50_ms": 1.0},
    }
    assert targets.insights_fast("insights, engineer", largest) is True
    assert targets.insights_fast("insights, engineer, recomputed", largest) is None
    assert targets.insights_fast("list, stuck point", largest) is True
    assert targets.insights_fast("list", largest) is None
    largest["insights, engineer"]["p50_ms"] = 500.0
    largest["list, stuck point"]["p50_ms"] = 151.0
    assert targets.insights_fast("insights, engineer", largest) is False
    assert targets.insights_fast("list, stuck point", largest) is False


def test_queries_memory_and_messages_scale():
    assert targets.queries_scale(100, 10_000) and not targets.queries_scale(101, 10_000)
    small = {"peak_rss_mb": 150.0, "baseline_rss_mb": 100.0}
    assert targets.memory_growth(small, {"peak_rss_mb": 250.0, "baseline_rss_mb": 100.0}) == 100
    assert targets.memory_flat(small, {"peak_rss_mb": 250.0, "baseline_rss_mb": 100.0})
    assert not targets.memory_flat(small, {"peak_rss_mb": 251.0, "baseline_rss_mb": 100.0})
    assert targets.celery_messages_few(messages=12, chunks=10)
    assert not targets.celery_messages_few(messages=13, chunks=10)


def test_the_report_shows_the_targets_verdict_by_page_label():
    def results(progress_ms: float) -> dict:
        pages = {label: wrk(10.0) for label in targets.PAGES}
        pages[targets.PROGRESS] = wrk(progress_ms)
        progress = {
            "pages": {8: pages},
            "queries": {"a (miss)": {"queries": 6}, "a (hit)": {"queries": 3}},
            "pg_sessions_opened": 5,
            "pg_connections_live": {"live": 5},
            "conn_max_age": 60,
            "load_seconds": 20,
            "wrk": {"workers": 5, "connections": [8], "duration": 10, "rounds": 2},
        }
        return {
            "started": "now",
            "machine": {"cores": 2},
            "sizes": {10_000: {"progress": progress}},
        }

    assert "**1.40x** **ok**" in render(results(14.0))
    assert "**1.60x** **SHORT**" in render(results(16.0))


def test_the_tick_and_the_cache_miss_are_judged_against_the_signed_in_page():
    pages = {
        targets.SIGNED_IN: wrk(1.0),
        targets.PROGRESS_MISS: wrk(5.0),
        targets.TICK: wrk(5.1),
    }
    assert targets.miss_fast(pages) and not targets.tick_fast(pages)
