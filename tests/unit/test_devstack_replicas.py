"""devstack runs each service as one or more replica processes (the chaos harness runs two): each its own name,
port, log and environment, over one database and one consumer group per service; one replica looks as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.stack import SERVICES, Ports, Stack, replica_name, service_of


def test_one_replica_keeps_the_service_names_and_ports(tmp_path: Path) -> None:
    stack = Stack(tmp_path, Ports())
    assert stack.replicas_of("orders") == ["orders"]
    assert stack.urls("orders") == [stack.url("orders")] == ["http://127.0.0.1:8001"]
    env = stack.env_for("notification")
    assert env["NOTIFICATION_HTTP_PORT"] == "8003"
    assert env["NOTIFICATION_PUBLIC_BASE_URL"] == "http://127.0.0.1:8003"


def test_two_replicas_get_their_own_names_ports_and_callbacks_but_share_database_and_groups(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path, Ports.free(), namespace="ns", replicas=2)
    names = [r for s in SERVICES for r in stack.replicas_of(s)]
    assert names == [
        "orders",
        "orders-2",
        "supervision",
        "supervision-2",
        "notification",
        "notification-2",
        "partner",
        "partner-2",
    ]
    assert len({stack.replica_url(r) for r in names}) == 8
    first, second = stack.env_for("notification", 0), stack.env_for("notification", 1)
    assert first["NOTIFICATION_HTTP_PORT"] != second["NOTIFICATION_HTTP_PORT"]
    assert second["NOTIFICATION_PUBLIC_BASE_URL"] == stack.replica_url(
        "notification-2"
    )  # its own SMS callbacks
    assert (
        first["NOTIFICATION_MONGODB_DATABASE"] == second["NOTIFICATION_MONGODB_DATABASE"] == "ns_notification"
    )
    assert "NOTIFICATION_CONSUMER_GROUP" not in second  # one consumer group per service, whatever the replica
    assert {service_of(r) for r in names} == set(SERVICES)
    assert replica_name("partner", 1) == "partner-2"


def test_a_stack_runs_at_least_one_replica(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        Stack(tmp_path, Ports.free(), replicas=0)


def test_free_ports_are_never_handed_out_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel may give back a port it just gave (each probe socket is closed at once): a chaos stack once
    started orders and supervision on the same port, and supervision answered orders' readiness check."""
    from devstack import procs

    given = iter([41001, 41001, 41002, 41001, 41003])

    class Probe:
        def __enter__(self) -> Probe:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def bind(self, addr: tuple[str, int]) -> None:
            self.port = next(given)

        def getsockname(self) -> tuple[str, int]:
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(procs, "_HANDED_OUT", set())
    monkeypatch.setattr("devstack.procs.socket.socket", Probe)
    assert [procs.free_port() for _ in range(3)] == [41001, 41002, 41003]
