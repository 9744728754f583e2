"""The SaaS lifecycle rules (dossier §8.2): the usage push's limits and MKT codes
(§8.2.9), the failed-orders month in Beijing time (§8.2.2), the dial-test days (§8.2.8), the polling of an
asynchronous creation (§8.2.2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.partner.calls import MerchantCall, RetryTimes
from services.partner.product_health import ProductHealth, beijing_month, dial_slots_due
from services.partner.usage import MAX_RECORDS, UsageRefused, records_of

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


# --- §8.2.9 usage push ------------------------------------------------------------------------------------
def record(i: int = 0, begin: datetime | None = None, **changes: Any) -> dict[str, Any]:
    begin = begin or NOW - timedelta(hours=2)
    body = {
        "recordId": f"r{i}",
        "instanceId": "inst-1",
        "usageMeasureId": "hour",
        "usageValue": "1.5",
        "beginTime": begin.isoformat(),
        "endTime": (begin + timedelta(hours=1)).isoformat(),
    }
    return {**body, **changes}


def refused(body: Any) -> UsageRefused:
    with pytest.raises(UsageRefused) as caught:
        records_of(body, NOW)
    return caught.value


def test_at_most_1000_records_are_taken_in_one_push() -> None:
    assert len(records_of({"usageRecords": [record(i) for i in range(MAX_RECORDS)]}, NOW)) == 1000
    too_many = refused({"usageRecords": [record(i) for i in range(MAX_RECORDS + 1)]})
    assert (too_many.code, too_many.status) == ("MKT.9003", 400)


def test_begin_time_may_be_21_days_back_not_more() -> None:
    assert records_of({"usageRecords": [record(begin=NOW - timedelta(days=21))]}, NOW)
    old = refused({"usageRecords": [record(begin=NOW - timedelta(days=21, seconds=1))]})
    assert old.code == "MKT.9004"
    assert "usageRecords[0].beginTime" in old.detail


def test_invalid_records_are_mkt_9002_naming_the_field() -> None:
    assert refused({"usageRecords": []}).code == "MKT.9002"
    bad = refused({"usageRecords": [record(0), record(1, usageValue="-1")]})
    assert bad.code == "MKT.9002"
    assert "usageRecords[1].usageValue" in bad.detail
    backwards = record(0, endTime=(NOW - timedelta(hours=3)).isoformat())
    assert refused({"usageRecords": [backwards]}).code == "MKT.9002"
    future = record(0, begin=NOW + timedelta(hours=1))
    assert refused({"usageRecords": [future]}).code == "MKT.9002"


def test_a_body_that_is_not_a_push_is_mkt_0101() -> None:
    assert refused([record()]).code == "MKT.0101"
    assert refused({"records": [record()]}).code == "MKT.0101"


# --- §8.2.2 failed orders in a Beijing month --------------------------------------------------------------
def health() -> ProductHealth:
    return ProductHealth(product_id="p1", merchant_id="m1")


def test_the_sixth_failed_order_of_a_month_delists_the_product() -> None:
    h = health()
    at = datetime(2026, 11, 10, tzinfo=UTC)
    assert [h.order_failed(f"o{i}", at) for i in range(5)] == [None] * 5
    assert h.order_failed("o0", at) is None  # the same order counts once
    decision = h.order_failed("o5", at)
    assert decision is not None
    assert (decision.measure, decision.cause) == ("delisted", "interface_failures")
    assert h.measure == "delisted"
    assert h.order_failed("o6", at) is None  # decided once


def test_the_month_is_beijings() -> None:
    # 2026-11-30 16:30 UTC is 2026-12-01 00:30 in Beijing: December's first failure, not November's sixth
    late_utc = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    assert beijing_month(late_utc) == "202612"
    h = health()
    for i in range(5):
        h.order_failed(f"o{i}", datetime(2026, 11, 5, tzinfo=UTC))
    assert h.order_failed("o5", late_utc) is None
    assert h.measure == "live"
    # 15:59 UTC on the 30th is 23:59 in Beijing: still November, the sixth
    assert h.order_failed("o6", datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) is not None


def test_a_new_month_starts_from_zero() -> None:
    h = health()
    for i in range(5):
        h.order_failed(f"a{i}", datetime(2026, 10, 15, tzinfo=UTC))
    for i in range(5):
        assert h.order_failed(f"b{i}", datetime(2026, 11, 15, tzinfo=UTC)) is None
    assert h.measure == "live"


# --- §8.2.8 dial-test days ---------------------------------------------------------------------------------
def fail_days(h: ProductHealth, start: date, days: int) -> list[Any]:
    out = []
    for n in range(days):
        out.append(h.dial_tested(start + timedelta(days=n), "am", False))
        out.append(h.dial_tested(start + timedelta(days=n), "pm", False))
    return out


def test_five_consecutive_failing_days_freeze_trading() -> None:
    h = health()
    start = date(2026, 11, 1)
    assert fail_days(h, start, 4) == [None] * 8
    assert h.dial_tested(start + timedelta(days=4), "am", False) is None  # the day is not over
    decision = h.dial_tested(start + timedelta(days=4), "pm", False)
    assert decision is not None
    assert (decision.measure, decision.cause) == ("frozen", "dial_tests")
    assert not h.trading


def test_a_day_with_one_passing_test_is_not_a_failing_day() -> None:
    h = health()
    start = date(2026, 11, 1)
    fail_days(h, start, 2)
    h.dial_tested(start + timedelta(days=2), "am", False)
    h.dial_tested(start + timedelta(days=2), "pm", True)  # recovered in the afternoon
    assert fail_days(h, start + timedelta(days=3), 4) == [None] * 8
    assert h.failing_run(start + timedelta(days=6)) == 4
    assert h.trading


def test_a_day_without_tests_breaks_the_run() -> None:
    h = health()
    start = date(2026, 11, 1)
    fail_days(h, start, 3)
    assert fail_days(h, start + timedelta(days=4), 2) == [None] * 4  # the 4th had no tests
    assert h.trading


def test_the_dial_slots_come_at_the_beijing_hours() -> None:
    hours = [9, 15]
    # 00:59 UTC = 08:59 Beijing: nothing yet; 01:00 UTC = 09:00: the morning's; 07:00 UTC = 15:00: both
    assert dial_slots_due(datetime(2026, 11, 30, 0, 59, tzinfo=UTC), hours) == []
    assert dial_slots_due(datetime(2026, 11, 30, 1, 0, tzinfo=UTC), hours) == [(date(2026, 11, 30), "am")]
    assert dial_slots_due(datetime(2026, 11, 30, 7, 0, tzinfo=UTC), hours) == [
        (date(2026, 11, 30), "am"),
        (date(2026, 11, 30), "pm"),
    ]
    # 16:30 UTC on the 30th is already December 1st in Beijing, 00:30: nothing due yet that day
    assert dial_slots_due(datetime(2026, 11, 30, 16, 30, tzinfo=UTC), hours) == []


# --- §8.2.2 polling an asynchronous creation ---------------------------------------------------------------
TIMES = RetryTimes(
    long_interval=3600,
    long_window=3 * 3600,
    short_interval=600,
    short_window=3600,
    poll_interval=60,
    poll_window=300,
)


def poll_call() -> MerchantCall:
    return MerchantCall(
        call_id="queryInstance:O1",
        merchant_id="m1",
        endpoint="queryInstance",
        kind="saas",
        path="/x",
        body={},
        order_id="O1",
        policy="poll",
        created_at=NOW,
        due_at=NOW,
    )


def test_processing_is_polled_each_interval_until_the_window_ends() -> None:
    c = poll_call()
    dues = []
    now = NOW
    while not c.still_processing(now, 200, TIMES):
        assert c.due_at is not None
        dues.append(c.due_at - NOW)
        now = c.due_at
    assert dues == [timedelta(seconds=s) for s in (60, 120, 180, 240, 300)]
    assert c.status == "pending"  # the caller records the final failure


def test_a_merchant_failure_ends_the_polling_at_once_and_refunds() -> None:
    c = poll_call()
    assert c.failed(NOW, "merchant_error", 200, False, TIMES, "000005", give_up=True)
    assert c.status == "failed"
    assert c.consequence == "refund"


def test_a_transport_failure_is_polled_again() -> None:
    c = poll_call()
    assert not c.failed(NOW, "timeout", None, False, TIMES)
    assert c.due_at == NOW + timedelta(seconds=60)
