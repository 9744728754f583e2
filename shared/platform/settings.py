"""The settings every service shares. Each service subclasses it with its own env prefix.

Cluster-wide endpoints (`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, `TOPIC_NAMESPACE`) carry no prefix so one
variable points the whole suite at an existing cluster.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    service_name: str
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    mongodb_uri: str = Field("mongodb://127.0.0.1:27017/?directConnection=true", validation_alias="MONGODB_URI")
    topic_namespace: str = Field("", validation_alias="TOPIC_NAMESPACE",
                                 description="Prefix for every topic name; isolates test runs on one broker.")
    topic_partitions: int = Field(6, ge=1, validation_alias="TOPIC_PARTITIONS")
    topic_replication: int = Field(1, ge=1, validation_alias="TOPIC_REPLICATION")
    create_topics: bool = Field(True, validation_alias="CREATE_TOPICS")

    mongodb_database: str = ""
    consumer_group: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Consumer retries before a message is dead-lettered (in-process, with capped exponential backoff;
    # the total stays far below aiokafka's max_poll_interval_ms).
    consumer_max_attempts: int = Field(5, ge=1, le=20)
    consumer_backoff_seconds: float = Field(0.2, gt=0)
    consumer_backoff_max_seconds: float = Field(5.0, gt=0)
    relay_poll_seconds: float = Field(0.5, gt=0)
    relay_lease_seconds: float = Field(10.0, gt=1)

    @field_validator("kafka_bootstrap_servers", "mongodb_uri")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @property
    def database(self) -> str:
        return self.mongodb_database or self.service_name

    @property
    def group_id(self) -> str:
        return self.consumer_group or self.service_name

    def topic(self, base: str) -> str:
        return f"{self.topic_namespace}.{base}" if self.topic_namespace else str(base)
