"""Shared test helpers: run a service in-process on the real stack, poll instead of sleeping, read topics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from devstack.mailbox import Mailbox
from devstack.mailpit import MailpitNode
from devstack.marketplace import eventually
from devstack.procs import Proc, free_port, port_open, spawn, wait_until

__all__ = ["Sinks", "eventually", "produce", "read_topic", "running", "start_sinks"]


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app's whole lifespan (Mongo, topics, broker, relay, workers) plus an HTTP client onto it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


def _client(kafka: str | dict[str, Any]) -> dict[str, Any]:
    """Connection arguments: `Infra.kafka_client()` (a user and its password), or a bare bootstrap address."""
    return {"bootstrap_servers": kafka} if isinstance(kafka, str) else dict(kafka)


async def read_topic(
    kafka: str | dict[str, Any], topic: str, *, at_least: int = 1, timeout: float = 20.0
) -> list[Any]:
    """Every record on `topic` from the beginning, once at least `at_least` are there."""
    consumer = AIOKafkaConsumer(
        topic, **_client(kafka), auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < at_least and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


async def produce(kafka: str | dict[str, Any], topic: str, value: bytes | dict[str, Any], key: str) -> None:
    producer = AIOKafkaProducer(**_client(kafka))
    await producer.start()
    try:
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        await producer.send_and_wait(
            topic, body, key=key.encode(), headers=[("content-type", b"application/json")]
        )
    finally:
        await producer.stop()


@dataclass
class Sinks:
    """Mailpit (SMTP and its API) and the Twilio-compatible SMS sink, started for one test module."""

    mailpit: MailpitNode
    sms: Proc
    data_dir: Path

    @property
    def smtp_port(self) -> int:
        return self.mailpit.smtp_port

    @property
    def url(self) -> str:
        """The SMS sink: the Twilio API base URL, and `/sms?to=`, `/_control/sms`."""
        return f"http://127.0.0.1:{self.sms.extra['port']}"

    def mailbox(self, http: httpx.AsyncClient | None = None) -> Mailbox:
        return Mailbox(self.mailpit.url, http)

    def stop(self) -> None:
        self.sms.stop()
        self.mailpit.stop()


def start_sinks(data_dir: Path, log_dir: Path, name: str = "sinks") -> Sinks:
    mailpit = MailpitNode(data_dir / "mailpit", free_port(), free_port())
    mailpit.start(log_dir, name=f"{name}-mailpit")
    http_port = free_port()
    argv = [
        sys.executable,
        "-m",
        "devstack.sinks",
        "--http-port",
        str(http_port),
        "--data-dir",
        str(data_dir),
    ]
    proc = spawn(f"{name}-sms", argv, log_dir)
    proc.extra["port"] = str(http_port)
    wait_until(lambda: "sinks ready" in proc.output(), 30, name, proc)
    assert port_open(http_port)
    return Sinks(mailpit, proc, data_dir)
