"""The service order aggregate (服务监管单). `ServiceOrder` (aggregate.py) is its one entry point; its parts:

- state.py: what it keeps (the stored document), its status, who its parties are, whether it can be operated;
- flow.py: a node's step by its actor, where it leads, completion; timeouts.py: what a passed deadline does;
- milestones.py: stage-by-stage acceptance (dossier §4.2);
- disputes.py: appeals, their freeze and the operator's resolution (dossier §5);
- refunds.py: the orders service's refund decisions, and how an approved one ends the service order (§1.4);
- deadlines.py: the clocks and the events announcing them; timeline.py: the hash-chained record (§1.1);
- records.py: the plain data it keeps.
The parts call one another only through public functions and methods (disputes.py and timeouts.py use
flow.py; all use state.py); only aggregate.py imports the rule modules. Nothing here does I/O.
"""

from services.supervision.service_order.aggregate import ServiceOrder
from services.supervision.service_order.records import Evidence, TimelineEntry
from services.supervision.service_order.state import Frozen, Status, masked_phone
from services.supervision.service_order.timeline import verify_timeline

__all__ = ["Evidence", "Frozen", "ServiceOrder", "Status", "TimelineEntry", "masked_phone", "verify_timeline"]
