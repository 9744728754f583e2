"""Contact data is masked before anything is logged; ids and numbers stay readable."""

from __future__ import annotations

import json
import logging

import pytest

from shared.platform.logs import JsonFormatter, mask


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("alice@example.com", "a***@example.com"),
        ("sent to bob.smith+tag@mail.example.co.uk.", "sent to b***@mail.example.co.uk."),
        ("+8613800001234", "***34"),
        ("sms to +14155550123 failed", "sms to ***23 failed"),
        ('{"phone": "+447700900123"}', '{"phone": "***23"}'),
        ("a@example.com and +8613800001234", "a***@example.com and ***34"),
    ],
)
def test_emails_and_e164_phones_are_masked(raw: str, masked: str) -> None:
    assert mask(raw) == masked


@pytest.mark.parametrize(
    "untouched",
    [
        "3f2a9c0d1e4b5a6978877665544332211",
        "event 6f1c2d3e-4b5a-4978-8776-655443322110",
        "offset 13800001234 partition 3",
        "order CS2603010930ABC123",
        "took 1234567890123 ns",
        "version +1",
    ],
)
def test_hex_ids_and_plain_integers_are_untouched(untouched: str) -> None:
    assert mask(untouched) == untouched


def test_the_json_formatter_masks_message_and_fields() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "mail to %s", ("carol@example.com",), None)
    record.reason = "sms to +8613800001234 bounced"
    record.order_id = "CS2603010930ABC123"

    out = json.loads(JsonFormatter("notification").format(record))

    assert out["msg"] == "mail to c***@example.com"
    assert out["reason"] == "sms to ***34 bounced"
    assert out["order_id"] == "CS2603010930ABC123"
    assert out["service"] == "notification"
