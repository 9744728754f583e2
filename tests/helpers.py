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

from devstack.marketplace import eventually
from devstack.procs import Proc, free_port, port_open, spawn, wait_until

__all__ = ["eventually", "produce", "read_topic", "running", "start_sinks"]


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


async def read_topic(kafka: str | dict[str, Any], topic: str, *, at_least: int = 1,
                     timeout: float = 20.0) -> list[Any]:
    """Every record on `topic` from the beginning, once at least `at_least` are there."""
    consumer = AIOKafkaConsumer(topic, **_client(kafka), auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=None)
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
        await producer.send_and_wait(topic, body, key=key.encode(),
                                     headers=[("content-type", b"application/json")])
    finally:
        await producer.stop()


@dataclass
class Sinks:
    proc: Proc
    smtp_port: int
    http_port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


def start_sinks(data_dir: Path, log_dir: Path, name: str = "sinks") -> Sinks:
    smtp_port, http_port = free_port(), free_port()
    argv = [sys.executable, "-m", "devstack.sinks", "--smtp-port", str(smtp_port),
            "--http-port", str(http_port), "--data-dir", str(data_dir)]
    proc = spawn(name, argv, log_dir)
    wait_until(lambda: "sinks ready" in proc.output(), 30, name, proc)
    assert port_open(smtp_port)
    assert port_open(http_port)
    return Sinks(proc, smtp_port, http_port, data_dir)
