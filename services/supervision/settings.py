"""Settings of the supervision service (env prefix SUPERVISION_). Durations are configurable so tests can
shrink them; the defaults are the marketplace's (dossier §2.4, §5.1, §5.3, §1.5)."""

import logging
from datetime import date, timedelta
from pathlib import Path

from pydantic import AwareDatetime, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.supervision.checkpoints import TimelineKeys, load_private
from services.supervision.rules import Policy
from shared.platform.settings import ServiceSettings
from shared.workdays import WorkdayCalendar, overrides

DAY = 86400.0
log = logging.getLogger(__name__)


class SupervisionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUPERVISION_")  # and the shared settings\' configuration

    service_name: str = "supervision"
    http_port: int = Field(8002, ge=1, le=65535)

    hardware_auto_accept_seconds: float = Field(10 * DAY, gt=0, description="After the courier's sign-off")
    idle_seconds: float = Field(
        5 * DAY, gt=0, description="A party's step waiting this long allows an appeal"
    )
    long_running_seconds: float = Field(180 * DAY, gt=0, description="Not accepted this long after payment")
    # Dossier §1.5: orders paid before this instant follow the old rule (unsubscribed by the system after
    # legacy_close_seconds without acceptance). Unset: no order is legacy ([?] the dossier gives no date).
    legacy_rule_paid_before: AwareDatetime | None = None
    legacy_close_seconds: float = Field(365 * DAY, gt=0)
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

    # The timeline's signed checkpoints (checkpoints.py): the Ed25519 signing key, as a PEM file (e.g. a
    # mounted Secret) or in the environment (PEM, or the base64 of its raw 32 bytes), with its key id; the
    # retired keys' public halves stay listed (JSON: key id -> base64 raw public key) so older exports verify.
    timeline_key_id: str = Field("dev", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    timeline_private_key_file: Path | None = None
    timeline_private_key: SecretStr | None = None
    timeline_retired_public_keys: dict[str, str] = Field(default_factory=dict)
    timeline_checkpoint_every: int = Field(50, ge=2, le=10_000, description="Entries between checkpoints")

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.timeline_private_key_file is None and self.timeline_private_key is None:
            problems.append(
                "SUPERVISION_TIMELINE_PRIVATE_KEY(_FILE) is not set: checkpoints would be signed with a key "
                "made at start, which no export can be verified against after a restart"
            )
        return problems

    def timeline_keys(self) -> TimelineKeys:
        """The signing key from the file or the environment; none configured (dev, tests): one generated now,
        with a warning (its exports verify only while this process runs)."""
        text = (
            self.timeline_private_key_file.read_text(encoding="utf-8")
            if self.timeline_private_key_file
            else self.timeline_private_key.get_secret_value()
            if self.timeline_private_key
            else None
        )
        if text is None:
            log.warning(
                "no timeline signing key configured (SUPERVISION_TIMELINE_PRIVATE_KEY or _FILE): checkpoints "
                "are signed with a key generated at start, key id %s",
                self.timeline_key_id,
            )
            return TimelineKeys.generate(self.timeline_key_id)
        return TimelineKeys(self.timeline_key_id, load_private(text), self.timeline_retired_public_keys)

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
            legacy_paid_before=self.legacy_rule_paid_before,
            legacy_close=timedelta(seconds=self.legacy_close_seconds),
        )
