"""Escalation steps toward a deadline: in-site, then e-mail, then SMS, at fractions of the time left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notification.catalogue import Channel
from services.notification.reminders import Clearing, Series
from shared.schemas import DeadlineKind, DeadlineScheduled, DeadlineScheduledPayload, PartyRole
from tests.factories import parties

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def series(due_in: timedelta, party: PartyRole = PartyRole.BUYER) -> Series:
    event = DeadlineScheduled(
        producer="t",
        correlation_id="c",
        order_id="CS1",
        payload=DeadlineScheduledPayload(
            deadline_id="dl",
            kind=DeadlineKind.AUTO_ACCEPTANCE,
            service_order_id="SO",
            order_id="CS1",
            party=party,
            due_at=NOW + due_in,
            consequence="accepted",
            parties=parties(),
        ),
    )
    return Series.plan(event, (0.5, 0.25, 0.1), NOW)


def test_steps_sit_at_fractions_of_the_time_left() -> None:
    s = series(timedelta(days=10))
    assert [(st.at - NOW, st.channel) for st in s.steps] == [
        (timedelta(days=5), Channel.IN_SITE),
        (timedelta(days=7.5), Channel.EMAIL),
        (timedelta(days=9), Channel.SMS),
    ]
    assert s.next_at == NOW + timedelta(days=5)


@pytest.mark.parametrize(
    ("at", "sent", "states"),
    [
        (timedelta(days=4), None, ["waiting", "waiting", "waiting"]),
        (timedelta(days=5), Channel.IN_SITE, ["sent", "waiting", "waiting"]),
        (
            timedelta(days=8),
            Channel.EMAIL,
            ["skipped", "sent", "waiting"],
        ),  # missed steps are not all sent at once
        (timedelta(days=9, hours=1), Channel.SMS, ["skipped", "skipped", "sent"]),
    ],
)
def test_the_most_escalated_due_step_is_sent(at: timedelta, sent: Channel | None, states: list[str]) -> None:
    after, step = series(timedelta(days=10)).take_due(NOW + at)
    assert (step.channel if step else None) == sent
    assert [st.state for st in after.steps] == states


def test_nothing_after_the_deadline_or_a_stop() -> None:
    s = series(timedelta(days=10))
    assert s.take_due(NOW + timedelta(days=11))[1] is None
    assert s.take_due(NOW + timedelta(days=11))[0].status == "finished"
    stopped = s.stop("acted")
    assert stopped.take_due(NOW + timedelta(days=9, hours=1))[1] is None
    assert stopped.stopped_reason == "acted"


def test_the_system_is_never_reminded() -> None:
    assert series(timedelta(days=1), PartyRole.SYSTEM).status == "finished"


def test_a_clearing_stops_only_the_schedules_made_before_it() -> None:
    s = series(timedelta(days=10))
    assert s.scheduled_at is not None
    before = Clearing(deadline_id="dl", reason="paused", at=s.scheduled_at - timedelta(seconds=1))
    after = Clearing(deadline_id="dl", reason="acted", at=s.scheduled_at + timedelta(seconds=1))
    assert s.cleared_by(before) == s  # about an earlier schedule of the same deadline (paused, then resumed)
    assert (s.cleared_by(after).status, s.cleared_by(after).stopped_reason) == ("stopped", "acted")
    legacy = s.model_copy(update={"scheduled_at": None})  # stored before schedules carried their time
    assert legacy.cleared_by(before).status == "stopped"
