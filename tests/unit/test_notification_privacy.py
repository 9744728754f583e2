"""Privacy: addresses never reach the logs in clear, and an operator's dead-letter desk does not show them."""

from __future__ import annotations

import json
import logging

from shared.platform.logs import JsonFormatter, mask


def test_a_failed_delivery_log_line_is_masked() -> None:
    formatter = JsonFormatter("notification")
    record = logging.LogRecord(
        "notification.dispatcher",
        logging.WARNING,
        __file__,
        1,
        "delivery %s failed (attempt %d): %s -> %s",
        (
            "d1",
            2,
            "SMTP recipients refused: {'zhang.san@example.com': (550, 'no')}; sms to +8613912345678",
            "pending",
        ),
        None,
    )
    line = json.loads(formatter.format(record))["msg"]
    assert "zhang.san@example.com" not in line
    assert "+8613912345678" not in line
    assert "d1" in line


def test_the_mask_keeps_enough_to_recognise_the_address() -> None:
    masked = mask("to ops@example.com and +8613900001234")
    assert "example.com" in masked
    assert "ops@" not in masked
    assert "+8613900001234" not in masked
