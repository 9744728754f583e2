"""How many SMS parts a text takes: the one rule the notification service and the local Twilio sink share."""

from __future__ import annotations

import math

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = set("\f^{}\\[~]|€")  # each takes an escape plus the character: two septets


def segments(text: str) -> int:
    """GSM-7 fits 160 septets in one SMS (153 per part when split); anything else is UCS-2: 70 (67 per
    part)."""
    if all(c in GSM7 or c in GSM7_EXT for c in text):
        units, single, multi = sum(2 if c in GSM7_EXT else 1 for c in text), 160, 153
    else:
        units, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)
