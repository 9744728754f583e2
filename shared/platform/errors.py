"""Errors with a delivery meaning: refused for good (DomainError, PermanentError), not yet (NotYetKnown), or
transient (a DomainError with `transient`; database and broker outages are classified in deadletter.py)."""


class PermanentError(Exception):
    """Processing this message can never succeed (bad data, unknown reference): dead-letter it at once."""


class DomainError(Exception):
    """A rule refused an operation. `code` is stable for clients. The kind of refusal is the class (not found,
    forbidden, invalid, a limit reached, too large, unavailable, and otherwise a conflict with the state); the
    HTTP adapter (shared/platform/http.py) maps it to a status, the domain knows no HTTP."""

    code = "conflict"
    transient = False  # True: the same input may succeed on a retry (a lost optimistic-concurrency race)

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    """The caller is known but may not do this; `rule` names the rule that refused it (stable for clients)."""

    code = "forbidden"

    def __init__(self, message: str, *, field: str | None = None, rule: str = "forbidden") -> None:
        super().__init__(message, field=field, rule=rule)


class InvalidInput(DomainError):
    code = "invalid"


class LimitReached(DomainError):
    """A quota or rate limit of the caller's is used up for now; `retry_after` (seconds), when known, becomes
    the answer's Retry-After."""

    code = "limit_reached"
    retry_after: int | None = None


class TooLarge(DomainError):
    code = "too_large"


class Unavailable(DomainError):
    """Something this operation depends on is away for a moment: retry later."""

    code = "unavailable"


class NotYetKnown(Exception):
    """The event is about something this service has not seen yet (`aggregate`, e.g. an order whose order.paid
    is still on its way: events of different topics arrive in any order). Not poison: the event is parked and
    tried again when the aggregate arrives, and dead-lettered with this reason only after a long bound."""

    def __init__(self, aggregate: str, message: str) -> None:
        super().__init__(message)
        self.aggregate, self.message = aggregate, message
