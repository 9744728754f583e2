"""Partner: customer service providers (客户服务商) — their earnings on the orders bound to them.

Where the rules live:
- domain (pure): `domain.py` (a bound order's earning, accrual and reversal), `incentives.py` (scenarios and
  formulas), `programme.py` (applications, providers, terms, offers, demands), `billing.py` (bills, invoices),
  `calls.py` (merchant calls and their retry policies), `kit.py` (Kit sync bodies), `signing.py` (signatures),
  `product_health.py` (failed orders a Beijing month, dial-test days),
  `usage.py` (the usage push's limits and MKT codes),
  `license.py` (License 2.0 codes and their grace period, License 1.0 identifiers, dossier §2.2);
- use cases on the shared runner: `services.py` (EVENT_HANDLERS: each consumed event → its handlers, in
  `earnings.py` and `saas.py`; `ordering.py` says what waits for order.paid), `selling.py` (programme and
  selling), `settlement.py` (bills), `sync.py` (endpoints, Kit syncs, replay), `merchant.py` (a call's
  attempt, the call worker), `outcomes.py` (what an attempt leads to: polling, refunds, notices, measures),
  `product_cases.py` (product.frozen), `dial_tests.py` (the dial schedule), `usage_push.py` (usage records),
  `bill_runs.py` (the bill schedule), `reads.py` (who may see what),
  `license_cases.py` (License orders, codes, validity, getLicense), `license_open.py` (the signed open API);
- persistence: `store.py` (one repository per aggregate, the unit of work), `queries.py` (the read side);
- adapters: `api*.py` (routes; `api_open.py`: the merchant-signed `/open/` API), `handlers.py`
  (subscribers), `egress.py` (the guarded HTTP client to merchants), `app.py` (the composition root),
  `deps.py` (what the use cases run on).
"""
