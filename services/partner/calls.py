"""Calls to merchants' production endpoints (dossier §8.1 Kit, §8.2 SaaS lifecycle): pure models and policy.

A call is a durable document: built once (body fixed, client secret already encrypted), attempted by the call
worker when due, and after a failure either rescheduled by its retry policy or given up (final):
- "long": new purchase and upgrade — hourly for 3 hours (§8.2.2, §8.2.6); a new purchase given up is refunded;
- "short": renewal, expiry and release — for 1 hour (§8.2.3–8.2.5); [I] every 10 minutes (no interval given);
- "manual": the Kit syncs and the dial tests — one attempt; the buyer or admin chooses whether to retry (§8.1
  table);
- "poll": queryInstance after a new purchase answered `000004` (processing, §8.2.2) — every poll interval
  until the instance is ready, the merchant reports a failure, or the poll window ends ([I]: §8.2.2 says
  KooGallery "later calls query instance info" and names no interval; both are settings).
Every failed attempt is published as merchant_call.failed so the merchant is told by SMS and email.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.platform.errors import DomainError
from shared.schemas import Money

Policy = Literal["long", "short", "manual", "poll"]
KIT_PATHS = {
    "tenantSync": "/produceAPI/v2/tenantSync",
    "applicationSync": "/produceAPI/v2/applicationSync",
    "authSync": "/produceAPI/v2/authSync",
    "singleOrgSync": "/produceAPI/v2/singleOrgSync",
    "allOrgSync": "/produceAPI/v2/allOrgSync",
}
SAAS_PATH = (
    "/saas/v2/instance"  # [I] V2 names the basic interfaces, not their sub-paths: one path, by activity
)
# order_type → (activity, policy); §8.2.2 new purchase, §8.2.3 renewal, §8.2.6 upgrade, §8.2.5 release
LIFECYCLE: dict[str, tuple[str, Policy]] = {
    "new": ("newInstance", "long"),
    "renewal": ("refreshInstance", "short"),
    "upgrade": ("upgrade", "long"),
    "unsubscribe": ("releaseInstance", "short"),
    "expiry": ("expireInstance", "short"),
}
_UTC8 = timezone(timedelta(hours=8))
MAX_USERS_PER_SYNC = 500  # §8.1 user-auth sync
OK_CODES = {"000000", "000004"}  # success, and "processing" (async creation) for a new purchase
PROCESSING = "000004"  # §8.2.2 V2: the instance is being created; KooGallery then polls queryInstance


class MerchantEndpoint(BaseModel):
    merchant_id: str
    production_url: str
    access_key: str
    public_key_pem: str
    version: int = 0


class Attempt(BaseModel):
    at: AwareDatetime
    ok: bool
    status_code: int | None = None
    error: str = (
        ""  # the class the console shows: timeout, tls_error, blocked_address, http_5xx, bad_signature …
    )
    detail: str = ""  # in our words (or the merchant's own resultMsg), never raw transport text
    replay: bool = False


class RetryTimes(BaseModel):
    long_interval: float
    long_window: float
    short_interval: float
    short_window: float
    poll_interval: float = 60.0  # [I] queryInstance polling (§8.2.2 names no interval)
    poll_window: float = 3 * 3600.0  # [I] as long as a failing new purchase is retried (§8.2.2: 3 hours)


class MerchantCall(BaseModel):
    call_id: str
    merchant_id: str
    endpoint: str  # tenantSync … allOrgSync, newInstance, refreshInstance, upgrade, releaseInstance, …
    kind: Literal["kit", "saas"]
    path: str
    body: dict[str, Any]
    order_id: str | None = None
    buyer_id: str | None = None
    policy: Policy
    status: Literal["pending", "succeeded", "failed", "cancelled"] = "pending"
    created_at: AwareDatetime
    due_at: AwareDatetime | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    replays: int = 0
    result: dict[str, Any] = Field(default_factory=dict)
    erased_at: AwareDatetime | None = None  # the buyer's contact data in the body was erased (account.erased)
    version: int = 0

    @classmethod
    def of_sale(
        cls,
        sale: Sale,
        call_id: str,
        endpoint: str,
        body: dict[str, Any],
        policy: Policy,
        due: datetime,
        order_id: str | None = None,
    ) -> MerchantCall:
        """A call about the sale, due at `due`: a Kit sync by its endpoint's path, else a SaaS lifecycle
        call."""
        kit = endpoint in KIT_PATHS
        return cls(
            call_id=call_id,
            merchant_id=sale.merchant_id,
            endpoint=endpoint,
            kind="kit" if kit else "saas",
            path=KIT_PATHS[endpoint] if kit else SAAS_PATH,
            body=body,
            order_id=order_id or sale.order_id,
            buyer_id=sale.buyer_id,
            policy=policy,
            created_at=due,
            due_at=due,
        )

    @property
    def is_dial_test(self) -> bool:
        return self.call_id.startswith("dial:")

    @property
    def consequence(self) -> Literal["refund", "none"]:
        """A new purchase that never opens is refunded (§8.2.2), whether its creation call or the polling of
        an asynchronous creation gave up; the dial tests' queries concern no order."""
        opens = self.endpoint == "newInstance" or (self.endpoint == "queryInstance" and self.policy == "poll")
        return "refund" if opens else "none"

    def cancel(self) -> bool:
        """A scheduled call that is no longer wanted (a lapse release after the instance was released by an
        unsubscribe); True when it changed. Only a call never attempted: one in flight finishes."""
        if self.status != "pending" or self.attempts:
            return False
        self.status, self.due_at = "cancelled", None
        return True

    def still_processing(self, now: datetime, status_code: int, times: RetryTimes) -> bool:
        """queryInstance answered `000004` again: poll again after the interval; True when the poll window is
        over (then the caller records the final failure)."""
        nxt = now + timedelta(seconds=times.poll_interval)
        if nxt > self.created_at + timedelta(seconds=times.poll_window + 0.001):
            return True
        self.attempts.append(Attempt(at=now, ok=True, status_code=status_code, detail="000004 processing"))
        self.due_at = nxt
        return False

    def succeeded(self, now: datetime, status_code: int, result: dict[str, Any], replay: bool) -> None:
        self.attempts.append(Attempt(at=now, ok=True, status_code=status_code, replay=replay))
        self.status, self.due_at, self.result = "succeeded", None, result

    def failed(
        self,
        now: datetime,
        error: str,
        status_code: int | None,
        replay: bool,
        times: RetryTimes,
        detail: str = "",
        give_up: bool = False,
    ) -> bool:
        """Record a failed attempt; True when it is final (the policy gives up, or `give_up`: the merchant
        answered that the instance failed, which no retry changes)."""
        self.attempts.append(
            Attempt(
                at=now,
                ok=False,
                status_code=status_code,
                error=error[:64],
                detail=detail[:300],
                replay=replay,
            )
        )
        interval, window = {
            "long": (times.long_interval, times.long_window),
            "short": (times.short_interval, times.short_window),
            "poll": (times.poll_interval, times.poll_window),
        }.get(self.policy, (0.0, 0.0))
        # Due times count from the first attempt (0, 1, 2, 3 hours), so a slow round never loses the last try.
        nxt = max(now, self.created_at + timedelta(seconds=interval * len(self.attempts)))
        planned = self.created_at + timedelta(seconds=interval * len(self.attempts))
        if (
            give_up
            or self.policy == "manual"
            or replay
            or planned > self.created_at + timedelta(seconds=window + 0.001)
        ):
            self.status, self.due_at = "failed", None
            return True
        self.due_at = nxt
        return False

    def replay(self, now: datetime) -> None:
        """Merchant console "重新启动" / buyer retry: one more attempt of a given-up call, never of a pending
        or succeeded one, so a replay is delivered exactly once."""
        if self.status != "failed":
            raise DomainError(f"call {self.call_id} is {self.status}; only a failed call can be replayed")
        if self.erased_at is not None:
            raise DomainError(
                f"call {self.call_id} carried contact data that was erased; it cannot be sent again"
            )
        self.status, self.due_at, self.replays = "pending", now, self.replays + 1


class Sale(BaseModel):
    """A SaaS or joint-operation order, as far as the merchant calls need it."""

    order_id: str
    buyer_id: str
    merchant_id: str
    product_id: str
    product_name: str = ""  # as sold: what a notice about the sale names
    delivery_type: str
    sale_mode: str
    original_order_id: str | None = None  # a renewal / upgrade / unsubscribe: the order it changes
    instance_id: str | None = None
    billing_mode: str | None = None  # as sold (usage is pushed for pay-per-use instances only, §8.2.9)
    amount: Money | None = None  # what the order was paid (an upgrade prorates against it, §8.2.6)
    period_months: int | None = None
    validity_ends_at: AwareDatetime | None = None  # the instance's expiry, from order.status_changed
    version: int = 0

    @property
    def root_order_id(self) -> str:
        return self.original_order_id or self.order_id


_INT64 = 2**63
_DEPTH = 16


def storable(value: Any, depth: int = 0) -> Any:
    """A merchant's (signed, parsed) answer in a form the database can always keep: integers beyond 8 bytes
    and nesting beyond a few levels become text, and keys lose what BSON or Mongo refuse (NUL, a leading `$`,
    dots). An answer we cannot store would fail the recording of its attempt, every round, for every
    merchant."""
    if isinstance(value, bool) or value is None or isinstance(value, float | str):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if depth >= _DEPTH:
        return json.dumps(value)[:1000]
    if isinstance(value, dict):
        return {
            str(k).replace("\x00", "").lstrip("$").replace(".", "_") or "_": storable(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [storable(v, depth + 1) for v in value]
    return str(value)


def timestamp_utc8(now: datetime) -> str:
    """§8.1 `timeStamp`: UTC+8, yyyyMMddHHmmssSSS."""
    local = now.astimezone(_UTC8)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


# What account.erased masks in a Kit call's body: the contact data of the buyer's enterprise users (§8.1 user
# object). The keys the merchant stores them under (userName, orgCode) and the enterprise's own data stay.
PERSONAL_USER_FIELDS = ("name", "mobile", "email", "position", "employeeCode", "workPlace", "entryDate")
MASK = "***"


def erase_contacts(call: MerchantCall, now: datetime) -> bool:
    """Mask the users' contact data a Kit call carries; True when the call changed (idempotent)."""
    changed = False
    for user in call.body.get("userList") or []:
        for key in PERSONAL_USER_FIELDS:
            if isinstance(user, dict) and user.get(key) not in (None, "", MASK):
                user[key], changed = MASK, True
    if call.erased_at is None and call.kind == "kit":
        call.erased_at, changed = now, True
    return changed


def user_batches(users: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [users[i : i + MAX_USERS_PER_SYNC] for i in range(0, len(users), MAX_USERS_PER_SYNC)] or [[]]
