"""On-demand usage pushed by the merchant (按需使用量推送, dossier §8.2.9): what a push may carry, and the
`MKT.*` codes it is answered with. Pure.

The real interface is KooGallery's open API with AK/SK signing; here the merchant signs the push with the
access key of its production endpoint, exactly as partner signs its calls to the merchant (§8.3 V2: `x-sign`,
`x-timestamp` within 60 s, `x-nonce` never accepted twice), and names itself in `x-merchant-id`. The body:

    {"usageRecords": [{"recordId", "instanceId", "usageMeasureId", "usageValue", "beginTime", "endTime"}]}

([I] §8.2.9 names the codes and limits, not the body; the fields follow its words: records, record id,
instance, `beginTime`.) A record id is the merchant's idempotency key: a record pushed again is answered `005`
(duplicate) and stored once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from shared.schemas import Money

MAX_RECORDS = 1000  # §8.2.9 MKT.9003
MAX_AGE = timedelta(days=21)  # §8.2.9 MKT.9004: a record's beginTime at most 21 days back
ON_DEMAND = {"pay_per_use", "pay_per_use_package"}

# §8.2.9 request codes → (HTTP status, meaning)
CODES: dict[str, tuple[int, str]] = {
    "MKT.0000": (200, "success"),
    "MKT.0101": (400, "the body is not a usage push"),
    "MKT.0102": (401, "invalid body sign"),
    "MKT.0150": (401, "authentication failed: unknown merchant or no access key"),
    "MKT.0151": (401, "authentication failed: stale timestamp or replayed nonce"),
    "MKT.9001": (404, "instance not found"),
    "MKT.9002": (400, "invalid usage entities"),
    "MKT.9003": (400, f"more than {MAX_RECORDS} records"),
    "MKT.9004": (400, "a record's beginTime is more than 21 days back"),
}
# record-level codes (§8.2.9 "001–013"): stored, duplicate record id, not an on-demand instance
STORED, DUPLICATE, NOT_ON_DEMAND = "000", "005", "012"

Text = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]


class UsageRefused(Exception):
    """The push is refused as a whole, with its MKT code."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail or CODES[code][1]}")
        self.code, self.detail = code, detail or CODES[code][1]

    @property
    def status(self) -> int:
        return CODES[self.code][0]


class UsageRecordIn(BaseModel):
    recordId: Text
    instanceId: Text
    usageMeasureId: Text = "default"
    usageValue: Decimal = Field(ge=0, max_digits=18, decimal_places=6)
    beginTime: AwareDatetime
    endTime: AwareDatetime


class UsageRecord(BaseModel):
    """A stored usage record, for billing; `key` is merchant id + record id (the idempotency key)."""

    key: str
    merchant_id: str
    record_id: str
    instance_id: str
    order_id: str
    measure: str
    value: Money
    begin_time: AwareDatetime
    end_time: AwareDatetime
    received_at: AwareDatetime
    version: int = 0


@dataclass(frozen=True)
class Outcome:
    record_id: str
    code: str


def records_of(body: Any, now: datetime) -> list[UsageRecordIn]:
    """The records of a push body, or UsageRefused with the code §8.2.9 gives."""
    if not isinstance(body, dict) or not isinstance(body.get("usageRecords"), list):
        raise UsageRefused("MKT.0101", "the body must be a JSON object with a usageRecords list")
    raw = body["usageRecords"]
    if len(raw) > MAX_RECORDS:
        raise UsageRefused("MKT.9003", f"{len(raw)} records; at most {MAX_RECORDS} in one push")
    if not raw:
        raise UsageRefused("MKT.9002", "usageRecords is empty")
    records: list[UsageRecordIn] = []
    for i, item in enumerate(raw):
        try:
            record = UsageRecordIn.model_validate(item)
        except ValidationError as exc:
            where = ".".join(str(p) for p in exc.errors()[0]["loc"])
            raise UsageRefused("MKT.9002", f"usageRecords[{i}].{where}: {exc.errors()[0]['msg']}") from exc
        if record.endTime < record.beginTime or record.beginTime > now:
            raise UsageRefused("MKT.9002", f"usageRecords[{i}]: beginTime must be past and before endTime")
        if record.beginTime < now - MAX_AGE:
            raise UsageRefused("MKT.9004", f"usageRecords[{i}].beginTime is more than 21 days back")
        records.append(record)
    return records
