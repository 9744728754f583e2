"""Notification: message centre, in-site inbox, email and SMS deliveries that are never lost or doubled.

Where the rules live:
- who is told what about which event: `catalogue.py` (message types, categories, channels, which role gets
  which message; `NOTICES`: the message type of each kind of `notice.requested`, whose recipients the notice
  names); the words: `texts.py` (with the params each notice's text uses) and `templates.py`; what a template
  gets from an event: `message_context.py` (by payload type);
- to whom and on which channel (recipients, bound contact, fallback, erasure), a delivery's idempotency key
  and retry backoff: `domain.py`; recipients and their verification, the daily limit: `centre.py`;
  reminder series and their escalation: `reminders.py`; the inbox's message: `inbox.py`;
- use cases, each on the shared runner (`deps.Deps`): events → messages, the inbox (`services.py`, planning
  one message: `planning.py`), the message centre (`centre_service.py`), reminders and their worker source
  (`reminder_service.py`), erasure and export (`privacy.py`), provider callbacks and replays (`ops.py`);
- sending: `dispatcher.py` (claims, rate limit, retries, dead deliveries), `breaker.py` (circuit breaker and
  failover), `channels.py` / `providers.py` (SMTP, Twilio);
- persistence: `store/` (one repository per aggregate, the unit of work); reads for the API: `queries.py`;
- adapters: `handlers.py` (subscribers, from the `SUBSCRIPTIONS` and `EVENT_HANDLERS` tables), `api*.py`,
  `app.py` (the composition root).
"""
