"""The in-site inbox (站内信): the messages an account reads on the site. Pure."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from services.notification.domain import Delivery


class InboxMessage(BaseModel):
    """An in-site message (站内信) in an account's inbox."""

    message_id: str
    account_id: str
    category: str
    title: str
    body: str
    order_id: str | None = None
    read: bool = False
    created_at: AwareDatetime

    @classmethod
    def of(cls, delivery: Delivery) -> InboxMessage:
        """The inbox copy of an in-site delivery: its id, account, category, text, order and time."""
        copied = delivery.model_dump(
            include={"account_id", "category", "title", "body", "order_id", "created_at"}
        )
        return cls(message_id=delivery.delivery_id, **copied)
