"""Working days of the Chinese statutory calendar, in Beijing time (pure: no I/O).

Every working-day deadline (the operators' 3-working-day appeal SLA, dossier §5.3 and §5.4: "3 working days
(business calendar, UTC+8)"; review windows and settlement dates as they come) counts on this calendar:
public holidays are not working days, and the weekends the State Council makes working days (调休) are.

The statutory days come from `chinese-calendar`, which knows each year once the State Council has published
it (2004-2026 in the pinned version). Dates it does not know yet, or that an operator must correct, come from
an override file (`overrides.toml` beside this module, or the file a service's settings name); an override
always wins. A date neither knows is a working day from Monday to Friday, so an unpublished year still counts
sensibly until its schedule is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import chinese_calendar

BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class WorkdayCalendar:
    """Working days: an override (date -> working or not), else the statutory calendar, else Mon-Fri."""

    overrides: Mapping[date, bool] = field(default_factory=dict)

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        known = statutory(day)
        return day.weekday() < 5 if known is None else known

    def knows(self, year: int) -> bool:
        """Whether `year`'s holidays are known (the statutory calendar, or an override in that year)."""
        return statutory(date(year, 1, 1)) is not None or any(d.year == year for d in self.overrides)

    def add_workdays(self, start: datetime, days: int) -> datetime:
        """The same Beijing time of day `days` working days later (raised on Friday 10:00, 3 working days are
        due on Wednesday 10:00); raised on a day off, the count starts at the next working day's start."""
        local = start.astimezone(BEIJING)
        if not self.is_workday(local.date()):
            local = local.replace(hour=0, minute=0, second=0, microsecond=0)
            while not self.is_workday(local.date()):
                local += timedelta(days=1)
        remaining = days
        while remaining:
            local += timedelta(days=1)
            if self.is_workday(local.date()):
                remaining -= 1
        return local


def statutory(day: date) -> bool | None:
    """The statutory calendar's answer for `day`, or None for a year it does not know yet."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None
