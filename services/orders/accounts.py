"""Accounts (buyer, merchant, provider, operator) with their bound email and phone."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel

from shared.schemas import AccountRegistered, AccountRegisteredPayload, AccountRole

PRODUCER = "orders"


class Account(BaseModel):
    account_id: str
    role: AccountRole
    display_name: str
    bound_email: str
    bound_phone: str
    locale: Literal["zh-CN", "en-US"] = "zh-CN"
    created_at: AwareDatetime

    def registered(self, correlation_id: str) -> AccountRegistered:
        return AccountRegistered(producer=PRODUCER, correlation_id=correlation_id,
                                 payload=AccountRegisteredPayload(**self.model_dump(exclude={"created_at"})))
