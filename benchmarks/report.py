"""Turn the raw results of a run (``results.json``) into ``RESULTS.md``.

Every figure is the median over rounds of one process's measurement. Ratios against
the floor read "how many times the floor's cost" (per call: lower is better, 1.00 is the
floor; throughput: higher is better); ratios against a peer read "how many times
faster than the peer".

``python benchmarks/report.py`` re-renders RESULTS.md from results.json.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OPS = ("check", "track")
ASYNC_FLOOR, SYNC_FLOOR = "aiohttp", "http.client"
#: Multiplication sign and en dash, escaped so the source stays ASCII-unambiguous.
X, NA = "\u00d7", "\u2013"
MODE_TITLES = {
    "seq": "sequential, one call at a time",
    "conc": "{inflight} calls in flight (async)",
    "threads": "{threads} threads sharing one client (sync)",
}


def key(client: str, op: str, mode: str) -> str:
    """The results key of one client in one scenario."""
    return f"{client}|{op}|{mode}"


def _median(values: list[float]) -> float:
    clean = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


class Results:
    """Medians over rounds, looked up by client, operation, mode and metric."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.runs: dict[str, list[dict[str, Any]]] = raw["results"]
        self.startup: dict[str, list[dict[str, Any]]] = raw["startup"]

    def get(self, client: str, op: str, mode: str, metric: str) -> float:
        return _median([run[metric] for run in self.runs.get(key(client, op, mode), [])])

    def spread(self, client: str, op: str, mode: str, metric: str) -> float:
        """(max - min) / median over rounds, as a fraction."""
        values = [run[metric] for run in self.runs.get(key(client, op, mode), [])]
        mid = _median(values)
        if len(values) < 2 or not mid:
            return math.nan
        return (max(values) - min(values)) / mid

    def boot(self, client: str, metric: str) -> float:
        return _median([run[metric] for run in self.startup.get(client, [])])

    def has(self, client: str, op: str, mode: str) -> bool:
        return bool(self.runs.get(key(client, op, mode)))


def _f(value: float, digits: int = 0) -> str:
    if isinstance(value, float) and math.isnan(value):
        return NA
    return f"{value:,.{digits}f}"


def _x(value: float) -> str:
    return NA if math.isnan(value) else f"{value:.2f}{X}"


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _variants(r: Results, mode: str) -> list[str]:
    return [v["key"] for v in r.raw["variants"] if any(r.has(v["key"], op, mode) for op in OPS)]


def _sequential(r: Results, op: str) -> list[str]:
    rows = []
    floor_async = r.get(ASYNC_FLOOR, op, "seq", "per_call_us")
    floor_sync = r.get(SYNC_FLOOR, op, "seq", "per_call_us")
    floor_cpu = r.get(ASYNC_FLOOR, op, "seq", "cpu_us")
    for client in _variants(r, "seq"):
        per_call = r.get(client, op, "seq", "per_call_us")
        cpu = r.get(client, op, "seq", "cpu_us")
        rows.append(
            [
                f"`{client}`",
                _f(per_call),
                f"±{_f(r.spread(client, op, 'seq', 'per_call_us') * 50)}%",
                _f(r.get(client, op, "seq", "p50_us")),
                _f(r.get(client, op, "seq", "p99_us")),
                _f(cpu),
                _x(_ratio(per_call, floor_async)),
                _x(_ratio(per_call, floor_sync)),
                _x(_ratio(cpu, floor_cpu)),
            ]
        )
    header = ["client", "µs/call", "spread", "p50 µs", "p99 µs", "CPU µs/call"]
    header += [f"{X} aiohttp", f"{X} http.client", f"CPU {X} aiohttp"]
    return _table(header, rows)


def _loaded(r: Results, mode: str, floor: str, op: str) -> list[str]:
    rows = []
    floor_tp = r.get(floor, op, mode, "throughput")
    floor_cpu = r.get(floor, op, mode, "cpu_us")
    for client in _variants(r, mode):
        tp = r.get(client, op, mode, "throughput")
        cpu = r.get(client, op, mode, "cpu_us")
        rows.append(
            [
                f"`{client}`",
                _f(tp),
                f"±{_f(r.spread(client, op, mode, 'throughput') * 50)}%",
                _f(r.get(client, op, mode, "p50_us")),
                _f(r.get(client, op, mode, "p99_us")),
                _f(cpu),
                _x(_ratio(tp, floor_tp)),
                _x(_ratio(cpu, floor_cpu)),
            ]
        )
    header = ["client", "calls/s", "spread", "p50 µs", "p99 µs", "CPU µs/call"]
    header += [f"throughput {X} {floor}", f"CPU {X} {floor}"]
    return _table(header, rows)


def _versus_peers(r: Results, op: str) -> list[str]:
    peers = [v["key"] for v in r.raw["variants"] if v["role"] == "peer"]
    ours = [v for v in r.raw["variants"] if v["role"] == "ours"]
    if not peers:
        return ["No peer SDK could be measured (see the notes)."]
    rows = []
    for mine in ours:
        load_mode = "conc" if mine["kind"] == "async" else "threads"
        cells = [f"`{mine['key']}`"]
        for peer in peers:
            peer_kind = next(v["kind"] for v in r.raw["variants"] if v["key"] == peer)
            if peer_kind != mine["kind"]:
                cells.append("")
                continue
            seq = _ratio(
                r.get(peer, op, "seq", "per_call_us"), r.get(mine["key"], op, "seq", "per_call_us")
            )
            load = _ratio(
                r.get(mine["key"], op, load_mode, "throughput"),
                r.get(peer, op, load_mode, "throughput"),
            )
            cells.append(f"{_x(seq)} / {_x(load)}")
        rows.append(cells)
    return _table(["ours \\ peer", *[f"`{p}`" for p in peers]], rows)


def _target_rows(r: Results) -> list[list[str]]:
    rows = []

    def add(name: str, value: float, limit: float, at_most: bool, figures: str) -> None:
        if math.isnan(value):
            verdict = "not measured"
        else:
            met = value <= limit if at_most else value >= limit
            verdict = "**met**" if met else "**not met**"
        rows.append([name, verdict, figures])

    for suffix, label in (("", ""), (" (no extras)", " — without orjson/uvloop")):
        oa, os_ = f"ours-async{suffix}", f"ours-sync{suffix}"
        a_seq = r.get(oa, "check", "seq", "per_call_us")
        floor_seq = r.get(ASYNC_FLOOR, "check", "seq", "per_call_us")
        ratio = _ratio(a_seq, floor_seq)
        add(
            f"`AsyncAutumn` sequential check ≤ 1.10 {X} raw aiohttp{label}",
            ratio,
            1.10,
            True,
            f"{_f(a_seq)} µs vs {_f(floor_seq)} µs = {_x(ratio)}",
        )
        a_tp = r.get(oa, "check", "conc", "throughput")
        floor_tp = r.get(ASYNC_FLOOR, "check", "conc", "throughput")
        ratio = _ratio(a_tp, floor_tp)
        add(
            f"`AsyncAutumn` check throughput at 64 in flight ≥ 0.95 {X} raw aiohttp{label}",
            ratio,
            0.95,
            False,
            f"{_f(a_tp)}/s vs {_f(floor_tp)}/s = {_x(ratio)}",
        )
        peer_seq = r.get("autumn-sdk-async", "check", "seq", "per_call_us")
        ratio = _ratio(peer_seq, a_seq)
        add(
            f"`AsyncAutumn` ≥ 8 {X} faster than autumn-sdk async, sequential{label}",
            ratio,
            8,
            False,
            f"{_f(peer_seq)} µs vs {_f(a_seq)} µs = {_x(ratio)}",
        )
        peer_tp = r.get("autumn-sdk-async", "check", "conc", "throughput")
        ratio = _ratio(a_tp, peer_tp)
        add(
            f"`AsyncAutumn` ≥ 30 {X} autumn-sdk async at 64 in flight{label}",
            ratio,
            30,
            False,
            f"{_f(a_tp)}/s vs {_f(peer_tp)}/s = {_x(ratio)}",
        )
        s_seq = r.get(os_, "check", "seq", "per_call_us")
        ratio = _ratio(s_seq, floor_seq)
        add(
            f"sync `Autumn` sequential check ≤ 1.25 {X} raw aiohttp{label}",
            ratio,
            1.25,
            True,
            f"{_f(s_seq)} µs vs {_f(floor_seq)} µs = {_x(ratio)}",
        )
        peer_sync = r.get("autumn-sdk-sync", "check", "seq", "per_call_us")
        ratio = _ratio(peer_sync, s_seq)
        add(
            f"sync `Autumn` ≥ 5 {X} faster than autumn-sdk sync, sequential{label}",
            ratio,
            5,
            False,
            f"{_f(peer_sync)} µs vs {_f(s_seq)} µs = {_x(ratio)}",
        )
        boot = f"autumn_sync{suffix}"
        imp = r.boot(boot, "import_ms")
        entry = imp + r.boot(boot, "entry_ms")
        add(
            f"`import autumn_sync` ≤ 60 ms{label}",
            imp,
            60,
            True,
            f"{_f(imp, 1)} ms (`from autumn_sync import Autumn`: {_f(entry, 1)} ms; "
            f"first call adds {_f(r.boot(boot, 'first_call_ms'), 1)} ms)",
        )
        rss = r.boot(boot, "rss_client_mib")
        add(
            f"RSS after creating a client ≤ 30 MiB{label}",
            rss,
            30,
            True,
            f"{_f(rss, 1)} MiB (after the first call: "
            f"{_f(r.boot(boot, 'rss_first_call_mib'), 1)} MiB)",
        )
    return rows


def _startup(r: Results) -> list[str]:
    rows = []
    for client in r.startup:
        imp = r.boot(client, "import_ms")
        rows.append(
            [
                f"`{client}`",
                _f(imp, 1),
                _f(imp + r.boot(client, "entry_ms"), 1),
                _f(r.boot(client, "create_ms"), 1),
                _f(r.boot(client, "first_call_ms"), 1),
                _f(r.boot(client, "rss_start_mib"), 1),
                _f(r.boot(client, "rss_import_mib"), 1),
                _f(r.boot(client, "rss_entry_mib"), 1),
                _f(r.boot(client, "rss_client_mib"), 1),
                _f(r.boot(client, "rss_first_call_mib"), 1),
            ]
        )
    header = ["library", "import ms", "+ client class ms", "create ms", "first call ms"]
    header += ["RSS bare", "RSS import", "RSS class", "RSS client", "RSS 1st call"]
    return _table(header, rows)


def _imports(raw: dict[str, Any]) -> list[str]:
    data = raw.get("imports", {})
    if "error" in data:
        return [f"`-X importtime` run failed: {data['error']}"]
    lines = []
    for phase, info in data.items():
        if not info["packages"]:
            lines.append(f"- **{phase}**: no imports")
            continue
        packages = ", ".join(f"{name} {ms:.1f}" for name, ms in info["packages"])
        modules = ", ".join(f"`{name}` {ms:.1f}" for name, ms in info.get("modules", []))
        lines.append(f"- **{phase}** ({info['total_ms']:.1f} ms in imports): {packages}")
        lines.append(f"  - costliest modules: {modules}")
    return lines


def _machine(info: dict[str, Any]) -> list[str]:
    ours = ", ".join(f"{k} {v}" for k, v in info["ours"].items())
    lines = [
        f"- CPU: {info['cpu_model']}, `nproc` = {info['nproc']}; {info['pinning']}",
        f"- OS: {info['kernel']}; Python {info['python']} ({info['implementation']})",
        f"- SDK commit {info['commit']}; {ours}",
    ]
    for name, versions in info["peers"].items():
        lines.append(f"- {name} venv: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    start, end = info.get("load", [math.nan, math.nan])
    lines.append(
        f"- 1-minute load average at start / end: {start:.2f} / {end:.2f} on {info['nproc']} "
        "cores (other work on the machine inflates wall times; CPU µs/call is steadier)"
    )
    s = info["settings"]
    lines.append(
        f"- {s['rounds']} rounds {X} {s['seconds']} s measured per run (after {s['warmup']} s "
        f"warm-up); start-up: {s['startup_rounds']} rounds; run took {info['duration_s']} s "
        f"on {info['date']}"
    )
    return lines


def render(raw: dict[str, Any]) -> str:
    """The whole RESULTS.md."""
    r = Results(raw)
    s = raw["machine"]["settings"]
    out = [
        "# Benchmarks: autumn-balances against raw HTTP and the peer SDKs",
        "",
        "Produced by `make bench` (`.venv/bin/python benchmarks/run.py`); method and "
        "caveats in [benchmarks/README.md](README.md). Loopback server in its own process "
        "answering the spec's example bodies; each client scenario in a fresh process; "
        "clients interleaved round by round; medians over rounds.",
        "",
        "## Machine",
        "",
        *_machine(raw["machine"]),
        "",
        "## Targets (issue 7), on `check`",
        "",
        *_table(["target", "verdict", "figures (medians)"], _target_rows(r)),
        "",
    ]
    for op in OPS:
        out += [f"## `{op}`", "", f"### {MODE_TITLES['seq']}", "", *_sequential(r, op), ""]
        out += [f"### {MODE_TITLES['conc'].format(**s)}", ""]
        out += [*_loaded(r, "conc", ASYNC_FLOOR, op), ""]
        out += [f"### {MODE_TITLES['threads'].format(**s)}", ""]
        out += [*_loaded(r, "threads", SYNC_FLOOR, op), ""]
        out += [
            f"### `{op}`: how many times faster than each peer (sequential / under load)",
            "",
            *_versus_peers(r, op),
            "",
        ]
    out += [
        "## Start-up: import time and memory",
        "",
        "Milliseconds are cumulative from a bare interpreter: `import module`, then "
        "`from module import Client`, then creating the client, then its first `check` "
        "(sync clients only; it includes any import the library defers to the first call). "
        "RSS is `VmRSS` in MiB after each step.",
        "",
        *_startup(r),
        "",
        "### Where `autumn_sync`'s start-up goes (`-X importtime` self time, ms by package)",
        "",
        *_imports(raw),
        "",
        "## Notes",
        "",
    ]
    out += [f"- {note}" for note in raw["notes"]] or ["- Every client ran in every round."]
    for name, notes in raw.get("peer_notes", {}).items():
        out += [f"- {name}: {note}" for note in notes]
    return "\n".join(out) + "\n"


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.json"
    (HERE / "RESULTS.md").write_text(render(json.loads(source.read_text())))


if __name__ == "__main__":
    main()
