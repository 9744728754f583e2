from decimal import Decimal
from ipaddress import ip_network

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings

# Where a merchant endpoint may never point (issue 9, SSRF), on top of every loopback, private, link-local,
# multicast, unspecified and reserved address, which are always refused: RFC 1918, carrier-grade NAT, the
# cloud metadata range, IPv6 unique-local and link-local. A deployment adds its cluster's pod and service
# CIDRs.
DEFAULT_BLOCKED_CIDRS = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
]


class PartnerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNER_")  # and the shared settings\' configuration

    service_name: str = "partner"
    http_port: int = Field(8004, ge=1, le=65535)
    # Ed25519 private key (PEM) that signs providers' private links; orders holds the public half.
    private_link_private_key: SecretStr | None = None
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
    merchant_call_timeout_seconds: float = Field(5.0, gt=0, le=60)
    merchant_call_max_response_bytes: int = Field(64 * 1024, ge=1024, le=4 * 1024 * 1024)
    merchant_call_window_seconds: int = Field(60, ge=1, description="signature timestamp window (§8.3: 60 s)")
    long_retry_interval_seconds: float = Field(3600.0, gt=0)  # new purchase / upgrade: hourly ...
    long_retry_window_seconds: float = Field(3 * 3600.0, gt=0)  # ... for 3 hours
    short_retry_interval_seconds: float = Field(
        600.0, gt=0
    )  # renewal / expiry / release: every 10 min [I] ...
    short_retry_window_seconds: float = Field(3600.0, gt=0)  # ... for 1 hour
    call_worker_poll_seconds: float = Field(1.0, gt=0)
    call_worker_lease_seconds: float = Field(15.0, gt=1)

    # Merchant endpoints (issue 9, SSRF): https only, never to an internal address. Dev and tests allow-list
    # the hosts their reference merchants listen on (127.0.0.1) and plain http; production refuses to start
    # so.
    merchant_endpoint_allow_http: bool = False
    merchant_endpoint_allow_hosts: list[str] = Field(default_factory=list)
    merchant_endpoint_blocked_cidrs: list[str] = Field(default_factory=lambda: list(DEFAULT_BLOCKED_CIDRS))

    @field_validator("merchant_endpoint_blocked_cidrs")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ip_network(cidr, strict=False)  # a ValueError names the bad entry: fail fast at start-up
        return value

    @field_validator("merchant_endpoint_allow_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return [h.strip().lower().strip("[]") for h in value if h.strip()]

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.merchant_endpoint_allow_http:
            problems.append(
                "PARTNER_MERCHANT_ENDPOINT_ALLOW_HTTP sends merchant calls (and client secrets) in "
                "plain text; merchant endpoints must be https"
            )
        if self.merchant_endpoint_allow_hosts:
            problems.append(
                "PARTNER_MERCHANT_ENDPOINT_ALLOW_HOSTS lets merchant calls reach internal hosts "
                f"({', '.join(self.merchant_endpoint_allow_hosts)}); it is for dev and tests only"
            )
        return problems
