"""The in-site inbox (站内信): the messages an account reads on the site. Pure."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel


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
