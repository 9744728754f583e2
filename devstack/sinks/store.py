"""What the SMS sink has accepted (an append-only JSON-lines file plus an indexed in-memory copy) and its
faults.

Each message costs one appended line and two dictionary inserts, whatever the sink already holds: lookups by
message SID and listings by recipient read the indexes, never the whole store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Row = dict[str, Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Fault:
    """Refuse the next `fail_next` requests, or every request while `failing` is on, with HTTP `status`."""

    fail_next: int = 0
    failing: bool = False
    status: int = 503

    def take(self) -> bool:
        if self.failing:
            return True
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return False


class SmsStore:
    """The sink is a single asyncio process: no locking, and the file is only ever appended to."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "sms.jsonl"
        self.rows: list[Row] = []
        self.by_sid: dict[str, Row] = {}
        self.by_to: dict[str, list[Row]] = {}
        self.status: dict[str, str] = {}  # sid -> queued / sent / delivered
        self.fault = Fault()
        if self.path.exists():
            for line in self.path.read_text("utf-8").splitlines():
                if line.strip():
                    self._index(json.loads(line))
        self._file = self.path.open("a", encoding="utf-8")  # kept open: one write per message

    def _index(self, row: Row) -> None:
        self.rows.append(row)
        self.by_sid[row["id"]] = row
        self.by_to.setdefault(row["to"], []).append(row)

    def append(self, row: Row) -> None:
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()
        self._index(row)

    def find(self, sid: str) -> Row | None:
        return self.by_sid.get(sid)

    def to(self, number: str) -> list[Row]:
        return self.by_to.get(number, [])

    def clear(self) -> None:
        self._file.truncate(0)
        self.rows.clear()
        self.by_sid.clear()
        self.by_to.clear()
        self.status.clear()

    def close(self) -> None:
        self._file.close()
