"""The printed table and the PASS/MISS verdicts; the same figures go to results.json."""

from __future__ import annotations

from typing import Any

from bench.stats import verdict

TARGET_MS = 1000.0  # issue target: acceptance → completed p99 < 1 s on the local stack
PROMISE_MS = 3 * 3600 * 1000.0  # the marketplace promises completion within 3 hours


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    acc = r.get("acceptance")
    if acc:
        for variant in ("sequential", "burst"):
            p99 = acc[variant]["p99_ms"]
            out.append(
                {
                    "target": f"acceptance→completed p99 < 1 s ({variant})",
                    "value_ms": p99,
                    "ratio_to_target": round(p99 / TARGET_MS, 3),
                    "times_faster_than_3h_promise": round(PROMISE_MS / p99),
                    "verdict": verdict(p99 < TARGET_MS),
                }
            )
    for name, m in (r.get("memory") or {}).items():
        if m.get("limit_mib") and m.get("rss_mib") is not None:
            out.append(
                {
                    "target": f"{name} RSS < k8s memory limit",
                    "value_mib": m["rss_mib"],
                    "ratio_to_target": m["ratio_to_limit"],
                    "verdict": verdict(m["rss_mib"] < m["limit_mib"]),
                }
            )
    return out


def _lat_row(label: str, s: dict[str, Any]) -> str:
    return (
        f"  {label:<34}{s['n']:>5}{s['p50_ms']:>10.1f}{s['p90_ms']:>10.1f}{s['p99_ms']:>10.1f}"
        f"{s['max_ms']:>10.1f}"
    )


def _cpu_line(label: str, cores: dict[str, float] | None) -> list[str]:
    if not cores:
        return []
    busiest = ", ".join(f"{k} {v:.2f}" for k, v in list(cores.items())[:5])
    return [f"     cpu cores used, {label}: {busiest}"]


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "",
        f"bench ({r['mode']}) — {m['cores']} cores, Python {m['python']}, Kafka {m['kafka_jar_version']} "
        f"({'external' if m['kafka_external'] else 'local jars'}), SecantusDB {m['secantusdb_version']} "
        f"({'external' if m['mongodb_external'] else 'local'}), total {r['runtime_s']:.0f}s"
        + ("" if r.get("complete") else "  — INCOMPLETE: interrupted or a measurement failed"),
        f"  code at {m['git_head']} + {m['git_uncommitted_files']} uncommitted files; "
        "short retry backoffs; relay/dispatch poll intervals "
        + ("0.2 s (--fast-polls)" if r["params"].get("fast_polls") else "at the production defaults"),
        "",
        f"  {'latency (ms)':<34}{'n':>5}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}",
    ]
    other = (r.get("cpu_cores_whole_run") or {}).get("other", 0.0)
    lines.insert(
        3,
        f"  load average (1 min) before the run {m['loadavg_at_start'][0]:.1f}; other processes used "
        f"{other:.2f} of {m['cores']} cores while measuring"
        + ("  — BUSY MACHINE: figures are pessimistic" if other > 0.25 * (m["cores"] or 1) else ""),
    )
    acc, inbox = r.get("acceptance"), r.get("inbox")
    if acc:
        lines += [
            _lat_row("1. accept → completed, sequential", acc["sequential"]),
            _lat_row("   of which the accept POST", acc["sequential_accept_post"]),
            _lat_row("1. accept → completed, burst", acc["burst"]),
            _lat_row("   of which the accept POST", acc["burst_accept_post"]),
        ]
    if inbox:
        lines += [
            _lat_row("2. pay → in-site message (polled)", inbox["polled"]),
            _lat_row("   server-stamped (created_at)", inbox["server_stamped"]),
        ]
    lines += _cpu_line("phase 1", acc and acc.get("cpu_cores")) + _cpu_line(
        "burst", acc and acc["burst"]["cpu_cores"]
    )
    lines += _cpu_line("phase 2", inbox and inbox.get("cpu_cores"))
    d = r.get("deliveries")
    if d:
        lines += [
            "",
            f"  3. notification throughput: {d['orders']} orders paid at concurrency "
            f"{d['pay_concurrency']} in {d['pay_phase_s']:.2f}s ({d['pay_requests_per_s']} pay/s)",
            f"     {d['external_sends_seen']}/{d['external_sends_expected']} emails+SMS reached the sinks "
            f"{d['span_s']:.2f}s after the "
            f"first pay (first after {d['first_send_s']:.2f}s; "
            + ", ".join(f"{k} at {v:.1f}s" for k, v in d["progress_s"].items())
            + ")",
            f"     {d['external_deliveries_per_s']:>8} external deliveries/s (email+SMS)",
            f"     {d['all_deliveries_per_s']:>8} deliveries/s incl. in-site (6 per order.paid)",
            f"     {d['events_per_s']:>8} order.paid events/s fully notified",
            f"     ×{d['events_vs_anchor']:<7} vs anchor 585 ev/s (FastStream Kafka ping-pong, 0.5 CPU — a "
            "different workload: no DB, no SMTP/SMS)",
            *_cpu_line("pay → delivered", d.get("cpu_cores")),
        ]
    mem = r.get("memory")
    if mem:
        lines += [
            "",
            f"  {'4. memory (RSS after the runs)':<34}{'MiB':>8}{'limit':>8}{'ratio':>8}{'procs':>7}",
        ]
        for name, x in mem.items():
            if x.get("external"):
                lines.append(f"  {name:<34}{'external':>8}")
                continue
            limit = f"{x['limit_mib']:.0f}" if x.get("limit_mib") else "-"
            ratio = f"{x['ratio_to_limit']:.2f}" if x.get("ratio_to_limit") is not None else "-"
            lines.append(f"  {name:<34}{x['rss_mib']:>8.1f}{limit:>8}{ratio:>8}{x['processes']:>7}")
    lines += ["", "  targets"]
    for t in r["targets"]:
        if "value_ms" in t:
            lines.append(
                f"  [{t['verdict']}] {t['target']}: p99 {t['value_ms']:.0f} ms = {t['ratio_to_target']:.2f}"
                f"× the target; {t['times_faster_than_3h_promise']:,}× faster than the 3 h promise"
            )
        else:
            lines.append(
                f"  [{t['verdict']}] {t['target']}: {t['value_mib']:.0f} MiB = {t['ratio_to_target']:.2f}"
                "× the limit"
            )
    return "\n".join(lines) + "\n"
