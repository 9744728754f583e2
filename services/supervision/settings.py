"""Settings of the supervision service (env prefix SUPERVISION_). Durations are configurable so tests can
shrink them; the defaults are the marketplace's (dossier §2.4, §5.1, §5.3, §1.5)."""

from datetime import date, timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.supervision.rules import Policy
from shared.platform.settings import ServiceSettings
from shared.workdays import WorkdayCalendar, overrides

DAY = 86400.0


class SupervisionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUPERVISION_")  # and the shared settings\' configuration

    service_name: str = "supervision"
    http_port: int = Field(8002, ge=1, le=65535)

    hardware_auto_accept_seconds: float = Field(10 * DAY, gt=0, description="After the courier's sign-off")
    idle_seconds: float = Field(
        5 * DAY, gt=0, description="A party's step waiting this long allows an appeal"
    )
    long_running_seconds: float = Field(180 * DAY, gt=0, description="Not accepted this long after payment")
    appeal_sla_business_days: int = Field(3, ge=1)
    appeal_sla_seconds: float | None = Field(None, gt=0, description="Tests only: an SLA in seconds instead")
    # Working days (the appeal SLA): the Chinese statutory calendar with its make-up working weekends, then
    # an override file for what it does not know yet (shared/workdays/overrides.toml unless this names
    # another, e.g. one mounted from a ConfigMap), then extra days off as a JSON list of Beijing dates, e.g.
    # SUPERVISION_HOLIDAYS='["2027-01-01"]'.
    workday_overrides_file: Path | None = None
    holidays: list[date] = Field(default_factory=list)
    timer_poll_seconds: float = Field(1.0, gt=0)
    timer_lease_seconds: float = Field(10.0, gt=1)
    # A deadline whose firing fails is retried with backoff (doubling to 5 minutes), then quarantined.
    timer_max_attempts: int = Field(10, ge=1, le=100)
    timer_backoff_seconds: float = Field(2.0, gt=0)
    evidence_max_bytes: int = Field(8 * 1024 * 1024, ge=1, le=15 * 1024 * 1024)  # one BSON document each
    evidence_content_types: list[str] = Field(
        default_factory=lambda: [
            "application/pdf",
            "image/png",
            "image/jpeg",
            "text/plain",
            "application/zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ]
    )

    def workday_calendar(self) -> WorkdayCalendar:
        """The statutory calendar with the override file's days and the extra days off (read once, at start;
        a bad override file stops the start naming its bad entry)."""
        days = overrides.load(self.workday_overrides_file)
        days.update(dict.fromkeys(self.holidays, False))
        return WorkdayCalendar(days)

    def policy(self) -> Policy:
        return Policy(
            hardware_auto_accept=timedelta(seconds=self.hardware_auto_accept_seconds),
            idle=timedelta(seconds=self.idle_seconds),
            long_running=timedelta(seconds=self.long_running_seconds),
            appeal_sla_business_days=self.appeal_sla_business_days,
            appeal_sla_override=timedelta(seconds=self.appeal_sla_seconds)
            if self.appeal_sla_seconds
            else None,
            calendar=self.workday_calendar(),
        )
