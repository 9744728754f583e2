"""The working-day calendar (shared/workdays): the Chinese statutory calendar with its make-up working weekends
(调休), an override file for what it does not know yet, and the supervision settings that build it."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from services.supervision.settings import SupervisionSettings
from shared.workdays import BEIJING, WorkdayCalendar, overrides
from tests.service.rig import FAST

pytestmark = pytest.mark.unit


def bj(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=BEIJING)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 10, 1), False),  # National Day, a Thursday
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # a Saturday worked for National Day (调休)
        (date(2026, 9, 20), True),  # a Sunday worked too
        (date(2026, 10, 11), False),  # an ordinary Sunday
        (date(2026, 2, 16), False),  # Spring Festival, a Monday
        (date(2026, 3, 9), True),
    ],
)
def test_the_statutory_calendar_decides_holidays_and_make_up_weekends(day: date, working: bool) -> None:
    assert WorkdayCalendar().is_workday(day) is working


def test_an_override_wins_over_the_statutory_calendar() -> None:
    cal = WorkdayCalendar({date(2026, 10, 8): False, date(2026, 10, 11): True})
    assert not cal.is_workday(date(2026, 10, 8))
    assert cal.is_workday(date(2026, 10, 11))
    assert cal.add_workdays(bj(2026, 9, 30), 3) == bj(2026, 10, 11)  # 9, 10, 11 October


def test_a_year_the_library_does_not_know_counts_monday_to_friday_until_it_is_added() -> None:
    plain = WorkdayCalendar()
    assert not plain.knows(2027)
    assert plain.knows(2026)
    assert plain.is_workday(date(2027, 1, 1))  # a Friday; its holiday is not known yet
    assert plain.add_workdays(bj(2026, 12, 30), 3) == bj(2027, 1, 4)
    added = WorkdayCalendar({date(2027, 1, 1): False})
    assert added.knows(2027)
    assert added.add_workdays(bj(2026, 12, 30), 3) == bj(2027, 1, 5)


def test_the_override_file_is_read_and_a_bad_entry_is_refused_by_name(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[days]\n2027-01-01 = "holiday"\n2027-02-20 = "workday"\n')
    assert overrides.load(good) == {date(2027, 1, 1): False, date(2027, 2, 20): True}
    kind = tmp_path / "kind.toml"
    kind.write_text('[days]\n2027-01-01 = "day off"\n')
    with pytest.raises(ValueError, match=r"2027-01-01: 'day off' is neither"):
        overrides.load(kind)
    day = tmp_path / "day.toml"
    day.write_text('[days]\n2027-13-01 = "holiday"\n')
    with pytest.raises(ValueError, match=r"'2027-13-01' is not a date"):
        overrides.load(day)


def test_the_shipped_override_file_loads() -> None:
    assert all(isinstance(d, date) for d in overrides.load())


def test_supervision_builds_its_calendar_from_the_file_and_the_extra_days_off(tmp_path: Path) -> None:
    file = tmp_path / "overrides.toml"
    file.write_text('[days]\n2027-01-01 = "holiday"\n')
    settings = SupervisionSettings(
        **FAST, workday_overrides_file=file, holidays=[date(2026, 12, 31)], oidc_issuer_url="https://id.test"
    )
    policy = settings.policy()
    assert not policy.calendar.is_workday(date(2027, 1, 1))
    assert not policy.calendar.is_workday(date(2026, 12, 31))
    assert policy.appeal_due(bj(2026, 12, 30)) == bj(2027, 1, 6)  # 4, 5, 6 January
