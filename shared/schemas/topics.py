"""Topic names. Every topic has a dead-letter twin `<topic>.dlt` that receives what a consumer gave up on."""

from enum import StrEnum


class Topic(StrEnum):
    ACCOUNT_REGISTERED = "account.registered"
    ACCOUNT_ERASED = "account.erased"
    ORDER_PAID = "order.paid"
    MILESTONE_CONFIRMED = "milestone.confirmed"
    APPEAL_RAISED = "appeal.raised"
    APPEAL_RESOLVED = "appeal.resolved"
    ACCEPTANCE_DONE = "acceptance.done"
    ORDER_STATUS_CHANGED = "order.status_changed"
    REFUND_REQUESTED = "refund.requested"
    REFUND_DECIDED = "refund.decided"
    DEADLINE_SCHEDULED = "deadline.scheduled"
    DEADLINE_CLEARED = "deadline.cleared"
    MERCHANT_CALL_FAILED = "merchant_call.failed"
    NOTICE_REQUESTED = "notice.requested"
    PRODUCT_FROZEN = "product.frozen"
    SUPERVISION_OVERDUE = "supervision.overdue"
    LICENSE_ACTIVATED = "license.activated"


TOPICS: tuple[Topic, ...] = tuple(Topic)


def dead_letter(topic: str) -> str:
    return f"{topic}.dlt"
