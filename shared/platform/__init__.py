"""Plumbing every service shares: settings base, Mongo unit of work with outbox and inbox, the outbox relay,
dead-letter middleware, topic bootstrap, health and logs. No domain logic lives here."""
