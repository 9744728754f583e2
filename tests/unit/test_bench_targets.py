"""The bench's verdicts: every issue-12 target is listed with its stable id, and each verdict follows its
threshold and its conditions (no timing is asserted here: the figures are made up)."""

from __future__ import annotations

import math
from typing import Any

from bench.stats import percentile, summary_ms
from bench.targets import IDS, target, targets


def lat(p99: float) -> dict[str, Any]:
    return {"n": 100, "p50_ms": p99 / 2, "p90_ms": p99 * 0.9, "p99_ms": p99, "max_ms": p99}


def results(**over: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "acceptance": {
            "sequential": {"n": 30, "observed": lat(120.0), "all_completed": True},
            "burst": {"n": 100, "observed": lat(800.0), "all_completed": True},
        },
        "deliveries": {
            "external_sends_expected": 800,
            "external_deliveries_per_s": 250.0,
            "exactly_once": {"duplicates": 0, "missing": 0},
        },
        "notification_pipeline": {"events": 500, "exactly_once": {"duplicates": 0, "missing": 0}},
        "inbox": {
            "rate_per_s": 20,
            "duration_s": 60,
            "observed": lat(200.0),
            "all_arrived": True,
            "memory_peak": {
                s: {"peak_rss_mib": 100.0, "limit_mib": 384.0}
                for s in ("orders", "supervision", "notification", "partner")
            },
        },
        "ceilings": {
            "notification": {"ratio": 0.6, "service_events_per_s": 60, "ceiling_events_per_s": 100},
            "orders": {"ratio": 0.7, "service_events_per_s": 70, "ceiling_events_per_s": 100},
        },
        "cold_start": {"ready_s": 40.0},
    }
    r.update(over)
    return r


def by_id(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in targets(r)}


def test_every_target_is_listed_once_with_its_stable_id() -> None:
    ids = [t["id"] for t in targets(results())]
    assert ids == list(IDS)


def test_all_pass_when_every_figure_is_within_its_threshold() -> None:
    verdicts = {i: t["verdict"] for i, t in by_id(results()).items()}
    assert set(verdicts.values()) == {"PASS"}, verdicts


def test_a_missing_phase_is_a_miss_with_no_value() -> None:
    t = by_id(results(cold_start=None, ceilings={}))
    assert t["cold_start_s"]["verdict"] == "MISS"
    assert t["cold_start_s"]["value"] is None
    assert t["ceiling_ratio_orders"]["verdict"] == "MISS"
    assert "not measured" in t["ceiling_ratio_orders"]["note"]


def test_a_fast_rate_with_a_duplicate_is_a_miss() -> None:
    r = results()
    r["deliveries"]["exactly_once"]["duplicates"] = 1
    t = by_id(r)["deliveries_per_s"]
    assert t["verdict"] == "MISS"
    assert t["conditions"]["no_duplicates"] is False


def test_the_notification_ratio_needs_its_pipeline_run_exactly_once() -> None:
    r = results()
    r["notification_pipeline"]["exactly_once"]["missing"] = 3
    t = by_id(r)["ceiling_ratio_notification"]
    assert t["verdict"] == "MISS"
    assert t["conditions"]["exactly_once"] is False
    assert by_id(results())["ceiling_ratio_notification"]["verdict"] == "PASS"


def test_fewer_than_800_sends_cannot_pass_the_delivery_target() -> None:
    r = results()
    r["deliveries"]["external_sends_expected"] = 120
    assert by_id(r)["deliveries_per_s"]["verdict"] == "MISS"


def test_a_burst_that_did_not_all_complete_is_a_miss_whatever_its_p99() -> None:
    r = results()
    r["acceptance"]["burst"]["all_completed"] = False
    assert by_id(r)["accept_burst_p99"]["verdict"] == "MISS"


def test_memory_threshold_is_half_the_kubernetes_limit() -> None:
    r = results()
    r["inbox"]["memory_peak"]["notification"] = {"peak_rss_mib": 200.0, "limit_mib": 384.0}
    t = by_id(r)["memory_notification"]
    assert t["threshold"] == 192.0
    assert t["verdict"] == "MISS"
    assert t["ratio"] == round(200 / 192, 3)


def test_below_and_at_least_thresholds() -> None:
    assert target("x", "", 250.0, 250.0, below=True, unit="ms")["verdict"] == "MISS"
    assert target("x", "", 249.9, 250.0, below=True, unit="ms")["verdict"] == "PASS"
    assert target("x", "", 0.5, 0.5, below=False, unit="×")["verdict"] == "PASS"
    assert target("x", "", 0.49, 0.5, below=False, unit="×")["verdict"] == "MISS"


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values[:30], 99) == 30.0  # with fewer than 100 samples p99 is the max
    assert math.isnan(percentile([], 50))
    assert summary_ms([0.1, 0.2])["p50_ms"] == 100.0
