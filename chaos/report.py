"""The printed result: a table per fault, what was checked, where the time went, and the one last line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from chaos.checks import Findings
from chaos.faults import Fault
from chaos.story import Plan

SHOWN = 15  # findings listed per kind (all of them are counted)


@dataclass
class Run:
    orders: int
    plans: list[Plan]
    faults: list[Fault]
    findings: Findings
    t0: float  # the drive's start (monotonic)
    drive_s: float  # from the first order to the last story step
    drain_s: float  # from there until the checks passed (or gave up)
    wall_s: float  # the whole run, the stack's start and stop included
    cores: dict[str, float]
    retries: Counter[str]
    calls: int


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def table(run: Run) -> list[str]:
    lines = [f"  {'#':>2}  {'fault':<36}{'hit':<28}{'at':>7}{'lasted':>9}{'recovery':>10}  note"]
    for i, f in enumerate(run.faults, 1):
        at = None if f.started is None else f.started - run.t0
        recovery = _s(f.recovery) if f.recovered is not None or f.ended is None else "NOT RECOVERED"
        remarks = "; ".join(x for x in (f.note, f.problem) if x)
        lines.append(
            f"  {i:>2}  {f.name:<36}{f.target:<28}{_s(at):>7}{_s(f.lasted):>9}{recovery:>10}  {remarks}"
        )
    lines.append(
        "  recovery: from the fault's end until a killed replica answers /readyz, or (broker, database) "
        "every replica is ready and a service order opened again, or (SMTP, SMS) the sink accepts again"
    )
    return lines


def render(run: Run) -> str:
    f = run.findings
    kinds = Counter(p.kind.value for p in run.plans)
    done = sum(p.done for p in run.plans)
    lines = [
        "",
        f"chaos: {run.orders} orders ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}), "
        f"{len(run.faults)} faults, 2 replicas of each service",
        "",
        *table(run),
        "",
    ]
    lines.append(
        f"  drive {run.drive_s:.0f}s ({run.orders / max(run.drive_s, 1e-6) * 60:.0f} orders/min, {done} "
        f"walked to the end), drain and checks {run.drain_s:.0f}s, wall {run.wall_s:.0f}s"
    )
    n = f.counts
    sent = n.get("emails", 0) + n.get("sms", 0)
    lines.append(
        f"  checked: {n.get('orders', 0)} orders, {n.get('deliveries', 0)} deliveries "
        f"({n.get('in_site', 0)} in-site, {n.get('emails', 0)} e-mails, {n.get('sms', 0)} SMS; "
        f"{sent / max(run.drive_s + run.drain_s, 1e-6):.1f} e-mails+SMS/s over the run), "
        f"{n.get('ledger_entries', 0)} ledger entries"
    )
    lines.append(
        f"  HTTP calls {run.calls}, retried: "
        + (", ".join(f"{k} ×{n}" for k, n in run.retries.most_common()) or "none")
    )
    busiest = ", ".join(f"{k} {v:.2f}" for k, v in list(run.cores.items())[:8])
    lines.append(f"  CPU cores used on average (busiest first): {busiest}; all {sum(run.cores.values()):.2f}")
    for label, items in (
        ("LOST", f.lost),
        ("DUPLICATED", f.duplicated),
        ("STUCK", f.stuck),
        ("DEAD-LETTERED", f.dead_lettered),
        ("UNEXPECTED", f.unexpected),
    ):
        if items:
            lines.append(f"  {label} ({len(items)}):")
            lines += [f"    - {x}" for x in items[:SHOWN]]
            if len(items) > SHOWN:
                lines.append(f"    ... and {len(items) - SHOWN} more")
    return "\n".join(lines)


def last_line(run: Run) -> str:
    f = run.findings
    return (
        f"chaos: orders={run.orders} faults={len(run.faults)} lost={len(f.lost)} "
        f"duplicated={len(f.duplicated)} stuck={len(f.stuck)} dead_lettered={len(f.dead_lettered)} "
        f"poisoned={f.poisoned} wall={run.wall_s:.0f}s"
    )


def as_json(run: Run) -> dict[str, Any]:
    f = run.findings
    return {
        "orders": run.orders,
        "wall_s": round(run.wall_s, 1),
        "drive_s": round(run.drive_s, 1),
        "drain_s": round(run.drain_s, 1),
        "counts": f.counts,
        "poisoned": f.poisoned,
        "lost": f.lost,
        "duplicated": f.duplicated,
        "stuck": f.stuck,
        "dead_lettered": f.dead_lettered,
        "unexpected": f.unexpected,
        "cores": {k: round(v, 3) for k, v in run.cores.items()},
        "retries": dict(run.retries),
        "calls": run.calls,
        "faults": [
            {
                "name": x.name,
                "target": x.target,
                "at_s": None if x.started is None else round(x.started - run.t0, 1),
                "lasted_s": x.lasted,
                "recovery_s": x.recovery,
                "note": x.note,
                "problem": x.problem,
            }
            for x in run.faults
        ],
    }
