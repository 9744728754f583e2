"""The message centre (消息中心): recipients, their verification, and the daily change limit. Pure rules.

Dossier §6.2: add up to 10 recipients at a time (name, email, phone); a recipient receives messages only after
verifying both its email (a link) and its phone (the Chinese doc: a link in the SMS; we send a 6-digit code,
which users type more easily on a phone [I]); resend; at most 40 additions or modifications per day.
Deleting is not counted as a change [I]: it can only reduce what is sent, and users expect it always works.

SMS pumping (issue 9): every message the centre sends is paid for out of the same daily quota. Adding a
recipient, changing an address and resending each count as one change, so an account makes us send at most 40
verification e-mails and 40 verification SMS a day (dossier §6.2), and a resend never buys fresh guesses at a
code: see `Recipient.challenge`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from shared.platform.errors import DomainError, InvalidInput, LimitReached

MAX_PER_REQUEST = 10
MAX_CODE_ATTEMPTS = 5


class DailyLimitReached(LimitReached):
    code = "daily_limit"


class TooManyWrongCodes(LimitReached):
    code = "too_many_attempts"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class RecipientView(BaseModel):
    """What the API shows: never the verification secrets."""

    recipient_id: str
    account_id: str
    name: str
    email: str
    phone: str
    categories: list[str]
    email_verified: bool
    phone_verified: bool
    active: bool


class Recipient(BaseModel):
    recipient_id: str
    account_id: str
    name: str
    email: str
    phone: str
    categories: list[str] = Field(default_factory=list)
    email_verified: bool = False
    phone_verified: bool = False
    email_token_hash: str | None = None  # only hashes are stored: the secrets travel in the messages
    phone_code_hash: str | None = None
    code_attempts: int = 0
    challenge_expires_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None

    @property
    def active(self) -> bool:
        """Active only once both the email and the phone are verified (dossier §6.2)."""
        return self.email_verified and self.phone_verified

    def view(self) -> RecipientView:
        return RecipientView(
            active=self.active, **self.model_dump(include=set(RecipientView.model_fields) - {"active"})
        )

    def challenge(self, token: str, code: str, expires_at: datetime, now: datetime) -> Recipient:
        """New secrets for whatever is not verified yet (a new recipient, a changed address, a resend).

        The wrong-code counter survives a new code: a resend while guesses are left keeps the count, so it
        does not give an attacker fresh guesses. Only once the bound is reached does a new challenge renew it.
        Every challenge is counted against the daily quota (an addition, an address change or a resend,
        dossier §6.2), and each renews the guesses at most once, so an account gets at most MAX_CODE_ATTEMPTS
        x 40 = 200 wrong guesses a day, each time at a new random 6-digit code: at most 200 in a million."""
        exhausted = self.code_attempts >= MAX_CODE_ATTEMPTS
        return self.model_copy(
            update={
                "email_token_hash": None if self.email_verified else digest(token),
                "phone_code_hash": None if self.phone_verified else digest(code),
                "code_attempts": 0 if exhausted else self.code_attempts,
                "challenge_expires_at": expires_at,
                "updated_at": now,
            }
        )

    def edit(
        self,
        *,
        name: str | None,
        email: str | None,
        phone: str | None,
        categories: list[str] | None,
        now: datetime,
    ) -> Recipient:
        """A changed email or phone must be verified again; the rest takes effect at once."""
        update: dict[str, object] = {"updated_at": now}
        if name is not None:
            update["name"] = name
        if categories is not None:
            update["categories"] = categories
        if email is not None and email.lower() != self.email.lower():
            update |= {"email": email, "email_verified": False}
        if phone is not None and phone != self.phone:
            update |= {"phone": phone, "phone_verified": False}
        return self.model_copy(update=update)

    def verify_email(self, token: str, now: datetime) -> Recipient:
        if self.email_verified:
            return self
        self._not_expired(now)
        if self.email_token_hash is None or not hmac.compare_digest(self.email_token_hash, digest(token)):
            raise InvalidInput(
                "this verification link is not valid (it may have been replaced by a resend)", field="token"
            )
        return self.model_copy(update={"email_verified": True, "email_token_hash": None, "updated_at": now})

    def verify_phone(self, code: str, now: datetime) -> tuple[Recipient, bool]:
        """Returns the recipient and whether the code matched; wrong codes count toward a bound."""
        if self.phone_verified:
            return self, True
        self._not_expired(now)
        if self.code_attempts >= MAX_CODE_ATTEMPTS or self.phone_code_hash is None:
            raise TooManyWrongCodes(
                f"too many wrong codes ({MAX_CODE_ATTEMPTS}): ask for a new one with "
                "resend (a resend counts toward the daily limit of changes)"
            )
        if not hmac.compare_digest(self.phone_code_hash, digest(code)):
            return self.model_copy(update={"code_attempts": self.code_attempts + 1}), False
        verified = {"phone_verified": True, "phone_code_hash": None, "updated_at": now}
        return self.model_copy(update=verified), True

    def _not_expired(self, now: datetime) -> None:
        if self.challenge_expires_at is not None and now > self.challenge_expires_at:
            raise DomainError("the verification has expired: ask for a new one with resend")


def check_daily_quota(used: int, wanted: int, limit: int) -> None:
    """Dossier §6.2: recipients can be added or modified at most `limit` (40) times per day per account."""
    if used + wanted > limit:
        raise DailyLimitReached(
            f"daily limit reached: at most {limit} recipient additions or changes per account per day "
            f"({used} used today, this request needs {wanted})"
        )
