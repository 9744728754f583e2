"""Supervision (服务监管): the service order of each paid supervised order, node by node, with appeals.

- Flows: versioned templates per delivery type (`templates.py`), routed to an acceptance rule (`rules.py`);
  joint-operation orders in the 赋能云 / 基地云 scenarios get a platform review with element checks.
- Deadlines: auto-acceptance, idle, 180-day and appeal-SLA timers live in Mongo (`timers`) and are fired by a
  leased worker (`worker.py`); an open appeal pauses them and the resolution resumes them with the time left.
- Audit: every operation is a hash-chained timeline entry; evidence files are stored with their SHA-256.
  Verify an export offline with the documented command:

      curl -H "Authorization: Bearer $(python -m devstack token <party or operator>)" \\
           http://127.0.0.1:8002/service-orders/<service order id>/export > export.json
      python -m services.supervision.verify export.json     # prints OK and exits 0, or lists each problem
"""
