"""The whole local stack: Kafka, SecantusDB, the mail/SMS sinks and the four services as separate processes.

`KAFKA_BOOTSTRAP_SERVERS` / `MONGODB_URI` in the environment point at an existing cluster instead, and then
devstack starts neither.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack.kafka import KafkaNode
from devstack.mongo import SecantusNode
from devstack.procs import Proc, free_port, port_open, spawn, wait_until

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("orders", "supervision", "notification", "partner")


@dataclass
class Ports:
    kafka: int = 9092
    kafka_controller: int = 9093
    mongo: int = 27017
    smtp: int = 1025
    sinks_http: int = 8025
    services: dict[str, int] = field(default_factory=lambda: {
        "orders": 8001, "supervision": 8002, "notification": 8003, "partner": 8004})

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port(), free_port(),
                   {s: free_port() for s in SERVICES})


def get_json(url: str, timeout: float = 2.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback URLs we built
        return json.loads(resp.read())


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except OSError:
        return False


class Stack:
    def __init__(self, state: Path, ports: Ports | None = None, namespace: str = "",
                 service_env: dict[str, str] | None = None) -> None:
        self.state, self.ports, self.namespace = state, ports or Ports(), namespace
        self.logs = state / "logs"
        self.kafka: KafkaNode | None = None
        self.mongo: SecantusNode | None = None
        self.sinks: Proc | None = None
        self.services: dict[str, Proc] = {}
        self.service_env = service_env or {}
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        self.mongo_uri = os.environ.get("MONGODB_URI", "")

    # --- infrastructure -----------------------------------------------------------------------------
    def start_infra(self) -> None:
        self.start_infra_with_cache(self.state / "cache")

    def start_infra_with_cache(self, cache: Path) -> None:
        if not self.mongo_uri:
            self.mongo = SecantusNode(self.state / "secantus", self.ports.mongo)
            self.mongo.start(self.logs)
            self.mongo_uri = self.mongo.uri
        if not self.bootstrap:
            self.kafka = KafkaNode(cache, self.state / "kafka", self.ports.kafka,
                                   self.ports.kafka_controller)
            self.kafka.start(self.logs)
            self.bootstrap = self.kafka.bootstrap

    def start_sinks(self) -> None:
        argv = [sys.executable, "-m", "devstack.sinks", "--smtp-port", str(self.ports.smtp),
                "--http-port", str(self.ports.sinks_http), "--data-dir", str(self.state / "sinks")]
        self.sinks = spawn("sinks", argv, self.logs, cwd=REPO)
        proc = self.sinks
        wait_until(lambda: port_open(self.ports.smtp) and ready(f"{self.sinks_url}/healthz"), 30, "sinks", proc)

    @property
    def sinks_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sinks_http}"

    # --- services -----------------------------------------------------------------------------------
    def link_keys(self) -> tuple[str, str]:
        """The private-link key pair of this stack (kept in its state folder, so restarts keep links valid)."""
        from shared.schemas.links import new_keypair

        folder = self.state / "keys"
        if not (folder / "private-link.pem").exists():
            folder.mkdir(parents=True, exist_ok=True)
            private, public = new_keypair()
            (folder / "private-link.pem").write_text(private)
            (folder / "private-link.pub.pem").write_text(public)
        return (folder / "private-link.pem").read_text(), (folder / "private-link.pub.pem").read_text()

    def env_for(self, name: str) -> dict[str, str]:
        prefix = name.upper()
        private, public = self.link_keys()
        env = {
            "ORDERS_PRIVATE_LINK_PUBLIC_KEY": public,
            "PARTNER_PRIVATE_LINK_PRIVATE_KEY": private,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "MONGODB_URI": self.mongo_uri,
            "TOPIC_NAMESPACE": self.namespace,
            f"{prefix}_HTTP_PORT": str(self.ports.services[name]),
            f"{prefix}_MONGODB_DATABASE": f"{self.namespace}_{name}" if self.namespace else name,
            "NOTIFICATION_SMTP_HOST": "127.0.0.1",
            "NOTIFICATION_SMTP_PORT": str(self.ports.smtp),
            "NOTIFICATION_TWILIO_API_BASE_URL": self.sinks_url,
            # Where Twilio (here the sink) posts SMS status callbacks: the notification service itself.
            "NOTIFICATION_PUBLIC_BASE_URL": self.url("notification"),
            "PYTHONUNBUFFERED": "1",
        }
        return {**env, **self.service_env}

    def start_service(self, name: str, wait: bool = True) -> Proc:
        proc = spawn(name, [sys.executable, "-m", f"services.{name}"], self.logs, env=self.env_for(name),
                     cwd=REPO)
        self.services[name] = proc
        if wait:
            wait_until(lambda: ready(f"{self.url(name)}/readyz"), 60, name, proc)
        return proc

    def start_services(self) -> None:
        for name in SERVICES:
            self.start_service(name, wait=False)
        for name in SERVICES:
            proc = self.services[name]
            wait_until(lambda n=name: ready(f"{self.url(n)}/readyz"), 90, name, proc)  # type: ignore[misc]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports.services[name]}"

    def stop_services(self) -> None:
        for proc in self.services.values():
            proc.stop()
        self.services.clear()

    def stop(self) -> None:
        self.stop_services()
        for part in (self.sinks,):
            if part is not None:
                part.stop()
        if self.kafka is not None:
            self.kafka.stop()
        if self.mongo is not None:
            self.mongo.stop()

    def summary(self) -> str:
        lines = [f"Kafka            {self.bootstrap}", f"MongoDB (wire)   {self.mongo_uri}"]
        for name in SERVICES:
            lines.append(f"{name:<16} {self.url(name)}/docs   (AsyncAPI: {self.url(name)}/asyncapi.json)")
        lines += [f"mail and SMS     {self.sinks_url}/   (JSON: /mail, /sms)",
                  f"SMTP sink        127.0.0.1:{self.ports.smtp}",
                  f"inbox            {self.url('notification')}/accounts/<account id>/inbox "
                  "(header X-Account-Id: <account id>)",
                  f"logs             {self.logs}/"]
        return "\n".join(lines)


def wait_forever(stack: Stack) -> None:
    """Keep the stack up until interrupted; report a service that dies."""
    while True:
        for name, proc in list(stack.services.items()):
            if not proc.alive():
                print(f"{name} exited with {proc.popen.returncode}; see {proc.log_path}", flush=True)
                stack.services.pop(name)
        time.sleep(1)
