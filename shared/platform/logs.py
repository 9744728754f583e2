"""JSON logs with the fields we search by, and contact data masked before anything is written."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.schemas.envelope import Event

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# Phones are stored and logged as E.164 ("+" and digits): ids and offsets that happen to be digits stay
# readable.
_PHONE = re.compile(r"(?<![\w+])\+\d{5,13}(\d{2})(?!\d)")
FIELDS = (
    "event_id",
    "event_type",
    "correlation_id",
    "order_id",
    "topic",
    "offset",
    "reason",
    "attempts",
    "service",
    "delivery_id",
    "channel",
)


def event_fields(event: Event) -> dict[str, str | None]:
    """A consumed event's ids, as a log line's `extra`: what its lines are searched by."""
    return {
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "order_id": event.order_id,
        "correlation_id": event.correlation_id,
    }


def mask(text: str) -> str:
    """`alice@example.com` -> `a***@example.com`, `+8613800001234` -> `***34`."""
    return _PHONE.sub(lambda m: "***" + m.group(1), _EMAIL.sub(r"\1***@\2", text))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = mask(str(value))
        if record.exc_info:
            out["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def configure(service: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "pymongo", "uvicorn.access", "httpx", "twilio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
