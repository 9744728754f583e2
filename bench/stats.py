"""Percentiles (nearest rank) and the small summaries every measurement reports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: with n samples, p99 is the max for n < 100."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """n, mean, p50, p90, p99, max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "mean_ms": round(sum(ms) / len(ms), 1) if ms else math.nan,
        "min_ms": round(min(ms), 1) if ms else math.nan,
        **{f"p{p}_ms": round(percentile(ms, p), 1) for p in (50, 90, 99)},
        "max_ms": round(max(ms), 1) if ms else math.nan,
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
