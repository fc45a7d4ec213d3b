"""Benchmark the SDK against raw aiohttp / http.client and the peer SDKs; write RESULTS.md.

``make bench`` runs this with the repo's venv (``speed`` extra installed). It starts
``server.py`` in its own process pinned to one core, runs every client scenario in a
fresh ``probe.py`` process pinned to the other core, interleaved client by client
(A B C A B C ...) for ``--rounds`` rounds, and reports the median of the rounds.

    .venv/bin/python benchmarks/run.py            # full run (about 8 minutes)
    .venv/bin/python benchmarks/run.py --quick    # one short round, to try things out
    .venv/bin/python benchmarks/run.py --only ours-async,aiohttp --no-peers

Our clients run as installed (orjson found), with uvloop (``AUTUMN_SYNC_UVLOOP=1`` for
the sync shim's private loop, a uvloop loop for ``AsyncAutumn``) and without the extras
(orjson and uvloop hidden from the probe process by an import blocker), so one
installation serves every variant. Raw aiohttp runs on both loops too.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import importtime
import machine
import peers
import report
from adapters import ADAPTERS

HERE = Path(__file__).resolve().parent

PROBE = HERE / "probe.py"
SERVER = HERE / "server.py"
NO_EXTRAS_BLOCK = "orjson,uvloop"
#: The sync shim's private loop is asyncio's unless AUTUMN_SYNC_UVLOOP=1 (autumn_sync/_portal.py).
UVLOOP_ENV = {"AUTUMN_SYNC_UVLOOP": "1"}
#: Cleared in every probe's environment unless the variant sets them.
SDK_ENV = ("AUTUMN_SYNC_UVLOOP", "AUTUMN_SYNC_NO_UVLOOP", "AUTUMN_SECRET_KEY", "AUTUMN_SERVER_URL")
OPS = ("check", "track")
PROBE_TIMEOUT = 180


@dataclass(frozen=True)
class Variant:
    """One client as benchmarked: an adapter, the interpreter that runs it and its options."""

    key: str
    adapter: str
    python: str
    role: str  # "floor", "ours" or "peer"
    block: str = ""
    env: dict[str, str] = field(default_factory=dict)
    loop: str = ""

    @property
    def kind(self) -> str:
        kind: str = ADAPTERS[self.adapter].kind
        return kind

    def modes(self) -> tuple[str, str]:
        return ("seq", "conc") if self.kind == "async" else ("seq", "threads")


@dataclass(frozen=True)
class StartupVariant:
    """One library's start-up probe: ``from module import entry``, create, first call."""

    key: str
    adapter: str
    python: str
    module: str
    entry: str
    role: str
    block: str = ""
    env: dict[str, str] = field(default_factory=dict)


class Probe:
    """Runs ``probe.py`` processes on the client core against the running server."""

    def __init__(self, base: str, cpu: int | None) -> None:
        self.base = base
        self.cpu = cpu

    def run(self, python: str, args: list[str], block: str, env: dict[str, str]) -> Any:
        cmd = [python, str(PROBE), *args, "--base", self.base]
        if self.cpu is not None:
            cmd += ["--cpu", str(self.cpu)]
        if block:
            cmd += ["--block", block]
        child_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PYTHONASYNCIO") and k not in SDK_ENV
        }
        child_env.update(env)
        done = subprocess.run(
            cmd,
            check=False,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            env=child_env,
            cwd=HERE,
        )
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise RuntimeError(tail or f"exit status {done.returncode}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def scenario(self, v: Variant, op: str, mode: str, opts: argparse.Namespace) -> Any:
        args = ["--client", v.adapter, "--op", op, "--mode", mode]
        args += ["--seconds", str(opts.seconds), "--warmup", str(opts.warmup)]
        args += ["--inflight", str(opts.inflight), "--threads", str(opts.threads)]
        if v.loop:
            args += ["--loop", v.loop]
        return self.run(v.python, args, v.block, v.env)

    def startup(self, v: StartupVariant) -> Any:
        args = ["--client", v.adapter, "--mode", "startup", "--module", v.module]
        args += ["--entry", v.entry]
        return self.run(v.python, args, v.block, v.env)


def start_server(cpu: int | None) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, str(SERVER)]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    server = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline().split()
    if len(line) < 2 or line[0] != "PORT":
        server.kill()
        raise SystemExit(f"the benchmark server did not start: {line!r}")
    return server, f"http://127.0.0.1:{line[1]}"


def cores() -> tuple[int | None, int | None]:
    """(server core, client core), or (None, None) on a one-core machine."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def build_variants(installed: list[peers.Installed]) -> tuple[list[Variant], list[StartupVariant]]:
    me = sys.executable
    variants = [
        Variant("aiohttp", "aiohttp", me, "floor"),
        Variant("aiohttp (uvloop)", "aiohttp", me, "floor", loop="uvloop"),
        Variant("http.client", "http.client", me, "floor"),
        Variant("ours-async", "ours-async", me, "ours"),
        Variant("ours-async (uvloop)", "ours-async", me, "ours", loop="uvloop"),
        Variant("ours-async (no extras)", "ours-async", me, "ours", NO_EXTRAS_BLOCK),
        Variant("ours-sync", "ours-sync", me, "ours"),
        Variant("ours-sync (uvloop)", "ours-sync", me, "ours", env=UVLOOP_ENV),
        Variant("ours-sync (no extras)", "ours-sync", me, "ours", NO_EXTRAS_BLOCK),
    ]
    startups = [
        StartupVariant("autumn_sync", "ours-sync", me, "autumn_sync", "Autumn", "ours"),
        StartupVariant(
            "autumn_sync (no extras)",
            "ours-sync",
            me,
            "autumn_sync",
            "Autumn",
            "ours",
            NO_EXTRAS_BLOCK,
        ),
        StartupVariant("autumn_async", "ours-async", me, "autumn_async", "AsyncAutumn", "ours"),
    ]
    for item in installed:
        if item.python is None:
            continue
        python = str(item.python)
        for adapter in item.peer.adapters:
            variants.append(Variant(adapter, adapter, python, "peer"))
        module, _, entry = item.peer.entry.partition(":")
        startups.append(
            StartupVariant(item.peer.name, item.peer.startup_adapter, python, module, entry, "peer")
        )
    return variants, startups


def preflight(probe: Probe, variants: list[Variant], notes: list[str]) -> list[Variant]:
    """Keep the variants whose client imports and answers one short check."""
    kept = []
    quick = argparse.Namespace(seconds=0.05, warmup=0.01, inflight=4, threads=2)
    for v in variants:
        try:
            probe.scenario(v, "check", "seq", quick)
        except (RuntimeError, subprocess.SubprocessError, ValueError) as exc:
            notes.append(f"**{v.key} skipped**: {exc}")
            print(f"skip {v.key}: {exc}", file=sys.stderr)
            continue
        kept.append(v)
    return kept


def interleaved(
    probe: Probe, variants: list[Variant], opts: argparse.Namespace, notes: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every scenario, client after client, round after round; the raw samples by key."""
    samples: dict[str, list[dict[str, Any]]] = {}
    scenarios = [(op, mode) for op in OPS for mode in ("seq", "conc", "threads")]
    for rnd in range(opts.rounds):
        for op, mode in scenarios:
            group = [v for v in variants if mode in v.modes()]
            shift = rnd % len(group) if group else 0
            for v in group[shift:] + group[:shift]:
                key = report.key(v.key, op, mode)
                try:
                    result = probe.scenario(v, op, mode, opts)
                except (RuntimeError, subprocess.SubprocessError, ValueError) as exc:
                    notes.append(f"round {rnd + 1}, {key}: failed: {exc}")
                    continue
                samples.setdefault(key, []).append(result)
                print(
                    f"round {rnd + 1}/{opts.rounds} {op:5} {mode:7} {v.key:26} "
                    f"{result['per_call_us']:8.1f} us/call {result['throughput']:8.0f}/s "
                    f"cpu {result['cpu_us']:7.1f} us",
                    file=sys.stderr,
                )
    return samples


def startup_rounds(
    probe: Probe, startups: list[StartupVariant], rounds: int, notes: list[str]
) -> dict[str, list[dict[str, Any]]]:
    samples: dict[str, list[dict[str, Any]]] = {}
    for v in startups:  # one unmeasured pass, so every .pyc exists and files are cached
        try:
            probe.startup(v)
        except (RuntimeError, subprocess.SubprocessError, ValueError) as exc:
            notes.append(f"**start-up of {v.key} skipped**: {exc}")
    for _ in range(rounds):
        for v in startups:
            try:
                samples.setdefault(v.key, []).append(probe.startup(v))
            except (RuntimeError, subprocess.SubprocessError, ValueError):
                continue
    return samples


#: ``python -c`` statements timed against bare start-up (issue 17's import target).
IMPORT_STATEMENTS = {
    "bare": "pass",
    "import asyncio": "import asyncio",
    "from autumn_sync import Autumn": "from autumn_sync import Autumn",
    "from autumn_async import AsyncAutumn": "from autumn_async import AsyncAutumn",
}


def import_rounds(rounds: int, cpu: int | None) -> dict[str, float]:
    """Best wall time (ms) of a fresh interpreter running each statement, interleaved."""
    best = dict.fromkeys(IMPORT_STATEMENTS, float("inf"))
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    env = {k: v for k, v in os.environ.items() if k not in SDK_ENV}
    for _ in range(rounds):
        for label, statement in IMPORT_STATEMENTS.items():
            started = time.perf_counter()
            subprocess.run([*pin, sys.executable, "-c", statement], check=True, env=env)
            best[label] = min(best[label], (time.perf_counter() - started) * 1e3)
    return best


def noio_rounds(
    probe: Probe, variants: list[Variant], rounds: int, notes: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Our clients with an in-memory transport: the SDK's own µs per call, no I/O."""
    samples: dict[str, list[dict[str, Any]]] = {}
    ours = [v for v in variants if v.role == "ours" and not v.loop]
    for _ in range(rounds):
        for v in ours:
            try:
                result = probe.run(
                    v.python, ["--client", v.adapter, "--mode", "noio"], v.block, v.env
                )
            except (RuntimeError, subprocess.SubprocessError, ValueError) as exc:
                notes.append(f"no-I/O probe of {v.key} failed: {exc}")
                continue
            samples.setdefault(v.key, []).append(result)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.7, help="measured time per run")
    parser.add_argument("--warmup", type=float, default=0.2, help="unmeasured time per run")
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--startup-rounds", type=int, default=7)
    parser.add_argument("--noio-rounds", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="skip the peer SDKs")
    parser.add_argument("--peers", default="", help="comma-separated peer names to run")
    parser.add_argument("--import-rounds", type=int, default=15)
    parser.add_argument("--only", default="", help="comma-separated client keys to run")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds, opts.seconds, opts.warmup = 1, 0.3, 0.1
        opts.startup_rounds, opts.noio_rounds, opts.import_rounds = 2, 1, 3
    started = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    notes: list[str] = []

    installed: list[peers.Installed] = []
    if not opts.no_peers:
        print("preparing peer venvs ...", file=sys.stderr)
        chosen = [p for p in peers.PEERS if not opts.peers or p.name in opts.peers.split(",")]
        with concurrent.futures.ThreadPoolExecutor(len(chosen)) as pool:
            installed = list(pool.map(peers.ensure, chosen))
        for item in installed:
            if item.note:
                notes.append(f"**{item.peer.name} skipped**: {item.note}")

    server_cpu, client_cpu = cores()
    server, base = start_server(server_cpu)
    try:
        probe = Probe(base, client_cpu)
        variants, startups = build_variants(installed)
        if opts.only:
            wanted = set(opts.only.split(","))
            variants = [v for v in variants if v.key in wanted or v.adapter in wanted]
            startups = [s for s in startups if s.key in wanted or s.adapter in wanted]
        variants = preflight(probe, variants, notes)
        results = interleaved(probe, variants, opts, notes)
        startup = startup_rounds(probe, startups, opts.startup_rounds, notes)
        noio = noio_rounds(probe, variants, opts.noio_rounds, notes)
        imports = importtime.breakdown(sys.executable, base, client_cpu)
        import_times = import_rounds(opts.import_rounds, client_cpu)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)

    info = machine.describe(server_cpu, client_cpu, installed)
    info["duration_s"] = round(time.perf_counter() - started)
    info["load"] = [load_start, os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")]
    info["settings"] = {
        "rounds": opts.rounds,
        "seconds": opts.seconds,
        "warmup": opts.warmup,
        "inflight": opts.inflight,
        "threads": opts.threads,
        "startup_rounds": opts.startup_rounds,
        "noio_rounds": opts.noio_rounds,
        "import_rounds": opts.import_rounds,
    }
    raw = {
        "machine": info,
        "variants": [
            {"key": v.key, "adapter": v.adapter, "role": v.role, "kind": v.kind} for v in variants
        ],
        "results": results,
        "startup": startup,
        "noio": noio,
        "imports": imports,
        "import_times": import_times,
        "notes": notes,
        "peer_notes": {item.peer.name: list(item.peer.notes) for item in installed},
    }
    (HERE / "results.json").write_text(json.dumps(raw, indent=1) + "\n")
    opts.out.write_text(report.render(raw))
    print(f"wrote {opts.out} in {info['duration_s']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
