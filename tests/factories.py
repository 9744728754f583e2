"""Events and settings for tests, with random ids (never shared between tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from shared.platform.settings import ServiceSettings
from shared.schemas import (
    AcceptanceDone,
    AcceptanceDonePayload,
    AccountRegistered,
    AccountRegisteredPayload,
    AccountRole,
    DeadlineCleared,
    DeadlineClearedPayload,
    DeadlineKind,
    DeadlineScheduled,
    DeadlineScheduledPayload,
    DeliveryType,
    OrderPaid,
    OrderPaidPayload,
    Parties,
    PartyRole,
    ProductSnapshot,
)

S = TypeVar("S", bound=ServiceSettings)


def rid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def settings(cls: type[S], infra: Any, namespace: str, **extra: Any) -> S:
    """A service's settings on the session's real stack (`tests.conftest.Infra`): its own Kafka user, the
    running identity provider, a database of the namespace."""
    return infra.settings(cls, namespace, **extra)  # type: ignore[no-any-return]


def parties(provider: str | None = None) -> Parties:
    return Parties(buyer_account_id=rid("buyer"), merchant_account_id=rid("merchant"), provider_id=provider)


def account_registered(
    account_id: str,
    role: AccountRole,
    *,
    email: str | None = None,
    phone: str = "+8613800001234",
    locale: str = "en-US",
) -> AccountRegistered:
    return AccountRegistered(
        producer="tests",
        correlation_id=rid("corr"),
        payload=AccountRegisteredPayload(
            account_id=account_id,
            role=role,
            display_name=account_id,
            bound_email=email or f"{account_id}@example.com",
            bound_phone=phone,
            locale=locale,
        ),
    )  # type: ignore[arg-type]


def order_paid(
    p: Parties,
    *,
    order_id: str | None = None,
    amount: str = "100.00",
    ratio: str | None = "0.10",
    delivery_type: DeliveryType = DeliveryType.MANUAL_SERVICE,
) -> OrderPaid:
    order_id = order_id or rid("CS")
    product = ProductSnapshot(
        product_id=rid("p"),
        name="Data migration service",
        delivery_type=delivery_type,
        provider_share_ratio=Decimal(ratio) if ratio else None,
    )
    return OrderPaid(
        producer="tests",
        correlation_id=rid("corr"),
        order_id=order_id,
        payload=OrderPaidPayload(
            order_id=order_id, parties=p, product=product, amount=Decimal(amount), paid_at=datetime.now(UTC)
        ),
    )


def acceptance_done(p: Parties, order_id: str) -> AcceptanceDone:
    return AcceptanceDone(
        producer="tests",
        correlation_id=rid("corr"),
        order_id=order_id,
        payload=AcceptanceDonePayload(
            service_order_id=f"SO-{order_id}",
            order_id=order_id,
            accepted_by=PartyRole.BUYER,
            accepted_at=datetime.now(UTC),
            parties=p,
        ),
    )


def deadline_scheduled(
    p: Parties, deadline_id: str, order_id: str, due_at: datetime, consequence: str = "the system accepts"
) -> DeadlineScheduled:
    """The buyer's auto-acceptance deadline of a service order, as supervision schedules it."""
    return DeadlineScheduled(
        producer="t",
        correlation_id="c",
        order_id=order_id,
        payload=DeadlineScheduledPayload(
            deadline_id=deadline_id,
            kind=DeadlineKind.AUTO_ACCEPTANCE,
            service_order_id="SO",
            order_id=order_id,
            node="accept",
            party=PartyRole.BUYER,
            due_at=due_at,
            consequence=consequence,
            parties=p,
        ),
    )


def deadline_cleared(
    p: Parties, deadline_id: str, order_id: str, at: datetime, reason: str = "acted"
) -> DeadlineCleared:
    return DeadlineCleared(
        producer="t",
        correlation_id="c",
        order_id=order_id,
        payload=DeadlineClearedPayload(
            deadline_id=deadline_id,
            kind=DeadlineKind.AUTO_ACCEPTANCE,
            service_order_id="SO",
            order_id=order_id,
            reason=reason,  # type: ignore[arg-type]
            parties=p,
            cleared_at=at,
        ),
    )
