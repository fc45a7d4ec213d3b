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


class _Targets:
    """The issue's targets on ``check``, one row each, with wall and CPU figures."""

    def __init__(self, r: Results) -> None:
        self.r = r
        self.rows: list[list[str]] = []

    def add(self, name: str, value: float, limit: float, at_most: bool, figures: str) -> None:
        if math.isnan(value):
            verdict = "not measured"
        else:
            met = value <= limit if at_most else value >= limit
            verdict = "**met**" if met else "**not met**"
        self.rows.append([name, verdict, figures])

    def per_call(self, name: str, mine: str, other: str, limit: float, judge: str) -> None:
        """Sequential check, ``mine / other <= limit``, judged on ``judge``: "p50" (the
        median call, which a busy machine's stalls move far less than the mean), "cpu",
        or "both" (p50 and CPU must both hold). Mean shown too."""
        r = self.r

        def ratio(metric: str) -> tuple[float, float, float]:
            a, b = r.get(mine, "check", "seq", metric), r.get(other, "check", "seq", metric)
            return a, b, _ratio(a, b)

        p50, mean, cpu = ratio("p50_us"), ratio("per_call_us"), ratio("cpu_us")
        figures = "; ".join(
            f"{label} {_f(a)} vs {_f(b)} µs = {_x(x)}"
            for label, (a, b, x) in (("p50", p50), ("mean", mean), ("CPU", cpu))
        )
        value = {"p50": p50[2], "cpu": cpu[2], "both": max(p50[2], cpu[2])}[judge]
        self.add(name, value, limit, True, figures)

    def loaded(self, name: str, mine: str, other: str, mode: str, limit: float) -> None:
        """Calls per second at 64 in flight (``conc``) or with 8 threads (``threads``);
        the CPU-bound ratio (inverse CPU per call) is what the throughput would be if the
        client core were all ours."""
        r = self.r
        a, b = r.get(mine, "check", mode, "throughput"), r.get(other, "check", mode, "throughput")
        ca, cb = r.get(mine, "check", mode, "cpu_us"), r.get(other, "check", mode, "cpu_us")
        cpu = _ratio(cb, ca)
        figures = (
            f"{_f(a)} vs {_f(b)} calls/s = {_x(_ratio(a, b))}; CPU {_f(ca)} vs {_f(cb)} "
            f"µs/call, a CPU-bound ratio of {_x(cpu)}"
        )
        if not math.isnan(cpu):
            figures += f" (on CPU: {'met' if cpu >= limit else 'not met'})"
        self.add(name, _ratio(a, b), limit, False, figures)


NO_EXTRAS = " (no extras)"


def _target_rows(r: Results, raw: dict[str, Any]) -> list[list[str]]:
    t = _Targets(r)
    t.rows.append(["*default install (no orjson, no uvloop)*", "", ""])
    t.per_call(
        f"sync `Autumn` sequential ≤ 1.15 {X} raw aiohttp, wall (p50) and CPU",
        "ours-sync" + NO_EXTRAS,
        ASYNC_FLOOR,
        1.15,
        "both",
    )
    t.per_call(
        f"`AsyncAutumn` sequential ≤ 1.05 {X} raw aiohttp (p50)",
        "ours-async" + NO_EXTRAS,
        ASYNC_FLOOR,
        1.05,
        "p50",
    )
    t.loaded(
        f"`AsyncAutumn` at 64 in flight ≥ 0.95 {X} raw aiohttp",
        "ours-async" + NO_EXTRAS,
        ASYNC_FLOOR,
        "conc",
        0.95,
    )
    t.loaded(
        "8 threads sharing one sync `Autumn` ≥ raw `http.client` (a connection per thread)",
        "ours-sync" + NO_EXTRAS,
        SYNC_FLOOR,
        "threads",
        1.0,
    )
    t.rows.append(["*with the `speed` extra (orjson; uvloop where named)*", "", ""])
    t.per_call(
        f"sync `Autumn` sequential ≤ 1.00 {X} raw aiohttp on CPU",
        "ours-sync",
        ASYNC_FLOOR,
        1.0,
        "cpu",
    )
    t.per_call(
        f"the same with `AUTUMN_SYNC_UVLOOP=1` ≤ 1.00 {X} raw aiohttp on CPU",
        "ours-sync (uvloop)",
        ASYNC_FLOOR,
        1.0,
        "cpu",
    )
    t.per_call(
        f"`AsyncAutumn` sequential ≤ 1.05 {X} raw aiohttp (p50)",
        "ours-async",
        ASYNC_FLOOR,
        1.05,
        "p50",
    )
    t.loaded(
        f"`AsyncAutumn` at 64 in flight ≥ 0.95 {X} raw aiohttp",
        "ours-async",
        ASYNC_FLOOR,
        "conc",
        0.95,
    )
    t.loaded(
        f"`AsyncAutumn` on uvloop at 64 in flight ≥ 0.95 {X} raw aiohttp on uvloop",
        "ours-async (uvloop)",
        "aiohttp (uvloop)",
        "conc",
        0.95,
    )
    t.loaded(
        "8 threads sharing one sync `Autumn` ≥ raw `http.client`",
        "ours-sync",
        SYNC_FLOOR,
        "threads",
        1.0,
    )
    t.rows.append(["*start-up*", "", ""])
    times = raw.get("import_times") or {}
    bare, aio = times.get("bare", math.nan), times.get("import asyncio", math.nan)
    for statement in ("from autumn_sync import Autumn", "from autumn_async import AsyncAutumn"):
        mine = times.get(statement, math.nan)
        ratio = _ratio(mine - bare, aio - bare)
        t.add(
            f"`{statement}` ≤ 1.2 {X} `import asyncio` (each over bare start-up)",
            ratio,
            1.2,
            True,
            f"{_f(mine - bare, 1)} vs {_f(aio - bare, 1)} ms = {_x(ratio)} (best of "
            f"{raw['machine']['settings'].get('import_rounds', '?')}; bare start-up "
            f"{_f(bare, 1)} ms)",
        )

    def to_first_answer(client: str) -> float:
        return (
            r.boot(client, "import_ms")
            + r.boot(client, "entry_ms")
            + r.boot(client, "create_ms")
            + r.boot(client, "first_call_ms")
        )

    ours, peer = to_first_answer("autumn_sync" + NO_EXTRAS), to_first_answer("autumn-sdk")
    t.add(
        "import + client + first `check` in a fresh process ≤ half of `autumn-sdk`'s",
        _ratio(ours, peer),
        0.5,
        True,
        f"{_f(ours, 1)} vs {_f(peer, 1)} ms = {_x(_ratio(ours, peer))}",
    )
    return t.rows


def _instructions() -> list[str]:
    path = HERE / "instructions.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    rows = []
    for install, clients in data.items():
        floor = clients.get(ASYNC_FLOOR, math.nan)
        for client, count in clients.items():
            rows.append([install, f"`{client}`", _f(count), _x(_ratio(count, floor))])
    return [
        "## Instructions per call (callgrind)",
        "",
        "From `benchmarks/instructions.py` (run separately; `instructions.json`): user-space "
        "instructions of one sequential `check`, the marginal count between two runs of "
        "different length under valgrind's callgrind. Other load does not move it; the "
        "kernel's share (syscalls) is not in it.",
        "",
        *_table(["install", "client", "instructions/call", f"{X} aiohttp"], rows),
        "",
    ]


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
                _f(
                    imp
                    + r.boot(client, "entry_ms")
                    + r.boot(client, "create_ms")
                    + r.boot(client, "first_call_ms"),
                    1,
                ),
                _f(r.boot(client, "rss_start_mib"), 1),
                _f(r.boot(client, "rss_import_mib"), 1),
                _f(r.boot(client, "rss_entry_mib"), 1),
                _f(r.boot(client, "rss_client_mib"), 1),
                _f(r.boot(client, "rss_first_call_mib"), 1),
            ]
        )
    header = ["library", "import ms", "from-import ms", "create ms", "first call ms"]
    header += ["to 1st answer ms"]
    header += ["RSS bare", "RSS import", "RSS class", "RSS client", "RSS 1st call"]
    return _table(header, rows)


def _noio(raw: dict[str, Any]) -> list[str]:
    data: dict[str, list[dict[str, Any]]] = raw.get("noio", {})
    if not data:
        return ["Not measured in this run."]
    rows = []
    for client, runs in data.items():
        rows.append(
            [
                f"`{client}`",
                _f(_median([run["check_us"] for run in runs]), 1),
                _f(_median([run["track_us"] for run in runs]), 1),
            ]
        )
    return _table(["client", "check µs/call", "track µs/call"], rows)


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
        "## Targets (issue 17), on `check`",
        "",
        "Ratios within this run, medians over interleaved rounds. Per-call targets are "
        "judged on the median call (p50) and, where the target says so, on client CPU "
        "time (which other load on the machine disturbs least); throughput targets on "
        "calls per second, with the CPU-bound ratio alongside. The machine is shared "
        "with other work, so wall figures are noisy; see the instruction counts below.",
        "",
        *_table(["target", "verdict", "figures (medians)"], _target_rows(r, raw)),
        "",
        *_instructions(),
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
        "## The SDK's own work per call, without I/O",
        "",
        "Our clients given a transport that answers at once with the same 200 body "
        "(`AsyncAutumn(transport=...)`): building and checking the request, JSON both ways, "
        "the retry loop, reading the model, and for the sync client the hop to its private "
        "loop and back. Best of 7 batches, median over runs; steadier than the loopback "
        "figures, so the one to watch when optimising the per-call path.",
        "",
        *_noio(raw),
        "",
        "## Start-up: import time and memory",
        "",
        "In a fresh interpreter: `import module` (ms), then `from module import Client` "
        "(cumulative ms), then creating the client and its first `check` (each step's ms; "
        "sync clients only, and it includes whatever the library defers to the first call, "
        "such as importing aiohttp), and their sum. RSS is `VmRSS` in MiB after each step.",
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
