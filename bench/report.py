"""The printed table; the same figures, and the targets with their ids, go to results.json."""

from __future__ import annotations

from typing import Any


def _lat_row(label: str, s: dict[str, Any] | None) -> list[str]:
    if not s or not s.get("n"):
        return []
    cells = "".join(f"{s[k]:>9.1f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"))
    return [f"  {label:<40}{s['n']:>5}{cells}"]


def _cpu_line(label: str, cores: dict[str, float] | None) -> list[str]:
    if not cores:
        return []
    busiest = ", ".join(f"{k} {v:.2f}" for k, v in cores.items() if v >= 0.005)
    return [f"     cpu cores, {label}: {busiest}"]


def _header(r: dict[str, Any]) -> list[str]:
    m = r["machine"]
    other = (r.get("cpu_cores_whole_run") or {}).get("other", 0.0)
    return [
        "",
        f"bench ({r['mode']}) — {m['cores']} cores, Python {m['python']}, Kafka {m['kafka_jar_version']} "
        f"({'external' if m['kafka_external'] else 'local jars'}), SecantusDB {m['secantusdb_version']}, "
        f"total {r['runtime_s']:.0f}s"
        + ("" if r.get("complete") else "  — INCOMPLETE: interrupted or a measurement failed"),
        f"  code at {m['git_head']} + {m['git_uncommitted_files']} uncommitted files; short retry backoffs; "
        "relay/dispatch poll intervals "
        + ("0.2 s (--fast-polls)" if r["params"].get("fast_polls") else "at the production defaults"),
        f"  load average (1 min) before the run {m['loadavg_at_start'][0]:.1f}; other processes used "
        f"{other:.2f} of {m['cores']} cores while measuring"
        + ("  — BUSY MACHINE: figures are pessimistic" if other > 0.25 * (m["cores"] or 1) else ""),
    ]


def _latencies(r: dict[str, Any]) -> list[str]:
    lines = ["", f"  {'latency (ms)':<40}{'n':>5}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}"]
    acc = r.get("acceptance") or {}
    for variant in ("sequential", "burst"):
        v = acc.get(variant)
        if v:
            lines += _lat_row(f"1. accept → completed, {variant}", v["observed"])
            lines += _lat_row("   relay's stamp on order.status_changed", v["server_stamped"])
            lines += _lat_row("   of which the accept request", v["accept_post"])
    inbox = r.get("inbox")
    if inbox:
        lines += _lat_row(f"4. pay → in-site msg, {inbox['rate_per_s']:g}/s seen", inbox["observed"])
        lines += _lat_row("   server-stamped (created_at)", inbox["server_stamped"])
        lines += _lat_row("   of which the pay request", inbox["pay_post"])
        lines += _lat_row("   bench's lag behind its pay schedule", inbox["schedule_lag"])
        for w in inbox.get("windows", []):
            cores = sum(w.get("cpu_cores", {}).values())
            label = f"   paid at {w['from_s']:.0f}–{w['to_s']:.0f} s ({cores:.2f} cores)"
            lines += _lat_row(label, w["observed"])
    if acc.get("sequential"):
        lines += _cpu_line("1. sequential", acc.get("cpu_cores"))
    if acc.get("burst"):
        b = acc["burst"]
        lines += [
            f"     burst: {b['completed']}/{b['n']} completed in {b['wall_s']:.2f}s "
            f"({b['completed_per_s']}/s end to end); the orders API confirms {b['api_confirms_completed']}"
        ]
        lines += _cpu_line("1. burst", b.get("cpu_cores"))
    if inbox:
        lines += [
            f"     {inbox['arrived']}/{inbox['orders']} in-site messages; {inbox['buyers']} buyers, each "
            f"with one waiting inbox read at a time ({inbox['reads_per_s']} reads/s)"
        ]
        lines += _cpu_line("4. sustained", inbox.get("cpu_cores"))
    return lines


def _throughput(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    o = r.get("orders_pipeline")
    if o:
        lines += [
            "",
            f"  2. orders pipeline: {o['completed']}/{o['events']} acceptance.done → completed and published "
            f"in {o['span_s']:.2f}s = {o['events_per_s']} events/s",
            *_cpu_line("2. orders pipeline", o.get("cpu_cores")),
        ]
    d = r.get("deliveries")
    if d:
        once = d["exactly_once"]
        lines += [
            "",
            f"  3. notification: {d['orders']} orders paid at concurrency {d['pay_concurrency']} in "
            f"{d['pay_phase_s']:.2f}s; {once['delivered']}/{once['expected']} emails+SMS within "
            f"{d['span_s']:.2f}s of the first payment (first {d['first_send_s']:.2f}s; "
            + ", ".join(f"{k} at {v:.1f}s" for k, v in d["progress_s"].items())
            + ")",
            f"     {d['external_deliveries_per_s']} external deliveries/s = {d['events_per_s']} order.paid "
            f"events/s; exactly once: {once['duplicates']} duplicates, {once['missing']} missing"
            + (f" (e.g. {', '.join(once['duplicate_examples'][:2])})" if once["duplicate_examples"] else ""),
            *_cpu_line("3. deliveries", d.get("cpu_cores")),
        ]
    n = r.get("notification_pipeline")
    if n:
        once = n["exactly_once"]
        lines += [
            "",
            f"  3b. notification pipeline: {n['events']} order.paid events handed over in "
            f"{n['handover_s']:.2f}s; {once['delivered']}/{once['expected']} emails+SMS within "
            f"{n['span_s']:.2f}s = {n['events_per_s']} events/s ({n['external_deliveries_per_s']} sends/s)",
            f"     exactly once: {once['duplicates']} duplicates, {once['missing']} missing",
            *_cpu_line("3b. notification pipeline", n.get("cpu_cores")),
        ]
    c = r.get("ceilings") or {}
    if c:
        lines += ["", f"  5. ceilings{'':<25}{'service ev/s':>14}{'ceiling ev/s':>14}{'ratio':>8}"]
        for name, x in c.items():
            ratio = f"{x['ratio']:.2f}" if x.get("ratio") is not None else "-"
            service, ceiling = x.get("service_events_per_s", "-"), x.get("ceiling_events_per_s", "-")
            lines.append(f"  {name:<36}{service:>14}{ceiling:>14}{ratio:>8}")
        for name, x in c.items():
            lines += _cpu_line(f"5. {name} ceiling", x.get("cpu_cores"))
    return lines


def _memory(r: dict[str, Any]) -> list[str]:
    peaks = (r.get("inbox") or {}).get("memory_peak") or {}
    after = r.get("memory") or {}
    if not peaks and not after:
        return []
    lines = ["", f"  {'memory (MiB)':<24}{'peak (4.)':>10}{'after':>10}{'limit':>8}{'peak/limit':>12}"]
    for name in dict.fromkeys([*peaks, *after]):
        p, a = peaks.get(name) or {}, after.get(name) or {}
        limit = p.get("limit_mib") or a.get("limit_mib")
        peak = p.get("peak_rss_mib")
        lines.append(
            f"  {name:<24}{peak if peak is not None else '-':>10}{a.get('rss_mib', '-') or '-':>10}"
            f"{limit or '-':>8}{(f'{peak / limit:.2f}' if peak and limit else '-'):>12}"
        )
    return lines


def _cold(r: dict[str, Any]) -> list[str]:
    c = r.get("cold_start")
    if not c:
        return []
    if "ready_s" not in c:
        return ["", f"  6. cold start: {c.get('error', 'skipped')}"]
    return [
        "",
        f"  6. cold start (`devstack jars` + `devstack run`): ready after {c['ready_s']:.1f}s (install "
        f"check {c['install_check_s']:.1f}s; 'stack is up' at {c['said_up_s']:.1f}s); stopped in "
        f"{c['stop_s']:.1f}s",
    ]


def _targets(r: dict[str, Any]) -> list[str]:
    lines = ["", f"  {'targets':<28}{'value':>10}{'':<5}{'threshold':>11}{'ratio':>8}  verdict"]
    for t in r["targets"]:
        v = "-" if t["value"] is None else f"{t['value']:.3g}" if t["unit"] == "×" else f"{t['value']:.1f}"
        unmet = [k for k, ok in t["conditions"].items() if not ok]
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}"
        lines.append(
            f"  {t['id']:<28}{v:>10} {t['unit']:<4}{t['comparison']:>2}{t['threshold']:>9.4g}{ratio:>8}  "
            f"{t['verdict']}"
            + (f" (unmet: {', '.join(unmet)})" if unmet and t["value"] is not None else "")
            + (f"  {t['note']}" if t["note"] else "")
        )
    return lines


def render(r: dict[str, Any]) -> str:
    lines = _header(r) + _latencies(r) + _throughput(r) + _memory(r) + _cold(r) + _targets(r)
    return "\n".join(lines) + "\n"
