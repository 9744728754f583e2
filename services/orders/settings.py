from datetime import date
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings
from shared.workdays import WorkdayCalendar, overrides


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_")  # and the shared settings\' configuration

    service_name: str = "orders"
    http_port: int = Field(8001, ge=1, le=65535)
    # Ed25519 public key (PEM) that verifies providers' private links (shared/schemas/links.py).
    private_link_public_key: str | None = None
    # Unpaid orders are cancelled after this window (dossier §1.3 "automatically by the system"; [?] the
    # dossier gives no duration, so 30 minutes, a common marketplace default; tests shrink it to seconds).
    unpaid_cancel_minutes: float = Field(30.0, gt=0)
    sweeper_poll_seconds: float = Field(5.0, gt=0)
    sweeper_lease_seconds: float = Field(30.0, gt=1)
    # An order whose cancellation fails is retried with backoff (doubling to 5 minutes), then quarantined.
    sweeper_max_attempts: int = Field(10, ge=1, le=100)
    sweeper_backoff_seconds: float = Field(2.0, gt=0)
    # Working days (hardware unsubscribe reviews, settlement statement dates): the Chinese statutory calendar,
    # then an override file (shared/workdays/overrides.toml unless this names another), then extra days off.
    workday_overrides_file: Path | None = None
    holidays: list[date] = Field(default_factory=list)
    # The return clocks of hardware unsubscribes (returns.py) and the monthly statement production.
    clocks_poll_seconds: float = Field(5.0, gt=0)
    clocks_lease_seconds: float = Field(30.0, gt=1)
    clocks_max_attempts: int = Field(10, ge=1, le=100)
    clocks_backoff_seconds: float = Field(2.0, gt=0)
    # Statements are produced on the 7th (next working day) at this Beijing hour (dossier §4.3 [R21]; [I] the
    # dossier gives the day, not the hour).
    statement_hour: int = Field(10, ge=0, le=23)

    def workday_calendar(self) -> WorkdayCalendar:
        """The statutory calendar with the override file's days and the extra days off (read at start)."""
        days = overrides.load(self.workday_overrides_file)
        days.update(dict.fromkeys(self.holidays, False))
        return WorkdayCalendar(days)
