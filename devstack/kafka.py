"""Apache Kafka, KRaft mode, one combined broker + controller node, run straight from Maven jars.

The jar set is resolved by the pinned pom in `infra/kafka/pom.xml` (Java 17 runs Kafka 4.x). Storage is
formatted once per data directory with `--standalone` (dynamic quorum, Kafka 4 style) and reused on restart,
so a broker restart keeps its topics, offsets and committed consumer positions.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import uuid
from pathlib import Path

from devstack.procs import Proc, port_open, spawn, wait_until

REPO = Path(__file__).resolve().parent.parent
POM_DIR = REPO / "infra" / "kafka"
LOG4J = POM_DIR / "log4j2.properties"


def libs_dir(cache: Path) -> Path:
    return cache / "kafka-libs"


def ensure_jars(cache: Path) -> Path:
    """Resolve the broker's runtime closure once; re-resolve when the pom changes."""
    libs = libs_dir(cache)
    stamp = libs / ".pom-stamp"
    pom = (POM_DIR / "pom.xml").read_text()
    if stamp.exists() and stamp.read_text() == pom and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise RuntimeError(
            "Kafka needs Java 17+ and Maven on PATH (apt-get install openjdk-17-jre-headless maven)"
        )
    if libs.exists():
        shutil.rmtree(libs)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM_DIR / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ],
        check=True,
    )
    stamp.write_text(pom)
    return libs


def _server_properties(data: Path, port: int, controller_port: int, admin_password: str) -> str:
    """One combined node with authentication and authorization on:

    - clients (and the broker itself, inter-broker) use SASL/SCRAM-SHA-512 on the client listener; the SCRAM
      credentials live in the cluster metadata, the admin's bootstrapped at format time;
    - the controller listener uses SASL/PLAIN with the admin only (KRaft controllers cannot use SCRAM, whose
      credentials they themselves serve), so nothing reaches the controller anonymously;
    - KRaft's StandardAuthorizer: only the admin is a super user, everything else needs an ACL and nothing is
      allowed when no ACL matches. The admin creates topics and ACLs; a service can do only what its ACLs say.
    """
    plain = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{admin_password}" user_admin="{admin_password}";'
    )
    scram = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="admin" password="{admin_password}";'
    )
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}
listeners=CLIENT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=CLIENT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT
sasl.mechanism.controller.protocol=PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config={plain}
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config={scram}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
log.dirs={data / "logs"}
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
"""


class KafkaNode:
    def __init__(self, cache: Path, data: Path, port: int, controller_port: int) -> None:
        self.cache, self.data, self.port, self.controller_port = cache, data, port, controller_port
        self.proc: Proc | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def admin_password(self) -> str:
        """The broker admin's password: made once per data directory, kept beside it (not in the clone)."""
        secret = self.data / "admin.secret"
        if not secret.exists():
            self.data.mkdir(parents=True, exist_ok=True)
            secret.write_text(secrets.token_urlsafe(24))
            secret.chmod(0o600)
        return secret.read_text().strip()

    def _java(self, libs: Path) -> list[str]:
        return ["java", "-cp", f"{libs}/*", f"-Dlog4j2.configurationFile={LOG4J}"]

    def format(self) -> Path:
        libs = ensure_jars(self.cache)
        self.data.mkdir(parents=True, exist_ok=True)
        config = self.data / "server.properties"
        config.write_text(_server_properties(self.data, self.port, self.controller_port, self.admin_password))
        config.chmod(0o600)
        if (self.data / "logs" / "meta.properties").exists():
            return config
        cluster_id_file = self.data / "cluster.id"
        if not cluster_id_file.exists():
            # Kafka wants a URL-safe base64 UUID without padding, which is what `random-uuid` prints.
            cluster_id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        subprocess.run(
            [
                *self._java(libs),
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "--ignore-formatted",
                # `=` form: a random id may start with "-", which argparse would take for an option.
                f"--cluster-id={cluster_id_file.read_text().strip()}",
                "-c",
                str(config),
                # The admin's SCRAM credential must exist before the broker starts: it is the inter-broker
                # user.
                "--add-scram",
                f"SCRAM-SHA-512=[name=admin,password={self.admin_password}]",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return config

    def start(self, log_dir: Path, timeout: float = 90.0) -> Proc:
        config = self.format()
        libs = libs_dir(self.cache)
        argv = [
            "java",
            "-Xms256m",
            "-Xmx512m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            *self._java(libs)[1:],
            "kafka.Kafka",
            str(config),
        ]
        self.proc = spawn("kafka", argv, log_dir)
        proc = self.proc
        wait_until(
            lambda: port_open(self.port) and "Kafka Server started" in proc.output(), timeout, "kafka", proc
        )
        return proc

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=30)
