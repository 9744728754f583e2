"""Supervision (服务监管): the service order of each paid supervised order, node by node, with appeals.

Where the rules live:
- service_order/: the aggregate, pure (its package docstring lists its parts): the flow's steps, deadlines,
  milestones, appeals (dossier §5), and how an approved refund ends a service order (§1.4, §2.7);
- flows.py + templates.py: the flows, versioned data per delivery type (§2); rules.py: which acceptance rule
  applies (§3.1), the acceptance-document check (§3.2), milestone offers (§4.2), the appeal SLA calendar
  (§5.3);
- unsupervised.py: which paid orders get no service order and why (§1.2, §1.6);
- access.py: who may see and act (the parties, operators per step);
- use cases, on the shared runner: flow_cases.py (commands, the timer worker's firing), event_cases.py
  (order.paid, account.erased, refund.decided, and EVENT_HANDLERS), services.py (what they run on, the shape
  of a change);
- adapters: api.py (routes), handlers.py (subscribers), worker.py (timer worker source); store.py
  (repositories, the unit of work) and queries.py (reads) are the only modules that touch the database.
Refunds are the orders service's (the buyer's request, the merchant's decision, the money): supervision learns
each decision from refund.decided, and an appeal resolved with a refund waits as `refunding` until it arrives.

Deadlines (auto-acceptance, idle, 180-day, appeal SLA, legacy orders' 365 days) live in Mongo (`timers`) and
are fired by a leased worker; an open appeal pauses them and the resolution resumes them with the time left.
An escalated appeal, the 180-day reminder and a legacy order's unsubscribe ask notification to tell people
(notice.requested, service_order/notices.py); operators work appeals from a queue (GET /appeals, the
`appeal_queue` collection). Every operation is a hash-chained timeline entry, and every 50 entries (and at
each export) a checkpoint signs the chain's head with the service's Ed25519 key (checkpoints.py); evidence is
always a stored file with its SHA-256. Verify an export offline against the public keys the service
publishes:

    curl -H "Authorization: Bearer $(python -m devstack token <party or operator>)" \\
         http://127.0.0.1:8002/service-orders/<service order id>/export > export.json
    curl http://127.0.0.1:8002/timeline-keys > keys.json
    python -m services.supervision.verify export.json keys.json   # OK and exit 0, or each problem
"""
