from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore", frozen=True, populate_by_name=True)

    service_name: str = "notification"
    http_port: int = Field(8003, ge=1, le=65535)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "KooGallery Notifications <notify@koo-suite.local>"
    smtp_use_tls: bool = False
    smtp_start_tls: bool | None = None  # None: upgrade when the server offers STARTTLS

    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = "dev-token"  # noqa: S105 - the local sink's; production sets a secret
    twilio_from_number: str = "+15005550006"
    twilio_api_base_url: str | None = Field(None, description="Empty: the real Twilio API")

    # Email / SMS deliveries: bounded retries with exponential backoff and jitter (8 attempts over about
    # 30 minutes by default), then the delivery is dead and visible for an operator to replay.
    delivery_max_attempts: int = Field(8, ge=1, le=50)
    delivery_backoff_seconds: float = Field(15.0, gt=0)
    delivery_backoff_max_seconds: float = Field(900.0, gt=0)
    delivery_concurrency: int = Field(8, ge=1, le=128)
    dispatch_poll_seconds: float = Field(0.5, gt=0)
    delivery_lease_seconds: float = Field(60.0, gt=1)
