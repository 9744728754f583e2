"""Exactly-once accounting of the sinks' rows: duplicates, missing sends, and other messages about an order."""

from __future__ import annotations

from bench.exactly import account, sends

A, B = "CS260101120000ABCDEF01", "CS260101120000ABCDEF02"


def expected(*orders: str) -> list[tuple[str, str, str]]:
    return [(o, ch, to) for o in orders for ch, to in (("email", "b@x.test"), ("sms", "+8613800000000"))]


def test_each_slot_once_is_exactly_once() -> None:
    seen = sends(
        [{"subject": f"Payment received for order {A}"}, {"subject": f"Payment received for order {B}"}],
        "email",
        "subject",
        "B@x.test",  # addresses compare case-insensitively
    ) + sends([{"body": f"Paid: {A}"}, {"body": f"Paid: {B}"}], "sms", "body", "+8613800000000")
    got = account(seen, expected(A, B))
    assert (got["delivered"], got["duplicates"], got["missing"]) == (4, 0, 0)


def test_the_same_message_twice_is_a_duplicate_and_a_missing_one_is_missing() -> None:
    rows = [{"subject": f"Payment received for order {A}"}] * 2
    seen = sends(rows, "email", "subject", "b@x.test") + sends(
        [{"body": f"Paid: {A}"}], "sms", "body", "+8613800000000"
    )
    got = account(seen, expected(A, B))
    assert got["duplicates"] == 1
    assert got["missing"] == 2  # B's email and SMS
    assert got["duplicate_examples"] == [f"{A} email b@x.test"]


def test_another_kind_of_message_about_the_order_is_not_a_duplicate() -> None:
    rows = [{"subject": f"Payment received for order {A}"}, {"subject": f"Reminder: order {A} awaits you"}]
    got = account(sends(rows, "email", "subject", "b@x.test"), [(A, "email", "b@x.test")])
    assert got["duplicates"] == 0
    assert got["other_kinds"] == 1


def test_sends_to_someone_else_are_not_counted() -> None:
    seen = sends([{"subject": f"Payment received for order {A}"}], "email", "subject", "other@x.test")
    got = account(seen, [(A, "email", "b@x.test")])
    assert (got["delivered"], got["missing"]) == (0, 1)
