from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import DEV_SECRETS, ServiceSettings


class SmtpRelay(BaseModel):
    """One SMTP relay: the primary's `smtp_*` settings, or the secondary's `smtp2_*`."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    username: str | None
    password: SecretStr | None
    use_tls: bool
    start_tls: bool | None  # None: upgrade when the server offers STARTTLS

    @property
    def encrypted(self) -> bool:
        """Implicit TLS, or STARTTLS required (an optional STARTTLS can be stripped by anyone on the path)."""
        return self.use_tls or self.start_tls is True


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFICATION_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "notification"
    http_port: int = Field(8003, ge=1, le=65535)
    # Smaller batches than the other services': an event here plans several messages (rendered, six
    # deliveries), and the dispatcher in the same process starts sending once a batch has committed; with 100
    # a burst's first e-mail waited for a hundred events' planning (make bench).
    consumer_batch_max: int = Field(20, ge=1, le=1000)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "KooGallery Notifications <notify@koo-suite.local>"
    smtp_use_tls: bool = False
    smtp_start_tls: bool | None = None  # None: upgrade when the server offers STARTTLS
    # The SMTP sessions are pooled (per relay): at most `smtp_pool_size` open at once, each carrying up to
    # `smtp_session_max_messages` messages and closed after `smtp_session_idle_seconds` unused (below the
    # few minutes after which relays drop an idle client).
    smtp_pool_size: int = Field(4, ge=1, le=64)
    smtp_session_max_messages: int = Field(100, ge=1)
    smtp_session_idle_seconds: float = Field(30.0, gt=0)

    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: SecretStr = SecretStr("dev-token")  # the local sink's; production refuses it
    twilio_from_number: str = "+15005550006"
    twilio_api_base_url: str | None = Field(None, description="Empty: the real Twilio API")

    # Email / SMS deliveries: bounded retries with exponential backoff and jitter (8 attempts over about
    # 30 minutes by default), then the delivery is dead and visible for an operator to replay.
    delivery_max_attempts: int = Field(8, ge=1, le=50)
    delivery_backoff_seconds: float = Field(15.0, gt=0)
    delivery_backoff_max_seconds: float = Field(900.0, gt=0)
    # A dispatcher round claims up to `delivery_concurrency` deliveries (a few database round trips), sends
    # them all at once over the pooled SMTP sessions and the shared Twilio connection pool (sized to it), and
    # records their results in bulk writes. Its sends must fit in the rows' lease (`delivery_lease_seconds`).
    delivery_concurrency: int = Field(64, ge=1, le=256)
    dispatch_poll_seconds: float = Field(0.5, gt=0)
    # Woken by a queued delivery, the dispatcher waits this long so that what is queued meanwhile goes in the
    # same round (make bench: at 20 orders a second, a round per order's four sends without it).
    dispatch_gather_seconds: float = Field(0.05, ge=0, le=1)
    delivery_lease_seconds: float = Field(60.0, gt=1)
    # The dispatcher and the reminders are shared leased workers, one replica each. A replica that died is
    # taken over when its worker lease runs out: never later than its claimed deliveries' own leases
    # (`worker_lease`).
    worker_lease_seconds: float = Field(15.0, gt=1)
    # A waiting inbox read (`GET .../inbox?wait=`) holds its request until a new message: at most
    # `inbox_max_waiters` at once per replica (then a read answers at once), re-reading every
    # `inbox_wait_poll_seconds` while the database's change stream is away.
    inbox_max_waiters: int = Field(5000, ge=0)
    inbox_wait_poll_seconds: float = Field(0.5, gt=0)

    # Public base URL of this service, for links in messages (e-mail verification) and the SMS StatusCallback.
    public_base_url: str = "http://127.0.0.1:8003"
    sms_status_callbacks: bool = True

    # Message centre (dossier §6.2)
    recipient_daily_limit: int = Field(40, ge=1)
    verification_valid_hours: float = Field(24.0, gt=0)

    # Secondary providers (failover) and the circuit breaker in front of each primary.
    smtp2_host: str | None = None
    smtp2_port: int = Field(1025, ge=1, le=65535)
    smtp2_username: str | None = None
    smtp2_password: SecretStr | None = None
    smtp2_use_tls: bool = False
    smtp2_start_tls: bool | None = None
    twilio2_api_base_url: str | None = None
    twilio2_account_sid: str | None = None
    twilio2_auth_token: SecretStr | None = None
    twilio2_from_number: str | None = None
    breaker_failures: int = Field(3, ge=1)
    breaker_cooldown_seconds: float = Field(30.0, gt=0)

    # Per-address rate limit: at most N messages per channel per address per window; the excess is deferred
    # (never dropped). SMS is limited by default (issue 9, SMS pumping: nobody can make us text one number
    # more than 5 times a minute); 0 turns a limit off, which tests and benches that text one number often set
    # explicitly.
    rate_limit_sms: int = Field(5, ge=0)
    rate_limit_email: int = Field(0, ge=0)
    rate_limit_window_seconds: float = Field(60.0, gt=0)

    # Deadline-aware reminders: at these fractions of the time left when the deadline was scheduled, the
    # party is reminded in-site, then by e-mail, then by SMS. `time_scale` shrinks nothing but the test clock.
    reminder_fractions: tuple[float, float, float] = (0.5, 0.25, 0.1)
    reminder_poll_seconds: float = Field(1.0, gt=0)

    @property
    def worker_lease(self) -> float:
        """The workers' lease: at most a delivery's, so a dead replica's rows are not held back longer."""
        return min(self.worker_lease_seconds, self.delivery_lease_seconds)

    @property
    def sms_secondary(self) -> bool:
        """A second Twilio-compatible SMS provider is configured (failover)."""
        return bool(self.twilio2_api_base_url or self.twilio2_account_sid)

    def smtp_relays(self) -> tuple[SmtpRelay, SmtpRelay | None]:
        """The primary relay, and the secondary one (failover) when `smtp2_host` is set."""
        return self._relay("smtp"), self._relay("smtp2") if self.smtp2_host else None

    def _relay(self, prefix: str) -> SmtpRelay:
        """The relay the `<prefix>_*` settings describe."""
        return SmtpRelay(**{name: getattr(self, f"{prefix}_{name}") for name in SmtpRelay.model_fields})

    def production_problems(self) -> list[str]:
        """Outside dev: no dev-default Twilio token, and SMTP only over TLS (primary and secondary relays)."""
        problems = super().production_problems()
        if self.twilio_auth_token.get_secret_value() in DEV_SECRETS:
            problems.append("NOTIFICATION_TWILIO_AUTH_TOKEN is empty or a dev default")
        if (
            self.sms_secondary
            and self.twilio2_auth_token is not None
            and self.twilio2_auth_token.get_secret_value() in DEV_SECRETS
        ):
            problems.append("NOTIFICATION_TWILIO2_AUTH_TOKEN is empty or a dev default")
        primary, secondary = self.smtp_relays()
        if not primary.encrypted:
            problems.append(
                "SMTP without TLS: set NOTIFICATION_SMTP_USE_TLS or "
                "NOTIFICATION_SMTP_START_TLS=true (an optional STARTTLS can be stripped by "
                "anyone on the path)"
            )
        if secondary is not None and not secondary.encrypted:
            problems.append(
                "secondary SMTP without TLS: set NOTIFICATION_SMTP2_USE_TLS or "
                "NOTIFICATION_SMTP2_START_TLS=true"
            )
        return problems
