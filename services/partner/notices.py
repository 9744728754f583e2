"""The notices partner asks notification for (`notice.requested`, dossier §6.3): facts its own flows decided,
written to the outbox in the same unit of work as the state change. `notice_id` is the fact's stable key, so a
fact told twice is one notice."""

from __future__ import annotations

from shared.schemas import (
    AccountRole,
    NoticeKind,
    NoticeRecipient,
    NoticeRequested,
    NoticeRequestedPayload,
    Parties,
)


def notice(
    kind: NoticeKind,
    notice_id: str,
    subject_id: str,
    recipients: dict[AccountRole, str],
    params: dict[str, str],
    order_id: str | None = None,
    parties: Parties | None = None,
) -> NoticeRequested:
    return NoticeRequested(
        producer="partner",
        correlation_id=notice_id,
        order_id=order_id,
        payload=NoticeRequestedPayload(
            notice_id=notice_id,
            kind=kind,
            recipients=[NoticeRecipient(role=role, account_id=who) for role, who in recipients.items()],
            subject_id=subject_id,
            params=params,
            parties=parties,
        ),
    )
