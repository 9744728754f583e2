"""The one definition of every event the suite exchanges: envelope, payloads and topic names.

Consumers read tolerantly (unknown fields are ignored); producers change additively; a breaking change is a
new `schema_version` or a new topic.
"""

from shared.schemas.enums import (
    AccountRole,
    AppealOutcome,
    BillingMode,
    DeliveryType,
    PartyRole,
    SaleMode,
)
from shared.schemas.envelope import Event, Money
from shared.schemas.events import (
    EVENT_TYPES,
    AcceptanceDone,
    AcceptanceDonePayload,
    AccountRegistered,
    AccountRegisteredPayload,
    AppealRaised,
    AppealRaisedPayload,
    AppealResolved,
    AppealResolvedPayload,
    MilestoneConfirmed,
    MilestoneConfirmedPayload,
    OrderPaid,
    OrderPaidPayload,
    Parties,
    ProductSnapshot,
)
from shared.schemas.topics import TOPICS, Topic, dead_letter

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "AcceptanceDone",
    "AcceptanceDonePayload",
    "AccountRegistered",
    "AccountRegisteredPayload",
    "AccountRole",
    "AppealOutcome",
    "AppealRaised",
    "AppealRaisedPayload",
    "AppealResolved",
    "AppealResolvedPayload",
    "BillingMode",
    "DeliveryType",
    "Event",
    "MilestoneConfirmed",
    "MilestoneConfirmedPayload",
    "Money",
    "OrderPaid",
    "OrderPaidPayload",
    "Parties",
    "PartyRole",
    "ProductSnapshot",
    "SaleMode",
    "Topic",
    "dead_letter",
]
