"""Read side: a service order, the service order of an order, an evidence file, an export. Plain reads outside
any transaction, through the same repositories the use cases write with; each checks who is asking."""

from __future__ import annotations

from collections.abc import AsyncIterator

from services.supervision import evidence
from services.supervision.access import admit, admit_to_marker
from services.supervision.service_order import ServiceOrder
from services.supervision.store import (
    FILES,
    SERVICE_ORDERS,
    UNSUPERVISED,
    Files,
    ServiceOrders,
    UnsupervisedOrders,
)
from shared.platform.auth import Principal
from shared.platform.collection import Collections, Doc
from shared.platform.errors import NotFound


class SupervisionQueries:
    def __init__(self, collections: Collections) -> None:
        self.collections = collections

    # The repositories over the collections as they are now (a fake's committed tables are replaced on
    # commit).
    @property
    def service_orders(self) -> ServiceOrders:
        return ServiceOrders(self.collections.collection(SERVICE_ORDERS))

    @property
    def unsupervised(self) -> UnsupervisedOrders:
        return UnsupervisedOrders(self.collections.collection(UNSUPERVISED))

    @property
    def files(self) -> Files:
        return Files(self.collections.collection(FILES))

    async def service_order(self, so_id: str, viewer: Principal) -> ServiceOrder:
        """Its parties and operators only."""
        so = await self.service_orders.get(so_id)
        if so is None:
            raise NotFound(f"service order {so_id} does not exist")
        admit(so, viewer, operators=True)
        return so

    async def of_order(self, order_id: str, viewer: Principal) -> ServiceOrder:
        """The order's service order; for an order that has none, a 404 that says why (not_supervised for a
        product that is not supervised)."""
        so = await self.service_orders.of_order(order_id)
        if so is not None:
            admit(so, viewer, operators=True)
            return so
        marker = await self.unsupervised.get(order_id)
        if marker is None:
            raise NotFound(f"order {order_id} has no service order (yet)")
        admit_to_marker(marker, viewer)
        raise marker.why()

    async def file(self, so_id: str, file_id: str, viewer: Principal) -> Doc:
        """An evidence file with its bytes."""
        await self.service_order(so_id, viewer)
        doc = await self.files.get(file_id)
        if doc is None or doc["service_order_id"] != so_id:
            raise NotFound(f"file {file_id} is not attached to service order {so_id}")
        return doc

    async def export(self, so_id: str, viewer: Principal) -> AsyncIterator[bytes]:
        """Check who asks, then the export document as a stream: the files are read one at a time."""
        so = await self.service_order(so_id, viewer)
        return evidence.export(so, await self.files.of(so_id), self._content)

    async def _content(self, file_id: str) -> bytes:
        doc = await self.files.get(file_id)
        if doc is None:  # files are never deleted: only a broken database gets here
            raise NotFound(f"file {file_id} is gone")
        return bytes(doc["data"])
