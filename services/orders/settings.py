from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings


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
