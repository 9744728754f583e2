"""The database client's pool: MONGODB_MAX_POOL_SIZE (16 by default) bounds each replica's connections, so a
burst of requests queues in the service instead of opening that many transactions on the database; a
`maxPoolSize` in the URI wins."""

from __future__ import annotations

import pytest

from services.orders.settings import OrdersSettings
from shared.platform.mongo import MAX_POOL_SIZE, connect

pytestmark = pytest.mark.unit


async def test_the_pool_is_bounded_by_the_setting_unless_the_uri_names_one() -> None:
    default = connect("mongodb://127.0.0.1:1/?directConnection=true")
    chosen = connect("mongodb://127.0.0.1:1/?directConnection=true", 4)
    in_uri = connect("mongodb://127.0.0.1:1/?directConnection=true&maxPoolSize=7", 4)
    # Only an option of that name counts, not the same letters elsewhere (here a database's name).
    named_db = connect("mongodb://127.0.0.1:1/maxPoolSize=7?directConnection=true", 4)
    try:
        assert default.options.pool_options.max_pool_size == MAX_POOL_SIZE == 16
        assert chosen.options.pool_options.max_pool_size == 4
        assert in_uri.options.pool_options.max_pool_size == 7
        assert named_db.options.pool_options.max_pool_size == 4
    finally:
        for client in (default, chosen, in_uri, named_db):
            await client.close()


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_MAX_POOL_SIZE", "24")
    assert OrdersSettings(kafka_bootstrap_servers="k:9092").mongodb_max_pool_size == 24
    monkeypatch.setenv("MONGODB_MAX_POOL_SIZE", "0")
    with pytest.raises(ValueError, match="MONGODB_MAX_POOL_SIZE"):
        OrdersSettings(kafka_bootstrap_servers="k:9092")
