"""The event contracts: JSON round trips, money as decimal strings, tolerant reading, partition keys, topics."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.schemas import (
    EVENT_TYPES,
    TOPICS,
    AccountErased,
    AccountErasedPayload,
    AccountRole,
    AppealOutcome,
    AppealRaised,
    AppealRaisedPayload,
    AppealResolved,
    AppealResolvedPayload,
    DeadlineCleared,
    DeadlineClearedPayload,
    DeadlineKind,
    DeadlineScheduled,
    DeadlineScheduledPayload,
    Event,
    LicenseActivated,
    LicenseActivatedPayload,
    MerchantCallFailed,
    MerchantCallFailedPayload,
    MilestoneConfirmed,
    MilestoneConfirmedPayload,
    NoticeRecipient,
    NoticeRequested,
    NoticeRequestedPayload,
    OrderPaid,
    OrderStatus,
    OrderStatusChanged,
    OrderStatusChangedPayload,
    PartyRole,
    ProductFrozen,
    ProductFrozenPayload,
    RefundDecided,
    RefundDecidedPayload,
    RefundRequested,
    RefundRequestedPayload,
    SupervisionOverdue,
    SupervisionOverduePayload,
    Topic,
    dead_letter,
)
from shared.schemas.enums import NoticeKind
from tests.factories import acceptance_done, account_registered, order_paid, parties, rid

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def samples() -> dict[str, Event]:
    p = parties(rid("prov"))
    order_id = rid("CS")
    so_id = f"SO-{order_id}"
    env: dict[str, Any] = {"producer": "tests", "correlation_id": rid("corr"), "order_id": order_id}
    return {
        "account.registered": account_registered(rid("acc"), AccountRole.BUYER),
        "account.erased": AccountErased(
            producer="orders",
            correlation_id=rid("corr"),
            payload=AccountErasedPayload(
                account_id=rid("acc"), role=AccountRole.BUYER, erased_at=datetime.now(UTC)
            ),
        ),
        "order.paid": order_paid(p, order_id=order_id, amount="120.50", ratio="0.15"),
        "milestone.confirmed": MilestoneConfirmed(
            **env,
            payload=MilestoneConfirmedPayload(
                service_order_id=so_id,
                order_id=order_id,
                node="confirm_request",
                next_node="deliver",
                actor_role=PartyRole.MERCHANT,
                actor_account_id=p.merchant_account_id,
                parties=p,
                confirmed_at=NOW,
            ),
        ),
        "appeal.raised": AppealRaised(
            **env,
            payload=AppealRaisedPayload(
                appeal_id=rid("AP"),
                service_order_id=so_id,
                order_id=order_id,
                raised_by_role=PartyRole.BUYER,
                raised_by_account_id=p.buyer_account_id,
                node="deliver",
                reason="late",
                demands="refund",
                attachments=["a.png"],
                parties=p,
                raised_at=NOW,
            ),
        ),
        "appeal.resolved": AppealResolved(
            **env,
            payload=AppealResolvedPayload(
                appeal_id=rid("AP"),
                service_order_id=so_id,
                order_id=order_id,
                outcome=AppealOutcome.RESUME,
                resumed_node="deliver",
                resolved_by_account_id=rid("op"),
                parties=p,
                resolved_at=NOW,
            ),
        ),
        "acceptance.done": acceptance_done(p, order_id),
        "order.status_changed": OrderStatusChanged(
            **env,
            payload=OrderStatusChangedPayload(
                order_id=order_id,
                from_status=OrderStatus.PROCESSING,
                to_status=OrderStatus.COMPLETED,
                reason="service order accepted",
                parties=p,
                amount=Decimal("120.50"),
                changed_at=NOW,
            ),
        ),
        "refund.requested": RefundRequested(
            **env,
            payload=RefundRequestedPayload(
                refund_id=rid("RF"),
                order_id=order_id,
                amount=Decimal("20.00"),
                reason="scope cut",
                parties=p,
                requested_at=NOW,
            ),
        ),
        "refund.decided": RefundDecided(
            **env,
            payload=RefundDecidedPayload(
                refund_id=rid("RF"),
                order_id=order_id,
                service_order_id=so_id,
                approved=True,
                amount=Decimal("20.00"),
                reason="scope cut",
                opinion="agreed by phone",
                decided_by_role=PartyRole.MERCHANT,
                decided_by_account_id=p.merchant_account_id,
                parties=p,
                decided_at=NOW,
            ),
        ),
        "deadline.scheduled": DeadlineScheduled(
            **env,
            payload=DeadlineScheduledPayload(
                deadline_id=rid("DL"),
                kind=DeadlineKind.AUTO_ACCEPTANCE,
                service_order_id=so_id,
                order_id=order_id,
                node="accept",
                party=PartyRole.BUYER,
                due_at=NOW,
                consequence="the system accepts the delivery",
                parties=p,
            ),
        ),
        "deadline.cleared": DeadlineCleared(
            **env,
            payload=DeadlineClearedPayload(
                deadline_id=rid("DL"),
                kind=DeadlineKind.APPEAL_SLA,
                service_order_id=so_id,
                order_id=order_id,
                reason="paused",
                remaining_seconds=3600.0,
                parties=p,
                cleared_at=NOW,
            ),
        ),
        "merchant_call.failed": MerchantCallFailed(
            **env,
            payload=MerchantCallFailedPayload(
                call_id=rid("call"),
                merchant_account_id=p.merchant_account_id,
                endpoint="tenantSync",
                order_id=order_id,
                attempt=1,
                final=False,
                error="HTTP 503",
                failed_at=NOW,
                parties=p,
            ),
        ),
        "notice.requested": NoticeRequested(
            **env,
            payload=NoticeRequestedPayload(
                notice_id=f"order:{order_id}:reminded",
                kind=NoticeKind.ORDER_REMINDER,
                recipients=[NoticeRecipient(role=AccountRole.MERCHANT, account_id=p.merchant_account_id)],
                subject_id=order_id,
                params={"order_id": order_id},
                parties=p,
            ),
        ),
        "product.frozen": ProductFrozen(
            producer="partner",
            correlation_id=rid("product"),
            payload=ProductFrozenPayload(
                product_id=rid("product"),
                merchant_account_id=p.merchant_account_id,
                measure="delisted",
                cause="interface_failures",
                detail="6 orders failed",
                decided_at=NOW,
            ),
        ),
        "supervision.overdue": SupervisionOverdue(
            **env,
            payload=SupervisionOverduePayload(
                service_order_id=so_id,
                order_id=order_id,
                parties=p,
                overdue_at=NOW,
                reason="supervision overdue (dossier §1.5)",
            ),
        ),
        "license.activated": LicenseActivated(
            **env,
            payload=LicenseActivatedPayload(
                order_id=order_id, code_id="LIC-…7K3QX", activated_at=NOW, device_id="ws-1", parties=p
            ),
        ),
    }


def test_there_is_a_sample_of_every_event_type() -> None:
    assert set(samples()) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_survives_a_json_round_trip(event_type: str) -> None:
    event = samples()[event_type]
    cls = EVENT_TYPES[event_type]

    again = cls.model_validate_json(event.model_dump_json())

    assert again == event
    assert type(again) is cls
    assert cls.model_validate(event.model_dump(mode="json")) == event
    assert again.event_type == event_type == cls.topic


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_occurred_at_is_timezone_aware(event_type: str) -> None:
    body = json.loads(samples()[event_type].model_dump_json())
    again = EVENT_TYPES[event_type].model_validate(body)
    assert again.occurred_at.tzinfo is not None
    assert again.occurred_at.utcoffset() is not None


def test_a_naive_occurred_at_is_refused() -> None:
    body = json.loads(samples()["order.paid"].model_dump_json())
    body["occurred_at"] = "2026-03-01T08:00:00"
    with pytest.raises(ValidationError, match="occurred_at"):
        OrderPaid.model_validate(body)


def test_money_travels_as_a_decimal_string() -> None:
    event = samples()["order.paid"]
    body = json.loads(event.model_dump_json())
    assert body["payload"]["amount"] == "120.50"
    assert body["payload"]["product"]["provider_share_ratio"] == "0.15"
    assert (
        event.model_dump()["payload"]["amount"] == "120.50"
    )  # even in python mode: stored as text, never float
    again = OrderPaid.model_validate(body)
    assert again.payload.amount == Decimal("120.50")
    assert isinstance(again.payload.amount, Decimal)


def test_money_given_as_a_float_keeps_no_binary_noise() -> None:
    body = json.loads(samples()["order.paid"].model_dump_json())
    body["payload"]["amount"] = 0.1
    assert OrderPaid.model_validate(body).payload.amount == Decimal("0.1")


@pytest.mark.parametrize("ratio", ["-0.01", "1.01"])
def test_a_share_ratio_outside_zero_and_one_is_refused(ratio: str) -> None:
    body = json.loads(samples()["order.paid"].model_dump_json())
    body["payload"]["product"]["provider_share_ratio"] = ratio
    with pytest.raises(ValidationError, match="provider_share_ratio"):
        OrderPaid.model_validate(body)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_unknown_fields_are_ignored(event_type: str) -> None:
    event = samples()[event_type]
    body = json.loads(event.model_dump_json())
    body["added_later"] = {"x": 1}
    body["payload"]["also_new"] = "y"

    assert EVENT_TYPES[event_type].model_validate(body) == event


def test_an_event_of_another_type_is_refused() -> None:
    body = json.loads(samples()["order.paid"].model_dump_json())
    with pytest.raises(ValidationError, match="event_type"):
        MilestoneConfirmed.model_validate(body)


@pytest.mark.parametrize("event_type", ["account.registered", "account.erased"])
def test_account_events_are_keyed_by_the_account(event_type: str) -> None:
    event = samples()[event_type]
    assert event.order_id is None
    assert event.partition_key == event.payload.account_id


def test_product_events_are_keyed_by_the_product() -> None:
    event = samples()["product.frozen"]
    assert event.order_id is None
    assert event.partition_key == event.payload.product_id


NOT_ORDER_EVENTS = {"account.registered", "account.erased", "product.frozen", "notice.requested"}


@pytest.mark.parametrize("event_type", sorted(set(EVENT_TYPES) - NOT_ORDER_EVENTS))
def test_order_events_are_keyed_by_the_order(event_type: str) -> None:
    event = samples()[event_type]
    assert event.order_id is not None
    assert event.partition_key == event.order_id == event.payload.order_id


def test_a_notice_is_keyed_by_its_order_else_by_its_subject() -> None:
    event = samples()["notice.requested"]
    assert event.partition_key == event.order_id == event.payload.subject_id
    about_a_statement = event.model_copy(
        update={"order_id": None, "payload": event.payload.model_copy(update={"subject_id": "ST-1"})}
    )
    assert about_a_statement.partition_key == "ST-1"


def test_an_event_without_an_order_id_has_no_partition_key() -> None:
    event = samples()["milestone.confirmed"].model_copy(update={"order_id": None})
    with pytest.raises(ValueError, match=r"milestone\.confirmed"):
        _ = event.partition_key


def test_caused_keeps_the_correlation_and_names_the_cause() -> None:
    event = samples()["order.paid"]
    assert event.caused() == {"correlation_id": event.correlation_id, "causation_id": str(event.event_id)}


def test_events_are_immutable() -> None:
    event = samples()["order.paid"]
    with pytest.raises(ValidationError):
        event.order_id = "other"  # type: ignore[misc]


def test_every_event_has_a_fresh_id() -> None:
    p = parties()
    assert order_paid(p).event_id != order_paid(p).event_id


# --- topics -------------------------------------------------------------------------------------


def test_topics_are_the_event_types() -> None:
    assert {str(t) for t in TOPICS} == set(EVENT_TYPES)
    assert Topic.ORDER_PAID == "order.paid"


@pytest.mark.parametrize(
    ("topic", "dlt"),
    [
        ("order.paid", "order.paid.dlt"),
        ("t123.acceptance.done", "t123.acceptance.done.dlt"),
        (Topic.ACCOUNT_REGISTERED, "account.registered.dlt"),
    ],
)
def test_every_topic_has_a_dead_letter_twin(topic: str, dlt: str) -> None:
    assert dead_letter(topic) == dlt


def test_a_naive_actual_activation_time_is_refused() -> None:
    body = json.loads(samples()["acceptance.done"].model_dump_json())
    body["payload"]["actual_activation_time"] = "2026-11-01T08:00:00"
    with pytest.raises(ValidationError, match="actual_activation_time"):
        EVENT_TYPES["acceptance.done"].model_validate(body)
