"""How fit a SaaS product's merchant interfaces are to trade (dossier §8.2.2, §8.2.8). Pure.

Two rules, each a measure partner decides and orders applies to its catalogue (`product.frozen`):
- §8.2.2: "more than 5 failed orders in a month caused by interface failures → the product is delisted". A
  failed order is a new purchase whose instance never opened (its creation call or the polling of an
  asynchronous creation gave up, and the order is refunded). Months are Beijing months (UTC+8).
- §8.2.8: dial tests "every morning and afternoon … 5 consecutive days of dial-test failure → ops freezes
  trading and hides the product". [I] The seed does not say when a day fails: here a day fails when all of
  its dial tests failed (a morning outage recovered by the afternoon is not a failing day), and it is judged
  once both of its tests are in. A day without results (the tests did not run) breaks a run of failing days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from shared.workdays import BEIJING

MAX_FAILED_ORDERS = 5  # §8.2.2: "more than 5" in a month delists
FAILING_DAYS = 5  # §8.2.8: 5 consecutive days of dial-test failure freeze trading
DIAL_SLOTS = ("am", "pm")  # §8.2.8: every morning and afternoon
Measure = Literal["frozen", "delisted"]


def beijing_month(at: datetime) -> str:
    """The Beijing month of an instant, `yyyymm`."""
    local = at.astimezone(BEIJING)
    return f"{local.year}{local.month:02d}"


class Decision(BaseModel):
    measure: Measure
    cause: Literal["interface_failures", "dial_tests"]
    detail: str


class ProductHealth(BaseModel):
    product_id: str
    merchant_id: str
    failed_orders: dict[str, list[str]] = Field(default_factory=dict)  # Beijing month → failed order ids
    dial_days: dict[str, dict[str, bool]] = Field(default_factory=dict)  # yyyy-mm-dd → slot → passed
    measure: Literal["live", "frozen", "delisted"] = "live"
    version: int = 0

    @property
    def trading(self) -> bool:
        return self.measure == "live"

    def order_failed(self, order_id: str, at: datetime) -> Decision | None:
        """Count a failed order in its Beijing month (once per order); the 6th of a month delists."""
        month = beijing_month(at)
        failed = self.failed_orders.setdefault(month, [])
        if order_id in failed:
            return None
        failed.append(order_id)
        for old in sorted(self.failed_orders)[:-2]:  # only the current and the previous month matter
            del self.failed_orders[old]
        if len(failed) > MAX_FAILED_ORDERS and self.measure != "delisted":
            self.measure = "delisted"
            return Decision(
                measure="delisted",
                cause="interface_failures",
                detail=f"{len(failed)} orders failed from interface failures in {month[:4]}-{month[4:]} "
                f"(Beijing time); more than {MAX_FAILED_ORDERS} delist the product (dossier §8.2.2)",
            )
        return None

    def dial_tested(self, day: date, slot: str, passed: bool) -> Decision | None:
        """Record one dial test of a Beijing day; the 5th consecutive failing day freezes trading."""
        results = self.dial_days.setdefault(day.isoformat(), {})
        results[slot] = passed
        for old in sorted(self.dial_days)[: -FAILING_DAYS * 2]:
            del self.dial_days[old]
        if self.measure != "live" or self.failing_run(day) < FAILING_DAYS:
            return None
        self.measure = "frozen"
        return Decision(
            measure="frozen",
            cause="dial_tests",
            detail=f"the dial tests failed on {FAILING_DAYS} consecutive days up to {day.isoformat()} "
            "(Beijing time): trading is frozen and the product hidden (dossier §8.2.8)",
        )

    def day_failed(self, day: date) -> bool:
        results = self.dial_days.get(day.isoformat(), {})
        return all(slot in results for slot in DIAL_SLOTS) and not any(results.values())

    def failing_run(self, day: date) -> int:
        """How many consecutive failing days end on `day`."""
        run = 0
        while self.day_failed(day - timedelta(days=run)):
            run += 1
        return run


def dial_slots_due(now: datetime, hours: list[int]) -> list[tuple[date, str]]:
    """The dial tests of today (Beijing) whose hour has come: (day, slot), the morning's first."""
    local = now.astimezone(BEIJING)
    return [(local.date(), slot) for slot, hour in zip(DIAL_SLOTS, hours, strict=True) if local.hour >= hour]
