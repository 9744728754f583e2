"""What the sinks have accepted (JSON-lines files plus an in-memory copy) and the faults they inject."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Row = dict[str, Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Fault:
    """Refuse the next `fail_next` requests, or every request while `failing` is on."""

    fail_next: int = 0
    failing: bool = False
    status: int = 503  # HTTP status for the SMS API; the SMTP side always answers 451

    def take(self) -> bool:
        if self.failing:
            return True
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return False


class JsonLines:
    """An append-only JSON-lines file mirrored in memory (the sinks are a single asyncio process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[Row] = []
        if path.exists():
            self.rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]

    def append(self, row: Row) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows.append(row)

    def clear(self) -> None:
        self.path.write_text("", encoding="utf-8")
        self.rows.clear()


@dataclass
class SinkStore:
    data_dir: Path
    smtp_fault: Fault = field(default_factory=Fault)
    sms_fault: Fault = field(default_factory=Fault)
    sms_status: dict[str, str] = field(default_factory=dict)  # sid -> queued / sent / delivered

    def __post_init__(self) -> None:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.mail = JsonLines(self.data_dir / "mail.jsonl")
        self.sms = JsonLines(self.data_dir / "sms.jsonl")

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def add_mail(self, raw: bytes, row: Row) -> None:
        (self.mail_dir / f"{row['id']}.eml").write_bytes(raw)
        self.mail.append(row)

    def clear_mail(self) -> None:
        for eml in self.mail_dir.glob("*.eml"):
            eml.unlink()
        self.mail.clear()

    def find_sms(self, sid: str) -> Row | None:
        return next((row for row in self.sms.rows if row["id"] == sid), None)

    def reset_faults(self) -> None:
        self.smtp_fault, self.sms_fault = Fault(), Fault()
