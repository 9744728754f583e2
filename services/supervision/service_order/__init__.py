"""The service order aggregate (服务监管单). `ServiceOrder` (aggregate.py) is its one entry point; its parts:

- state.py: what it keeps (the stored document), its status, who its parties are, whether it can be operated;
- flow.py: a node's step by its actor, where it leads, completion, and what a deadline does when it passes;
- milestones.py: stage-by-stage acceptance (dossier §4.2);
- disputes.py: appeals, their freeze and the operator's resolution (dossier §5);
- refunds.py: the orders service's refund decisions, and how an approved one ends the service order (§1.4);
- deadlines.py: the clocks and the events announcing them; timeline.py: the hash-chained record (§1.1);
- records.py: the plain data it keeps.
Each part depends only on state.py and the ones below it; nothing here does I/O.
"""

from services.supervision.service_order.aggregate import ServiceOrder
from services.supervision.service_order.records import Evidence, TimelineEntry
from services.supervision.service_order.state import Frozen, Status, masked_phone
from services.supervision.service_order.timeline import verify_timeline

__all__ = ["Evidence", "Frozen", "ServiceOrder", "Status", "TimelineEntry", "masked_phone", "verify_timeline"]
