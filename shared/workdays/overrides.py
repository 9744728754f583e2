"""Reading an override file of the working-day calendar (TOML):

    [days]
    2027-01-01 = "holiday"     # a day off the statutory calendar does not know yet
    2027-02-20 = "workday"     # a make-up working weekend (调休)

Keys are Beijing dates, values `holiday` or `workday`. A bad entry fails at start, naming it.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

DEFAULT = Path(__file__).with_name("overrides.toml")
KINDS = {"holiday": False, "workday": True}


def load(path: Path | None = None) -> dict[date, bool]:
    """The overrides of `path` (the file beside this module when None): date -> working day or not."""
    source = path or DEFAULT
    with source.open("rb") as f:
        data = tomllib.load(f)
    days = data.get("days", {})
    if not isinstance(days, dict):
        raise ValueError(f'{source}: [days] must be a table of date = "holiday" | "workday"')
    out: dict[date, bool] = {}
    for key, kind in days.items():
        day = _date(source, key)
        if kind not in KINDS:
            raise ValueError(f'{source}: {day}: {kind!r} is neither "holiday" nor "workday"')
        out[day] = KINDS[kind]
    return out


def _date(source: Path, key: str) -> date:
    try:
        return date.fromisoformat(key)
    except ValueError:
        raise ValueError(f"{source}: {key!r} is not a date (YYYY-MM-DD)") from None
