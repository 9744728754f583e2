"""Who may write and read which topic: the one table the broker's ACLs are made from.

Each service has its own Kafka user. It may write the topics it produces and the dead-letter twins of the
topics it consumes (a consumer dead-letters what it gives up on), read the topics it consumes and the
dead-letter twins of those it produces (it keeps their dead letters and replays them, as their producer), and
use consumer groups named after itself (`<service>.<topic>`, `<service>.dead-letters`). Nothing else: the
notification service cannot publish `refund.decided`, and no pod but the orders service can announce an
account. A unit test checks this table against the publishers and subscribers each service registers, so it
cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.schemas.topics import Topic, dead_letter


@dataclass(frozen=True)
class Grants:
    produces: frozenset[Topic]
    consumes: frozenset[Topic]

    def writes(self) -> frozenset[str]:
        return frozenset(str(t) for t in self.produces) | frozenset(dead_letter(t) for t in self.consumes)

    def reads(self) -> frozenset[str]:
        """What it consumes, and the dead-letter twins of what it produces (its dead-letter store)."""
        return frozenset(str(t) for t in self.consumes) | frozenset(dead_letter(t) for t in self.produces)


T = Topic
# Facts for another service only (a frozen product for orders' catalogue, a legacy supervision overdue for
# orders to unsubscribe, a License activation for supervision's node): nobody is told of them as such; a
# producer that must tell people writes the notice with them.
BETWEEN_SERVICES: frozenset[Topic] = frozenset({T.PRODUCT_FROZEN, T.SUPERVISION_OVERDUE, T.LICENSE_ACTIVATED})
GRANTS: dict[str, Grants] = {
    "orders": Grants(
        produces=frozenset(
            {
                T.ACCOUNT_REGISTERED,
                T.ACCOUNT_ERASED,
                T.ORDER_PAID,
                T.ORDER_STATUS_CHANGED,
                T.REFUND_REQUESTED,
                T.REFUND_DECIDED,
                T.NOTICE_REQUESTED,
            }
        ),
        # Refunds are the orders service's alone (the buyer's request, the merchant's decision, an appeal
        # resolved with a refund, the money): it learns the guarantee period and the freeze from supervision's
        # events.
        consumes=frozenset(
            {
                T.ACCEPTANCE_DONE,
                T.MILESTONE_CONFIRMED,
                T.APPEAL_RAISED,
                T.APPEAL_RESOLVED,
                T.MERCHANT_CALL_FAILED,
                T.PRODUCT_FROZEN,  # partner's judgement of a product's interfaces; the catalogue is orders'
                T.SUPERVISION_OVERDUE,
            }
        ),
    ),
    "supervision": Grants(
        produces=frozenset(
            {
                T.MILESTONE_CONFIRMED,
                T.APPEAL_RAISED,
                T.APPEAL_RESOLVED,
                T.ACCEPTANCE_DONE,
                T.DEADLINE_SCHEDULED,
                T.DEADLINE_CLEARED,
                T.NOTICE_REQUESTED,
                T.SUPERVISION_OVERDUE,  # legacy orders unsubscribed by the system (dossier §1.5)
            }
        ),
        consumes=frozenset({T.ORDER_PAID, T.REFUND_DECIDED, T.ACCOUNT_ERASED, T.LICENSE_ACTIVATED}),
    ),
    # Notification hears every event but the facts one service keeps another informed of; what those decide
    # for people comes to it as `notice.requested` from their producer.
    "notification": Grants(produces=frozenset(), consumes=frozenset(Topic) - BETWEEN_SERVICES),
    "partner": Grants(
        produces=frozenset(
            {T.MERCHANT_CALL_FAILED, T.NOTICE_REQUESTED, T.PRODUCT_FROZEN, T.LICENSE_ACTIVATED}
        ),
        consumes=frozenset(
            {T.ORDER_PAID, T.ACCEPTANCE_DONE, T.REFUND_DECIDED, T.ORDER_STATUS_CHANGED, T.ACCOUNT_ERASED}
        ),
    ),
}
SERVICES: tuple[str, ...] = tuple(GRANTS)
