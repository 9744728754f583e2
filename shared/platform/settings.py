"""The settings every service shares. Each service subclasses it with its own env prefix.

Cluster-wide endpoints (`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, `TOPIC_NAMESPACE`, `OIDC_ISSUER_URL`) carry
no prefix so one variable points the whole suite at an existing cluster. Per-service credentials carry the
service's prefix (`ORDERS_KAFKA_PASSWORD`).

`SUITE_ENV` is `production` unless a developer's stack says `dev`: a deployment that forgets it gets the
strict checks (no dev-default secrets, TLS to SMTP and Kafka, an https issuer), never the lenient ones.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.platform.auth import DEFAULT_ALGORITHMS

# Values that only the dev stack may run with; a production process refuses to start with any of them.
DEV_SECRETS = frozenset({"", "dev-token", "dev-secret", "changeme"})


class InsecureConfiguration(RuntimeError):
    """Refuses to start: the configuration is fine for a developer's machine, not for production."""


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    service_name: str
    environment: Literal["dev", "production"] = Field("production", validation_alias="SUITE_ENV")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    # Kafka: SASL/SCRAM-SHA-512, one user per service (ACLs allow it its own topics only, see
    # shared/schemas/acl).
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        "PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        "SCRAM-SHA-512", validation_alias="KAFKA_SASL_MECHANISM"
    )
    kafka_username: str = ""  # defaults to the service name
    kafka_password: SecretStr = SecretStr("")
    kafka_ca_file: str | None = Field(None, validation_alias="KAFKA_CA_FILE")
    mongodb_uri: str = Field(
        "mongodb://127.0.0.1:27017/?directConnection=true", validation_alias="MONGODB_URI"
    )
    topic_namespace: str = Field(
        "",
        validation_alias="TOPIC_NAMESPACE",
        description="Prefix for every topic name; isolates test runs on one broker.",
    )
    topic_partitions: int = Field(6, ge=1, validation_alias="TOPIC_PARTITIONS")
    topic_replication: int = Field(1, ge=1, validation_alias="TOPIC_REPLICATION")
    # Topics are created by an admin identity (the dev stack at start, KafkaTopic resources in Kubernetes): a
    # service's Kafka user has no create rights. True only for a broker without ACLs.
    create_topics: bool = Field(False, validation_alias="CREATE_TOPICS")

    # Identity: the OIDC issuer whose tokens this service accepts, and the audience it must find in them.
    oidc_issuer_url: str = Field("", validation_alias="OIDC_ISSUER_URL")
    oidc_discovery_url: str = Field(
        "",
        validation_alias="OIDC_DISCOVERY_URL",
        description="Where to read the discovery document when the issuer URL is "
        "not reachable from the pod (an in-cluster address)",
    )
    oidc_audience: str = ""  # defaults to koo-<service>
    oidc_algorithms: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALGORITHMS), validation_alias="OIDC_ALGORITHMS"
    )
    oidc_leeway_seconds: float = Field(30.0, ge=0, le=300, validation_alias="OIDC_LEEWAY_SECONDS")
    oidc_roles_claim: str = Field("realm_access.roles", validation_alias="OIDC_ROLES_CLAIM")

    mongodb_database: str = ""
    # Connections to the database per replica (shared/platform/mongo.py, MAX_POOL_SIZE); unprefixed, as the
    # URI is: MONGODB_MAX_POOL_SIZE.
    mongodb_max_pool_size: int = Field(16, ge=1, le=500, validation_alias="MONGODB_MAX_POOL_SIZE")
    consumer_group: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Consumer retries before a message is dead-lettered (in-process, with capped exponential backoff;
    # the total stays far below aiokafka's max_poll_interval_ms).
    consumer_max_attempts: int = Field(5, ge=1, le=20)
    consumer_backoff_seconds: float = Field(0.2, gt=0)
    consumer_backoff_max_seconds: float = Field(5.0, gt=0)
    # An outage is retried in-process this long, then the record is handed back uncommitted and polled again
    # (far below max.poll.interval.ms): the consumer keeps its partitions, and the event is never
    # dead-lettered.
    consumer_outage_window_seconds: float = Field(20.0, gt=0, le=120)
    # A batch subscriber (kafka.batch_subscriber) handles at most this many fetched records in one
    # transaction; a poll returns as soon as records are fetched, and one that found none within this many
    # milliseconds is followed at once by the next (kafka.polls_without_pause).
    consumer_batch_max: int = Field(100, ge=1, le=1000)
    consumer_batch_wait_ms: int = Field(500, ge=1, le=5000)
    # Each subscriber runs this many consumers of its group in the process: Kafka gives each its own
    # partitions, so partitions are worked concurrently and a key's events (one partition) stay in order.
    # More than the topic's partitions over all replicas leaves the extra consumers idle.
    consumer_workers: int = Field(1, ge=1, le=16)
    # An event about an aggregate not seen yet is parked and tried again; dead-lettered after this long.
    park_bound_seconds: float = Field(86400.0, gt=0)
    # How long a starting service waits for the broker or the database to come (back) before it gives up.
    startup_wait_seconds: float = Field(90.0, gt=0)  # inside the manifests' startup probe (2 s × 60)
    relay_poll_seconds: float = Field(0.5, gt=0)
    relay_lease_seconds: float = Field(10.0, gt=1)
    # Traces (shared/platform/tracing.py), off unless configured; the variables are OpenTelemetry's own names.
    # `otlp` exports over HTTP/protobuf to the collector's traces URL (`http://collector:4318/v1/traces`).
    traces_exporter: Literal["none", "otlp", "console"] = Field(
        "none", validation_alias="OTEL_TRACES_EXPORTER"
    )
    traces_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    traces_sample_ratio: float = Field(1.0, ge=0.0, le=1.0, validation_alias="TRACES_SAMPLE_RATIO")

    @field_validator("kafka_bootstrap_servers", "mongodb_uri")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _traces_endpoint(self) -> ServiceSettings:
        if self.traces_exporter == "otlp" and not self.traces_endpoint.startswith(("http://", "https://")):
            raise ValueError(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be the collector's http(s) URL when "
                "OTEL_TRACES_EXPORTER=otlp"
            )
        return self

    @property
    def database(self) -> str:
        return self.mongodb_database or self.service_name

    @property
    def group_id(self) -> str:
        return self.consumer_group or self.service_name

    @property
    def audience(self) -> str:
        return self.oidc_audience or f"koo-{self.service_name}"

    @property
    def kafka_user(self) -> str:
        return self.kafka_username or self.service_name

    @property
    def dev(self) -> bool:
        return self.environment == "dev"

    def topic(self, base: str) -> str:
        return f"{self.topic_namespace}.{base}" if self.topic_namespace else str(base)

    def production_problems(self) -> list[str]:
        """What a production process may not run with. Subclasses add their own secrets and channels."""
        problems = []
        if not self.oidc_issuer_url.startswith("https://"):
            problems.append("OIDC_ISSUER_URL must be an https URL")
        if self.kafka_security_protocol not in {"SASL_SSL", "SSL"}:
            problems.append("KAFKA_SECURITY_PROTOCOL must be SASL_SSL or SSL (encrypted, authenticated)")
        if (
            self.kafka_security_protocol == "SASL_SSL"
            and self.kafka_password.get_secret_value() in DEV_SECRETS
        ):
            problems.append(f"{self.service_name.upper()}_KAFKA_PASSWORD is empty or a dev default")
        return problems

    def check(self) -> None:
        """Fail fast at start-up: no identity provider, or production with dev-only settings."""
        if not self.oidc_issuer_url:
            raise InsecureConfiguration("OIDC_ISSUER_URL is not set: every route needs an identity provider")
        if self.kafka_security_protocol.startswith("SASL") and not self.kafka_password.get_secret_value():
            raise InsecureConfiguration(f"{self.service_name.upper()}_KAFKA_PASSWORD is not set for SASL")
        if not self.dev and (problems := self.production_problems()):
            raise InsecureConfiguration(
                "refusing to start outside dev (SUITE_ENV=production):\n- " + "\n- ".join(problems)
            )
