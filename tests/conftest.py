"""Test layers follow the folders (unit, service, integration, e2e); the real-infrastructure layers start what
they need: Kafka from the pinned jars and SecantusDB, unless KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI point at an
existing cluster, or TESTCONTAINERS=1 asks for containers on a Docker engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
LAYERS = ("unit", "service", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layer = Path(str(item.fspath)).relative_to(REPO / "tests").parts[0]
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Counts per layer, so a run shows at a glance that the real-infrastructure layers ran."""
    counts: dict[str, dict[str, int]] = {layer: {} for layer in LAYERS}
    for outcome in ("passed", "failed", "skipped", "error", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup") or not hasattr(report, "nodeid"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            parts = report.nodeid.split("/")
            if len(parts) > 1 and parts[0] == "tests" and parts[1] in counts:
                counts[parts[1]][outcome] = counts[parts[1]].get(outcome, 0) + 1
    terminalreporter.section("tests per layer")
    for layer, by_outcome in counts.items():
        summary = ", ".join(f"{n} {o}" for o, n in sorted(by_outcome.items())) or "none collected"
        terminalreporter.write_line(f"{layer:<12} {summary}")


@dataclass(frozen=True)
class Infra:
    bootstrap: str
    mongo_uri: str
    state: Path
    stack: Any = None  # the devstack Stack when this run started the broker itself (restart tests use it)


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    state = tmp_path_factory.mktemp("stack")
    if os.environ.get("TESTCONTAINERS") == "1" and _docker_available():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.mongodb import MongoDbContainer

        with KafkaContainer().with_kraft() as kafka, MongoDbContainer("mongo:8.0").with_command(
                "--replSet rs0 --bind_ip_all") as mongo:
            mongo.exec(["mongosh", "--quiet", "--eval", "rs.initiate()"])
            yield Infra(kafka.get_bootstrap_server(),
                        mongo.get_connection_url() + "/?directConnection=true", state)
        return
    from devstack.stack import Ports, Stack

    # Jars are cached in the repo's .devstack so every run after the first resolves nothing.
    stack = Stack(state, Ports.free())
    try:
        stack.start_infra_with_cache(REPO / ".devstack" / "cache")
        yield Infra(stack.bootstrap, stack.mongo_uri, state, stack)
    finally:
        stack.stop()


@pytest.fixture
def namespace() -> str:
    """A fresh topic namespace and database prefix: tests on one broker never see each other's events."""
    return f"t{uuid.uuid4().hex[:10]}"
