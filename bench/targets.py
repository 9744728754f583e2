"""Issue 12's targets, each with a stable id, its value, threshold, ratio and PASS/MISS verdict.

Pure: it reads the results dictionary the phases filled in and decides nothing else. A target whose phase did
not run (or failed) is still listed, with no value and a MISS, so a reader never mistakes absence for success.
"""

from __future__ import annotations

from typing import Any

from bench.stats import verdict

ACCEPT_BURST_MS = 1000.0
ACCEPT_SEQ_MS = 250.0
DELIVERIES_PER_S = 200.0
INBOX_SUSTAINED_MS = 250.0
CEILING_RATIO = 0.5
COLD_START_S = 60.0
MEMORY_SHARE = 0.5  # of the service's Kubernetes memory limit
SERVICES = ("orders", "supervision", "notification", "partner")
IDS = (
    "accept_burst_p99",
    "accept_seq_p99",
    "deliveries_per_s",
    "inbox_p99_sustained",
    "ceiling_ratio_notification",
    "ceiling_ratio_orders",
    "cold_start_s",
    *(f"memory_{s}" for s in SERVICES),
)


def target(
    tid: str,
    what: str,
    value: float | None,
    threshold: float,
    *,
    below: bool,
    unit: str,
    conditions: dict[str, bool] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """`below`: the value must be under the threshold (latency, memory); else at least it (rates, ratios).
    Every entry of `conditions` must hold too (all completed, no duplicates ...)."""
    conditions = conditions or {}
    ok = (
        value is not None
        and (value < threshold if below else value >= threshold)
        and all(conditions.values())
    )
    return {
        "id": tid,
        "target": what,
        "value": value,
        "unit": unit,
        "threshold": threshold,
        "comparison": "<" if below else ">=",
        "ratio": None if value is None else round(value / threshold, 3),
        "conditions": conditions,
        "verdict": verdict(ok),
        "note": note if value is not None else (note or "not measured (the phase did not complete)"),
    }


def _get(r: dict[str, Any], *path: str) -> Any:
    node: Any = r
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    acc, seq = _get(r, "acceptance", "burst"), _get(r, "acceptance", "sequential")
    d, inbox = r.get("deliveries") or {}, r.get("inbox") or {}
    out = [
        target(
            "accept_burst_p99",
            f"{(acc or {}).get('n', 100)} orders accepted at once, all complete, "
            "p99 accept → completed < 1 s",
            _get(acc or {}, "observed", "p99_ms"),
            ACCEPT_BURST_MS,
            below=True,
            unit="ms",
            conditions={"all_completed": bool(acc and acc.get("all_completed"))},
        ),
        target(
            "accept_seq_p99",
            "accepted one at a time, p99 accept → completed < 250 ms",
            _get(seq or {}, "observed", "p99_ms"),
            ACCEPT_SEQ_MS,
            below=True,
            unit="ms",
            conditions={"all_completed": bool(seq and seq.get("all_completed"))},
        ),
        target(
            "deliveries_per_s",
            "external deliveries (email + SMS) per second, each exactly once",
            d.get("external_deliveries_per_s"),
            DELIVERIES_PER_S,
            below=False,
            unit="/s",
            conditions={
                "at_least_800_sends": d.get("external_sends_expected", 0) >= 800,
                "no_duplicates": _get(d, "exactly_once", "duplicates") == 0,
                "none_missing": _get(d, "exactly_once", "missing") == 0,
            },
        ),
        target(
            "inbox_p99_sustained",
            f"{inbox.get('rate_per_s', 20)} orders paid per second for {inbox.get('duration_s', 60)} s, "
            "p99 pay → in-site message < 250 ms",
            _get(inbox, "observed", "p99_ms"),
            INBOX_SUSTAINED_MS,
            below=True,
            unit="ms",
            conditions={"all_arrived": bool(inbox.get("all_arrived"))},
        ),
    ]
    once = _get(r, "notification_pipeline", "exactly_once") or {}
    exact = {
        "notification": {
            "exactly_once": bool(once) and not once.get("duplicates") and not once.get("missing")
        }
    }
    for pipeline in ("notification", "orders"):
        c = _get(r, "ceilings", pipeline) or {}
        out.append(
            target(
                f"ceiling_ratio_{pipeline}",
                f"{pipeline} pipeline events/s ÷ its ceiling loop's events/s ≥ 0.5",
                c.get("ratio"),
                CEILING_RATIO,
                below=False,
                unit="×",
                conditions=exact.get(pipeline),
                note=(
                    f"service {c['service_events_per_s']} ev/s, ceiling {c['ceiling_events_per_s']} ev/s"
                    if c.get("ratio") is not None
                    else ""
                ),
            )
        )
    cold = r.get("cold_start") or {}
    out.append(
        target(
            "cold_start_s",
            "`make run` ready (every service /readyz 200, the run says it is up) once installed, < 60 s",
            cold.get("ready_s"),
            COLD_START_S,
            below=True,
            unit="s",
        )
    )
    peaks = _get(inbox, "memory_peak") or {}
    for name in SERVICES:
        m = peaks.get(name) or {}
        limit = m.get("limit_mib") or (r.get("k8s_memory_limits_mib") or {}).get(name)
        out.append(
            target(
                f"memory_{name}",
                f"{name} peak RSS during the sustained load < half its Kubernetes limit",
                m.get("peak_rss_mib"),
                limit * MEMORY_SHARE if limit else float("nan"),
                below=True,
                unit="MiB",
                note=f"limit {limit:.0f} MiB" if limit else "no Kubernetes limit found",
            )
        )
    return out
