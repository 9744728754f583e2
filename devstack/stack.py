"""The whole local stack: Kafka, SecantusDB, Keycloak, Mailpit, the SMS sink and the four services as separate
processes.

Each service runs `replicas` processes (one by default; the chaos harness runs two): each its own process,
port and log, killable and restartable one by one. Replica 1 of a service is named after the service
(`orders`, its log `orders.log`, its port `Ports.services["orders"]`); replica 2 is `orders-2`, on a free port
of its own. The replicas of a service share its database and consumer groups, as pods of one deployment do.

`KAFKA_BOOTSTRAP_SERVERS` / `MONGODB_URI` / `OIDC_ISSUER_URL` in the environment point at an existing broker,
database or identity provider instead, and then devstack does not start that part. An existing broker is used
as it is configured (`KAFKA_SECURITY_PROTOCOL` and the services' `<SERVICE>_KAFKA_PASSWORD`); with
`KAFKA_ADMIN_PASSWORD` set, devstack also creates its topics and ACLs there.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devstack.kafka import KafkaNode
from devstack.kafka_admin import BrokerAdmin
from devstack.keycloak import KeycloakNode
from devstack.mailbox import Mailbox
from devstack.mailpit import MailpitNode
from devstack.mongo import SecantusNode
from devstack.procs import Proc, free_port, spawn, wait_until

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("orders", "supervision", "notification", "partner")


@dataclass
class Ports:
    kafka: int = 9092
    kafka_controller: int = 9093
    mongo: int = 27017
    smtp: int = 1025
    mailpit_http: int = 8025
    sms_http: int = 8026
    services: dict[str, int] = field(
        default_factory=lambda: {"orders": 8001, "supervision": 8002, "notification": 8003, "partner": 8004}
    )
    keycloak: int = 8080
    keycloak_management: int = 9000
    console: int = 8005  # the realm's console client allows this port's callback (infra/keycloak)

    @classmethod
    def free(cls) -> Ports:
        return cls(
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            {s: free_port() for s in SERVICES},
            free_port(),
            free_port(),
            free_port(),
        )


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
    def __init__(
        self,
        state: Path,
        ports: Ports | None = None,
        namespace: str = "",
        service_env: dict[str, str] | None = None,
        replicas: int = 1,
    ) -> None:
        if replicas < 1:
            raise ValueError("a service runs at least one replica")
        self.state, self.ports, self.namespace = state, ports or Ports(), namespace
        self.replicas = replicas
        # The port of each replica process by its name: replica 1 keeps the service's port.
        self.replica_ports: dict[str, int] = {}
        for name in SERVICES:
            for i in range(replicas):
                self.replica_ports[replica_name(name, i)] = (
                    self.ports.services[name] if i == 0 else free_port()
                )
        self.logs = state / "logs"
        self.kafka: KafkaNode | None = None
        self.mongo: SecantusNode | None = None
        self.keycloak: KeycloakNode | None = None
        self.mailpit: MailpitNode | None = None
        self.sms: Proc | None = None  # the Twilio-compatible SMS sink
        self.services: dict[str, Proc] = {}
        self.console: Proc | None = None  # the browser console (services/console), not a Kafka service
        self.service_env = service_env or {}
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        self.mongo_uri = os.environ.get("MONGODB_URI", "")
        self.issuer = os.environ.get("OIDC_ISSUER_URL", "")
        # The broker admin (creates topics, users and ACLs) and each service's own Kafka password.
        self.kafka_admin_password = os.environ.get("KAFKA_ADMIN_PASSWORD", "")
        self.kafka_users: dict[str, str] = {}

    def using(self, other: Stack) -> Stack:
        """Run this stack's services on another stack's broker, database and identity provider."""
        self.bootstrap, self.mongo_uri, self.issuer = other.bootstrap, other.mongo_uri, other.issuer
        self.kafka_admin_password, self.kafka_users = other.kafka_admin_password, other.kafka_users
        return self

    # --- infrastructure -----------------------------------------------------------------------------
    def start_infra(self) -> None:
        self.start_infra_with_cache(self.state / "cache")

    def start_infra_with_cache(self, cache: Path) -> None:
        """Keycloak starts in the background (about 10 s) while the database and the broker come up."""
        idp: threading.Thread | None = None
        failure: list[BaseException] = []
        if not self.issuer:
            self.keycloak = KeycloakNode(
                self.state / "keycloak", self.ports.keycloak, self.ports.keycloak_management
            )

            def start_keycloak() -> None:
                try:
                    assert self.keycloak is not None
                    self.keycloak.start(self.logs)
                except BaseException as exc:  # reported on the caller's thread below
                    failure.append(exc)

            idp = threading.Thread(target=start_keycloak, name="keycloak-start", daemon=True)
            idp.start()
            self.issuer = self.keycloak.issuer
        try:
            if not self.mongo_uri:
                self.mongo = SecantusNode(self.state / "secantus", self.ports.mongo)
                self.mongo.start(self.logs)
                self.mongo_uri = self.mongo.uri
            if not self.bootstrap:
                self.kafka = KafkaNode(
                    cache, self.state / "kafka", self.ports.kafka, self.ports.kafka_controller
                )
                self.kafka.start(self.logs)
                self.bootstrap = self.kafka.bootstrap
                self.kafka_admin_password = self.kafka.admin_password
            if self.kafka_admin_password:
                self.kafka_users = self.admin().service_users(self.state)
        finally:
            if idp is not None:  # also when the rest failed: `stop()` must find Keycloak's process to stop it
                idp.join()
        if failure:
            raise failure[0]

    def admin(self) -> BrokerAdmin:
        if not self.kafka_admin_password:
            raise RuntimeError("no broker admin: set KAFKA_ADMIN_PASSWORD for an existing broker")
        return BrokerAdmin(self.bootstrap, self.kafka_admin_password)

    def provision(self, namespace: str | None = None) -> None:
        """Topics, dead-letter twins and the services' ACLs of a namespace (the admin does it, not a
        service)."""
        if self.kafka_admin_password:
            self.admin().provision(self.namespace if namespace is None else namespace)

    def kafka_client(self, user: str = "admin") -> dict[str, Any]:
        """aiokafka connection arguments as `user` (the broker admin by default), for tools and tests."""
        if not self.kafka_users:  # a broker without authentication
            return {"bootstrap_servers": self.bootstrap}
        password = self.kafka_admin_password if user == "admin" else self.kafka_users[user]
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": user,
            "sasl_plain_password": password,
        }

    def kafka_env(self, service: str) -> dict[str, str]:
        if not self.kafka_users:
            return {}
        return {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            f"{service.upper()}_KAFKA_PASSWORD": self.kafka_users[service],
        }

    def start_sinks(self) -> None:
        """Mailpit (SMTP, its web UI and API) and the Twilio-compatible SMS sink."""
        self.mailpit = MailpitNode(self.state / "mailpit", self.ports.smtp, self.ports.mailpit_http)
        self.mailpit.start(self.logs)
        argv = [
            sys.executable,
            "-m",
            "devstack.sinks",
            "--http-port",
            str(self.ports.sms_http),
            "--data-dir",
            str(self.state / "sinks"),
        ]
        self.sms = spawn("sms-sink", argv, self.logs, cwd=REPO)
        proc = self.sms
        wait_until(lambda: ready(f"{self.sms_url}/healthz"), 30, "sms-sink", proc)

    @property
    def mail_url(self) -> str:
        """Mailpit: its web UI, and its REST API under /api/v1."""
        return f"http://127.0.0.1:{self.ports.mailpit_http}"

    def mailbox(self, http: httpx.AsyncClient | None = None) -> Mailbox:
        """A client of this stack's Mailpit (pass an httpx.AsyncClient to share it; otherwise close it)."""
        return Mailbox(self.mail_url, http)

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sms_http}"

    # --- services -----------------------------------------------------------------------------------
    def link_keys(self) -> tuple[str, str]:
        """The private-link key pair of this stack (kept in its state folder, so restarts keep links
        valid)."""
        from shared.schemas.links import new_keypair

        folder = self.state / "keys"
        if not (folder / "private-link.pem").exists():
            folder.mkdir(parents=True, exist_ok=True)
            private, public = new_keypair()
            (folder / "private-link.pem").write_text(private)
            (folder / "private-link.pub.pem").write_text(public)
        return (folder / "private-link.pem").read_text(), (folder / "private-link.pub.pem").read_text()

    def timeline_key(self) -> Path:
        """The supervision timeline's checkpoint signing key (Ed25519, PEM), kept in the state folder like the
        link keys, so exports made before a restart still verify."""
        from shared.schemas.links import new_keypair

        path = self.state / "keys" / "timeline-signing.pem"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_keypair()[0])
        return path

    def env_for(self, name: str, replica: int = 0) -> dict[str, str]:
        prefix = name.upper()
        own = replica_name(name, replica)
        private, public = self.link_keys()
        env = {
            "SUPERVISION_TIMELINE_PRIVATE_KEY_FILE": str(self.timeline_key()),
            "SUPERVISION_TIMELINE_KEY_ID": "devstack",
            "ORDERS_PRIVATE_LINK_PUBLIC_KEY": public,
            "PARTNER_PRIVATE_LINK_PRIVATE_KEY": private,
            "SUITE_ENV": "dev",
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "MONGODB_URI": self.mongo_uri,
            "OIDC_ISSUER_URL": self.issuer,
            **self.kafka_env(name),
            "TOPIC_NAMESPACE": self.namespace,
            f"{prefix}_HTTP_PORT": str(self.replica_ports[own]),
            f"{prefix}_MONGODB_DATABASE": f"{self.namespace}_{name}" if self.namespace else name,
            "NOTIFICATION_SMTP_HOST": "127.0.0.1",
            "NOTIFICATION_SMTP_PORT": str(self.ports.smtp),
            "NOTIFICATION_TWILIO_API_BASE_URL": self.sms_url,
            # Where Twilio (here the sink) posts SMS status callbacks: the notification replica that sent it.
            "NOTIFICATION_PUBLIC_BASE_URL": self.replica_url(replica_name("notification", replica)),
            # The reference merchants of the demo and the e2e tests listen on http://127.0.0.1 (dev only:
            # partner refuses plain-http and internal merchant endpoints by default, and these settings
            # outside dev).
            "PARTNER_MERCHANT_ENDPOINT_ALLOW_HTTP": "true",
            "PARTNER_MERCHANT_ENDPOINT_ALLOW_HOSTS": '["127.0.0.1"]',
            "PYTHONUNBUFFERED": "1",
        }
        return {**env, **self.service_env}

    def start_service(self, name: str, wait: bool = True, replica: int = 0) -> Proc:
        """Start one replica of a service (the first by default); a replica that ran before starts again."""
        own = replica_name(name, replica)
        proc = spawn(
            own,
            [sys.executable, "-m", f"services.{name}"],
            self.logs,
            env=self.env_for(name, replica),
            cwd=REPO,
        )
        self.services[own] = proc
        if wait:
            self.wait_ready(own, 60)
        return proc

    def start_services(self) -> None:
        self.provision()
        for name in SERVICES:
            for i in range(self.replicas):
                self.start_service(name, wait=False, replica=i)
        for own in list(self.services):
            self.wait_ready(own, 90)
        # A replica that answered and then died (its port taken, a crash at start) must not pass for started.
        time.sleep(0.5)
        if dead := [own for own, proc in self.services.items() if not proc.alive()]:
            raise RuntimeError(f"{', '.join(dead)} stopped right after starting; see {self.logs}")

    def wait_ready(self, replica: str, timeout: float) -> None:
        """Until a replica process (`orders`, `orders-2`) answers /readyz with 200."""
        proc = self.services[replica]
        wait_until(lambda: ready(f"{self.replica_url(replica)}/readyz"), timeout, replica, proc)

    def replicas_of(self, name: str) -> list[str]:
        """The replica process names of a service: `orders`, `orders-2`, ..."""
        return [replica_name(name, i) for i in range(self.replicas)]

    def url(self, name: str) -> str:
        """The first replica of a service (a client that can take any replica uses `urls`)."""
        return self.replica_url(name)

    def urls(self, name: str) -> list[str]:
        return [self.replica_url(r) for r in self.replicas_of(name)]

    def replica_url(self, replica: str) -> str:
        return f"http://127.0.0.1:{self.replica_ports[replica]}"

    def stop_services(self) -> None:
        for proc in self.services.values():
            proc.stop()
        self.services.clear()

    # --- the console ----------------------------------------------------------------------------------
    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.console}"

    def console_env(self) -> dict[str, str]:
        """The console calls the services' first replicas with the user's token; it has no database."""
        return {
            "SUITE_ENV": "dev",
            "OIDC_ISSUER_URL": self.issuer,
            "CONSOLE_PUBLIC_URL": self.console_url,
            "CONSOLE_HTTP_PORT": str(self.ports.console),
            **{f"CONSOLE_{name.upper()}_URL": self.url(name) for name in SERVICES},
            "PYTHONUNBUFFERED": "1",
        }

    def start_console(self, wait: bool = True) -> Proc:
        self.console = spawn(
            "console", [sys.executable, "-m", "services.console"], self.logs, env=self.console_env(), cwd=REPO
        )
        proc = self.console
        if wait:
            wait_until(lambda: ready(f"{self.console_url}/readyz"), 60, "console", proc)
        return proc

    def stop(self) -> None:
        if self.console is not None:
            self.console.stop()
        self.stop_services()
        if self.sms is not None:
            self.sms.stop()
        if self.mailpit is not None:
            self.mailpit.stop()
        if self.kafka is not None:
            self.kafka.stop()
        if self.mongo is not None:
            self.mongo.stop()
        if self.keycloak is not None and self.keycloak.proc is not None:
            self.keycloak.stop()

    def summary(self) -> str:
        lines = [
            f"Kafka            {self.bootstrap}  (SASL/SCRAM; one user per service)",
            f"MongoDB (wire)   {self.mongo_uri}"
            + (f"  ({self.mongo.server.label})" if self.mongo and self.mongo.server else ""),
            f"identity         {self.issuer}  "
            f"(Keycloak admin console: {self.issuer.split('/realms/')[0]}/admin/)",
        ]
        for name in SERVICES:
            lines.append(f"{name:<16} {self.url(name)}/docs   (AsyncAPI: {self.url(name)}/asyncapi.json)")
            lines += [f"{'':<16} {url}/docs   (replica {i})" for i, url in enumerate(self.urls(name)[1:], 2)]
        if self.console is not None:
            lines.append(f"console          {self.console_url}/   (log in as a demo user below)")
        lines += [
            f"mail (Mailpit)   {self.mail_url}/   (web UI; SMTP 127.0.0.1:{self.ports.smtp}; API: /api/v1/)",
            f"SMS sink         {self.sms_url}/   (JSON: {self.sms_url}/sms?to=<number>)",
            f"inbox            {self.url('notification')}/accounts/<account id>/inbox "
            "(with a token of that account)",
            f"logs             {self.logs}/",
        ]
        return "\n".join(lines)


def replica_name(service: str, index: int) -> str:
    """Replica 1 of a service carries its name (so one-replica stacks look as before), replica n
    `service-n`."""
    return service if index == 0 else f"{service}-{index + 1}"


def service_of(replica: str) -> str:
    """The service a replica process belongs to: `orders-2` -> `orders`."""
    name, _, number = replica.rpartition("-")
    return name if number.isdigit() and name in SERVICES else replica


def wait_forever(stack: Stack) -> None:
    """Keep the stack up until interrupted; report a service that dies."""
    while True:
        for name, proc in list(stack.services.items()):
            if not proc.alive():
                print(f"{name} exited with {proc.popen.returncode}; see {proc.log_path}", flush=True)
                stack.services.pop(name)
        time.sleep(1)


def write_issuer(state: Path, issuer: str) -> None:
    """Where `python -m devstack token` and the demo find the running stack's identity provider."""
    (state / "issuer").write_text(issuer)


def read_issuer(state: Path) -> str:
    path = state / "issuer"
    if not path.exists():
        raise SystemExit("no running stack: start it with `make run` (or set OIDC_ISSUER_URL / --issuer)")
    return path.read_text().strip()
