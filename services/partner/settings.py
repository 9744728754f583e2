from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings


class PartnerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNER_", extra="ignore", frozen=True, populate_by_name=True)

    service_name: str = "partner"
    http_port: int = Field(8004, ge=1, le=65535)
    # Ed25519 private key (PEM) that signs providers' private links; orders holds the public half.
    private_link_private_key: str | None = None
    private_link_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)

    # Settlement (dossier §7.4): default tax rates when a product's terms do not name them. With equal rates
    # the formula reduces to base × ratio.
    default_vat_rate: Decimal = Field(Decimal("0.06"), ge=0, lt=1)
    default_service_fee_tax_rate: Decimal = Field(Decimal("0.06"), ge=0, lt=1)
    # Quarterly performance-assessment incentive rate on the quarter's net earnings [I]: the policy is yearly
    # and not in the dossier, so it is configuration.
    performance_incentive_rate: Decimal = Field(Decimal("0.05"), ge=0, le=1)
    bill_run_day: int = Field(3, ge=1, le=28, description="bills run on this day of the next month (§4.3)")
    bill_run_poll_seconds: float = Field(3600.0, gt=0)

    # Merchant calls (dossier §8.2): 5-second timeout; retry policies in seconds so tests can shrink them.
    merchant_call_timeout_seconds: float = Field(5.0, gt=0)
    merchant_call_window_seconds: int = Field(60, ge=1, description="signature timestamp window (§8.3: 60 s)")
    long_retry_interval_seconds: float = Field(3600.0, gt=0)  # new purchase / upgrade: hourly ...
    long_retry_window_seconds: float = Field(3 * 3600.0, gt=0)  # ... for 3 hours
    short_retry_interval_seconds: float = Field(600.0, gt=0)  # renewal / expiry / release: every 10 min [I] ...
    short_retry_window_seconds: float = Field(3600.0, gt=0)  # ... for 1 hour
    call_worker_poll_seconds: float = Field(1.0, gt=0)
    call_worker_lease_seconds: float = Field(15.0, gt=1)
