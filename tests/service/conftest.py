"""Fixtures: each service's rig (its broker on TestKafkaBroker, fakes behind it), built fresh for every test."""

from __future__ import annotations

import pytest

from services.notification import handlers as notification_handlers
from services.notification import store as notification_store
from services.notification.deps import Deps as NotificationDeps
from services.notification.settings import NotificationSettings
from services.orders import handlers as orders_handlers
from services.orders.settings import OrdersSettings
from services.partner import handlers as partner_handlers
from services.partner import store as partner_store
from services.partner.services import PartnerService
from services.partner.settings import PartnerSettings
from services.supervision import handlers as supervision_handlers
from services.supervision import store as supervision_store
from services.supervision.services import SupervisionService
from services.supervision.settings import SupervisionSettings
from shared.platform.mongo import UnitOfWorkFactory
from tests.service.orders_support import in_memory as orders_in_memory
from tests.service.rig import FAST, Counter, Rig, make_rig


@pytest.fixture
def orders_rig() -> Rig:
    return make_rig(OrdersSettings(**FAST), orders_handlers.register, "orders", orders_in_memory)


@pytest.fixture
def supervision_rig() -> Rig:
    return make_rig(
        SupervisionSettings(**FAST),
        supervision_handlers.register,
        "supervision",
        lambda state: SupervisionService(UnitOfWorkFactory(supervision_store.fake_uow(state))),
    )


@pytest.fixture
def queued() -> Counter:
    return Counter()


@pytest.fixture
def notification_rig(queued: Counter) -> Rig:
    settings = NotificationSettings(**FAST)
    return make_rig(
        settings,
        notification_handlers.register,
        "notification",
        lambda state: NotificationDeps(
            UnitOfWorkFactory(notification_store.fake_uow(state)), queued, settings=settings
        ),
    )


@pytest.fixture
def partner_rig() -> Rig:
    return make_rig(
        PartnerSettings(**FAST),
        partner_handlers.register,
        "partner",
        lambda state: PartnerService(UnitOfWorkFactory(partner_store.fake_uow(state))),
    )
