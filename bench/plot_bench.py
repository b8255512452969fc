#!/usr/bin/env python3
"""Plots and tabulates one run of scripts/bench.sh.

Reads RESULTS/*.json (default bench/results) and writes there:
  latency.png     commit latency p50/p99 per ack policy: ours (3 and 5 boards),
                  repmgr best, repmgr as shipped (log scale), zmq floor as lines
  throughput.png  QUORUM commits/s vs writers: ours vs repmgr best (and as shipped)
  failover.png    kill and pause drill rounds (box + points), repmgr SIGKILL
                  failover marked; our reinit next to repmgr's internal init
  TABLE.md        every figure next to its peer and floor, with ratios

  python3 bench/plot_bench.py [--results DIR] [--no-png]
Needs matplotlib for the PNGs (apt-get install python3-matplotlib).
"""
import argparse
import json
import os
import re
import sys

POLICIES = ["NONE", "ONE", "QUORUM", "ALL"]


def load(results, name):
    path = os.path.join(results, name + ".json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot_bench: no {path}: {e}", file=sys.stderr)
        return None


def benches(doc):
    return [] if not doc else [b for b in doc.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]


class Data:
    def __init__(self, results):
        self.results = results
        self.ctx = load(results, "context") or {}
        self.errors = []  # (suite, benchmark, message)
        # ours[(policy, boards)] = {p50, p99, p999}
        self.ours = {}
        self.ours_tput = {}  # writers -> {commits_per_s, p99}
        for b in benches(load(results, "replication")):
            if b.get("error_occurred"):
                self.errors.append(("replication", b["name"], b.get("error_message", "")))
                continue
            m = re.match(r"BM_Commit/(\d+)/(\d+)", b["name"])
            if m:
                pol = b.get("label", "").split("/")[0].upper() or m.group(1)
                self.ours[(pol, int(m.group(2)))] = b
            m = re.match(r"BM_Throughput/(\d+)/", b["name"])
            if m:
                self.ours_tput[int(m.group(1))] = b
        self.repmgr = {}  # (variant, policy) -> bench
        self.repmgr_tput = {}  # (variant, writers) -> bench
        self.repmgr_fail = {}  # variant -> bench
        self.repmgr_init = {}  # variant -> bench (the anchors' 100,000-record init)
        self.repmgr_init_mib = {}  # (variant, MiB of data) -> bench (reinit_bench's sizes)
        for b in benches(load(results, "repmgr")):
            if b.get("error_occurred"):
                self.errors.append(("repmgr", b["name"], b.get("error_message", "")))
                continue
            n = b["name"]
            m = re.match(r"repmgr/commit_latency/(\w+)/ack:(\w+)", n)
            if m:
                self.repmgr[(m.group(1), m.group(2))] = b
            m = re.match(r"repmgr/throughput/(\w+)/QUORUM/writers:(\d+)", n)
            if m:
                self.repmgr_tput[(m.group(1), int(m.group(2)))] = b
            m = re.match(r"repmgr/failover_sigkill/(\w+)/", n)
            if m:
                self.repmgr_fail[m.group(1)] = b
            m = re.match(r"repmgr/internal_init/(\w+)/records:(\d+)", n)
            if m:
                b["records"] = int(m.group(2))
                self.repmgr_init[m.group(1)] = b
            m = re.match(r"repmgr/internal_init/(\w+)/MiB:(\d+)", n)
            if m:
                self.repmgr_init_mib[(m.group(1), int(m.group(2)))] = b
        self.floor = {}
        for b in benches(load(results, "zmq_floor")):
            if b.get("error_occurred"):
                self.errors.append(("zmq_floor", b["name"], b.get("error_message", "")))
                continue
            self.floor[b["name"].replace("/real_time", "")] = b
        self.shim = {}
        for suite in ("shim", "memenv"):
            for b in benches(load(results, suite)):
                if b.get("error_occurred"):
                    self.errors.append((suite, b["name"], b.get("error_message", "")))
                    continue
                self.shim[b["name"].replace("/manual_time", "")] = (suite, b)
        self.drills = {k: load(results, "drill_" + k) for k in ("kill", "pause", "replace")}

    def floor_p50(self, kind="BM_RawDealerRouter/ipc"):
        b = self.floor.get(kind)
        return b["p50_us"] if b else None


def fmt(v, unit=""):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def g(b, key):
    return None if b is None else b.get(key)


def dist(drill, key):
    if not drill:
        return []
    return [r[key] for r in drill.get("rounds_detail", []) if r.get(key) is not None]


# ----------------------------------------------------------------------------- table
def table(d):
    c = d.ctx
    out = []
    out.append("# Benchmark results\n")
    out.append(f"- date: {c.get('date', '?')}, mode: {c.get('mode', '?')}, commit {c.get('git_commit', '?')[:10]}"
               f"{' (dirty tree)' if c.get('git_dirty') else ''}")
    out.append(f"- machine: {c.get('host', '?')}, {c.get('nproc', '?')} cores ({c.get('cpu_model', '?')}), "
               f"load average before {c.get('loadavg_before', '?')}, after {c.get('loadavg_after', '?')} "
               "(shared machine: read the figures against the load)")
    out.append(f"- everything below comes from one run of `scripts/bench.sh` ({c.get('total_seconds', '?')} s)")
    if c.get("failed"):
        out.append(f"- **failed steps: {', '.join(c['failed'])}**")
    for suite, name, msg in d.errors:
        out.append(f"- **{suite} `{name}` did not run: {msg}**")
    fl = d.floor_p50()
    fl_bus = d.floor_p50("BM_Bus/ipc")
    out.append("")
    out.append("## Floor: ZeroMQ round trip (µs)\n")
    out.append("| path | p50 | p99 | p99.9 |")
    out.append("|---|---:|---:|---:|")
    for k in sorted(d.floor):
        b = d.floor[k]
        out.append(f"| {k} | {fmt(b.get('p50_us'))} | {fmt(b.get('p99_us'))} | {fmt(b.get('p99.9_us'))} |")

    out.append("\n## Commit latency, single writer (µs)\n")
    out.append("Ours: in-process master + board processes over the ZeroMQ bus (ipc). "
               "repmgr: Berkeley DB 5.3 Replication Manager, 3 sites over TCP loopback; "
               "*best* = BULK + TCP_NODELAY, *as shipped* = neither. "
               "Floor = raw DEALER/ROUTER ipc round trip p50 "
               f"({fmt(fl)} µs); bus floor = our bus ipc round trip p50 ({fmt(fl_bus)} µs).\n")
    out.append("| policy | boards | ours p50 | ours p99 | ours p99.9 | repmgr best p50 | repmgr best p99 "
               "| repmgr as shipped p50 | ours/best p50 | ours/best p99 | ours p50 / floor | ours p50 / bus floor |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for pol in POLICIES:
        for boards in (3, 5):
            o = d.ours.get((pol, boards))
            best = d.repmgr.get(("best", pol)) if boards == 3 else None
            ship = d.repmgr.get(("as_shipped", pol)) if boards == 3 else None
            if o is None and best is None and ship is None:
                continue
            out.append(f"| {pol} | {boards} | {fmt(g(o, 'p50_us'))} | {fmt(g(o, 'p99_us'))} | {fmt(g(o, 'p999_us'))} "
                       f"| {fmt(g(best, 'p50_us'))} | {fmt(g(best, 'p99_us'))} | {fmt(g(ship, 'p50_us'))} "
                       f"| {ratio(g(o, 'p50_us'), g(best, 'p50_us'))} | {ratio(g(o, 'p99_us'), g(best, 'p99_us'))} "
                       f"| {ratio(g(o, 'p50_us'), fl)} | {ratio(g(o, 'p50_us'), fl_bus)} |")

    out.append("\n## QUORUM throughput, 3 boards (commits/s)\n")
    out.append("| writers | ours | ours p99 µs | repmgr best | repmgr best p99 µs | repmgr as shipped | ours/best |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|")
    for w in sorted(set(d.ours_tput) | {k[1] for k in d.repmgr_tput}):
        o = d.ours_tput.get(w)
        best = d.repmgr_tput.get(("best", w))
        ship = d.repmgr_tput.get(("as_shipped", w))
        out.append(f"| {w} | {fmt(g(o, 'commits_per_s'))} | {fmt(g(o, 'p99_us'))} | {fmt(g(best, 'commits_per_s'))} "
                   f"| {fmt(g(best, 'p99_us'))} | {fmt(g(ship, 'commits_per_s'))} "
                   f"| {ratio(g(o, 'commits_per_s'), g(best, 'commits_per_s'))} |")

    out.append("\n## Shim and memenv (µs)\n")
    out.append("| benchmark | p50 | p99 | p50 / floor |")
    out.append("|---|---:|---:|---:|")
    for k, (suite, b) in d.shim.items():
        out.append(f"| {suite}: {k} | {fmt(b.get('p50_us'))} | {fmt(b.get('p99_us'))} | "
                   f"{ratio(b.get('p50_us'), fl) if suite == 'shim' else '–'} |")

    out.append("\n## Failover and reinit (ms)\n")
    out.append("Ours: `chassis drill` on 3 board processes, ack policy quorum, under 2000 writes/s through the shim; "
               "failover = fault → first durable ack on the new master. "
               "repmgr: `failover_sigkill` (heartbeat 50/150 ms, election 200/500 ms), "
               "kill → first acked commit on the new master (median over its rounds, min–max).\n")
    out.append("| figure | rounds | min | p50 | p99 | max | repmgr best p50 (min–max) | repmgr as shipped p50 | ours/best p50 |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rb, rs = d.repmgr_fail.get("best"), d.repmgr_fail.get("as_shipped")

    def rf(b):
        if not b:
            return "–"
        return f"{fmt(b.get('first_commit_ms'))} ({fmt(b.get('first_commit_min_ms'))}–{fmt(b.get('first_commit_max_ms'))})"

    for kind in ("kill", "pause"):
        dr = d.drills.get(kind)
        if not dr:
            continue
        for key in ("failover_ms", "detection_ms", "election_ms", "first_commit_ms", "reinit_ms", "stepdown_ms",
                    "rejoin_ms"):
            s = dr.get(key) or {}
            if not s.get("count"):
                continue
            mark = key == "failover_ms" and kind == "kill"
            out.append(f"| {kind}: {key} | {s['count']} | {fmt(s.get('min'))} | {fmt(s.get('p50'))} | {fmt(s.get('p99'))} "
                       f"| {fmt(s.get('max'))} | {rf(rb) if mark else '–'} "
                       f"| {rf(rs) if mark else '–'} "
                       f"| {ratio(s.get('p50'), g(rb, 'first_commit_ms')) if mark else '–'} |")
        if dr.get("ok") is False or dr.get("lost_writes"):
            out.append(f"| {kind}: **ok={dr.get('ok')}, lost_writes={dr.get('lost_writes')}** | | | | | | | | |")
    dr = d.drills.get("replace")
    ib, ish = d.repmgr_init.get("best"), d.repmgr_init.get("as_shipped")
    if dr:
        s = dr.get("reinit_ms") or {}
        out.append(f"| replace (100 MB preloaded): reinit_ms | {s.get('count', 0)} | {fmt(s.get('min'))} | {fmt(s.get('p50'))} "
                   f"| {fmt(s.get('p99'))} | {fmt(s.get('max'))} | – | – | – |")
    for v, b in (("best", ib), ("as_shipped", ish)):
        if b:
            out.append(f"| repmgr {v} internal init, {b['records']} records ({fmt(b.get('MiB'))} MiB): startupdone_ms "
                       f"| {fmt(b.get('iterations'))} | {fmt(b.get('startupdone_min_ms'))} | {fmt(b.get('startupdone_ms'))} "
                       f"| – | {fmt(b.get('startupdone_max_ms'))} | – | – | – |")
    out.extend(reinit_table(d))
    out.append("\nPlots: `latency.png`, `throughput.png`, `failover.png`.")
    return "\n".join(out) + "\n"


def reinit_table(d):
    """Re-init section: bench/reinit_bench.cc (ours) beside repmgr's internal init at the same sizes."""
    ours = {}
    for b in benches(load(d.results, "reinit")):
        if b.get("error_occurred"):
            d.errors.append(("reinit", b["name"], b.get("error_message", "")))
            continue
        m = re.match(r"BM_Reinit/(\d+)", b["name"])
        if m:
            ours[int(m.group(1))] = b
    sizes = sorted(set(ours) | {mib for (_, mib) in d.repmgr_init_mib})
    if not sizes:
        return []
    out = ["\n## Re-init of an empty board vs repmgr internal init (MiB/s of data, start → in sync)\n",
           "Same data at each size: 16 B keys + 512 B values, ascending keys, fully in memory. "
           "Ours: `reinit_bench`, 3 board processes, one replica restarted empty after the master was loaded; "
           "MiB/s = data MiB / (board start → in sync). A QUORUM writer on the master measures commit latency "
           "idle (before) and during the re-init. repmgr: `internal_init/<variant>/MiB:<size>`, a 4th site "
           "joins the loaded, checkpointed 3-site group; MiB/s = data MiB / (`repmgr_start` → `STARTUPDONE`), "
           "median of its repetitions. db MiB = database pages copied (ours: `bytes_received` at the end; "
           "repmgr: `st_pg_records` × page size). Target: ours ≥ 10× repmgr.\n",
           "| data | ours MiB/s (s) | ours db MiB | repmgr best MiB/s (s) | repmgr as shipped MiB/s (s) "
           "| repmgr db MiB | ours / best | ours / as shipped | ≥ 10× | QUORUM p99 idle µs | p99 during µs "
           "| during/idle |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]

    def rate(b, key, secs):
        return "–" if not b else f"{fmt(b.get(key))} ({fmt(secs(b))})"

    def ours_s(b):
        return b.get("seconds")

    def rm_s(b):
        v = b.get("startupdone_ms")
        return None if v is None else v / 1e3

    for mib in sizes:
        b = ours.get(mib)
        ib, ish = d.repmgr_init_mib.get(("best", mib)), d.repmgr_init_mib.get(("as_shipped", mib))
        ours_rate = g(b, "MB_per_s")
        worst = [g(x, "data_MiB_per_s") for x in (ib, ish) if x]
        meets = "–"
        if ours_rate is not None and worst:
            meets = "yes" if all(ours_rate >= 10 * w for w in worst) else "**no**"
        rep_db = g(ib, "MiB") if ib else g(ish, "MiB")
        label = f"{mib / 1024:g} GiB" if mib >= 1024 else f"{mib} MiB"
        out.append(f"| {label} | {rate(b, 'MB_per_s', ours_s)} | {fmt(g(b, 'db_MiB'))} "
                   f"| {rate(ib, 'data_MiB_per_s', rm_s)} | {rate(ish, 'data_MiB_per_s', rm_s)} | {fmt(rep_db)} "
                   f"| {ratio(ours_rate, g(ib, 'data_MiB_per_s'))} | {ratio(ours_rate, g(ish, 'data_MiB_per_s'))} "
                   f"| {meets} | {fmt(g(b, 'idle_p99_us'))} | {fmt(g(b, 'during_p99_us'))} "
                   f"| {ratio(g(b, 'during_p99_us'), g(b, 'idle_p99_us'))} |")
    missing = [f"{mib} MiB" for mib in sizes if not d.repmgr_init_mib.get(("best", mib))]
    if missing:
        out.append(f"\nNo repmgr run at {', '.join(missing)} in this result set (quick mode runs 8 MiB only; "
                   "a failed or skipped run leaves the cell empty).")
    return out


# ----------------------------------------------------------------------------- plots
def plots(d, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = f"{d.ctx.get('date', '')}, {d.ctx.get('nproc', '?')} cores, load {d.ctx.get('loadavg_before', '?')}"

    # latency
    series = [
        ("ours, 3 boards", lambda p: d.ours.get((p, 3)), "tab:blue"),
        ("ours, 5 boards", lambda p: d.ours.get((p, 5)), "tab:cyan"),
        ("repmgr best (BULK+NODELAY)", lambda p: d.repmgr.get(("best", p)), "tab:orange"),
        ("repmgr as shipped", lambda p: d.repmgr.get(("as_shipped", p)), "tab:red"),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    width = 0.2
    for ax, key in zip(axes, ("p50_us", "p99_us")):
        for i, (label, get, color) in enumerate(series):
            xs, ys = [], []
            for j, p in enumerate(POLICIES):
                v = g(get(p), key)
                if v:
                    xs.append(j + (i - 1.5) * width)
                    ys.append(v)
            bars = ax.bar(xs, ys, width, label=label, color=color)
            for x, y in zip(xs, ys):
                ax.text(x, y * 1.08, fmt(y), ha="center", va="bottom", fontsize=7, rotation=90)
        for kind, style, lab in (("BM_RawDealerRouter/ipc", "--", "raw zmq ipc round trip p50"),
                                 ("BM_Bus/ipc", ":", "our bus ipc round trip p50")):
            v = d.floor_p50(kind)
            if v:
                ax.axhline(v, color="black", linestyle=style, linewidth=1, label=f"{lab} ({fmt(v)} µs)")
        ax.set_yscale("log")
        ax.set_xticks(range(len(POLICIES)))
        ax.set_xticklabels(POLICIES)
        ax.set_xlabel("ack policy")
        ax.set_title(f"commit latency {key.split('_')[0]}")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("µs (log scale)")
    axes[0].set_ylim(top=axes[0].get_ylim()[1] * 3)
    axes[1].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Single-writer commit latency: ours vs Berkeley DB repmgr ({sub})", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(results, "latency.png"), dpi=110)
    plt.close(fig)

    # throughput
    fig, ax = plt.subplots(figsize=(7, 5))
    for label, pts, color in (
        ("ours (QUORUM, 3 boards)", {w: g(b, "commits_per_s") for w, b in d.ours_tput.items()}, "tab:blue"),
        ("repmgr best", {w: g(b, "commits_per_s") for (v, w), b in d.repmgr_tput.items() if v == "best"}, "tab:orange"),
        ("repmgr as shipped", {w: g(b, "commits_per_s") for (v, w), b in d.repmgr_tput.items() if v == "as_shipped"},
         "tab:red"),
    ):
        ws = sorted(w for w in pts if pts[w])
        if not ws:
            continue
        ys = [pts[w] for w in ws]
        ax.plot(ws, ys, marker="o", label=label, color=color)
        for w, y in zip(ws, ys):
            ax.annotate(fmt(y), (w, y), textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 4, 16])
    ax.set_xticklabels(["1", "4", "16"])
    ax.set_yscale("log")
    ax.set_xlabel("concurrent writers")
    ax.set_ylabel("commits/s (log scale)")
    ax.set_title(f"QUORUM throughput, 3 boards/sites\n({sub})", fontsize=10)
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(results, "throughput.png"), dpi=110)
    plt.close(fig)

    # failover
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    groups = []
    for kind in ("kill", "pause"):
        for key in ("failover_ms", "detection_ms", "first_commit_ms"):
            vals = dist(d.drills.get(kind), key)
            if vals:
                groups.append((f"{kind}\n{key.replace('_ms', '')}", vals))
    if groups:
        ax.boxplot([v for _, v in groups], showfliers=False, whis=(1, 99))
        for i, (_, vals) in enumerate(groups, start=1):
            import random
            rnd = random.Random(i)
            ax.scatter([i + rnd.uniform(-0.18, 0.18) for _ in vals], vals, s=8, alpha=0.5, color="tab:blue", zorder=3)
        ax.set_xticks(range(1, len(groups) + 1))
        ax.set_xticklabels([f"{n}\n(n={len(v)})" for n, v in groups], fontsize=8)
    for v, color in (("best", "tab:orange"), ("as_shipped", "tab:red")):
        b = d.repmgr_fail.get(v)
        if b and b.get("first_commit_ms"):
            ax.axhline(b["first_commit_ms"], color=color, linestyle="--",
                       label=f"repmgr {v} SIGKILL failover p50 {fmt(b['first_commit_ms'])} ms "
                             f"(min {fmt(b.get('first_commit_min_ms'))}, max {fmt(b.get('first_commit_max_ms'))})")
            if b.get("first_commit_min_ms") is not None and b.get("first_commit_max_ms") is not None:
                ax.axhspan(b["first_commit_min_ms"], b["first_commit_max_ms"], color=color, alpha=0.08)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log scale)")
    ax.set_title("ours: drill rounds (box = p1..p99 whiskers, quartiles) vs repmgr failover", fontsize=10)
    ax.grid(axis="y", which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper right")

    ax = axes[1]
    labels, vals, colors = [], [], []
    kr = dist(d.drills.get("kill"), "reinit_ms")
    if kr:
        labels.append(f"ours kill: empty\nrestart reinit p50\n(n={len(kr)})")
        vals.append(sorted(kr)[len(kr) // 2])
        colors.append("tab:blue")
    rr = dist(d.drills.get("replace"), "reinit_ms")
    if rr:
        labels.append("ours replace:\nreinit, 100 MB")
        vals.append(sorted(rr)[len(rr) // 2])
        colors.append("tab:cyan")
    for v, color in (("best", "tab:orange"), ("as_shipped", "tab:red")):
        b = d.repmgr_init.get(v)
        if b and b.get("startupdone_ms"):
            labels.append(f"repmgr {v}\ninternal init\n{b['records']} rec, {fmt(b.get('MiB'))} MiB")
            vals.append(b["startupdone_ms"])
            colors.append(color)
    if vals:
        ax.bar(range(len(vals)), vals, color=colors)
        for i, y in enumerate(vals):
            ax.text(i, y, fmt(y), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(vals)))
        ax.set_xticklabels(labels, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log scale)")
    ax.set_title("reinit / internal init (p50 or median)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Failover and reinit ({sub})", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(results, "failover.png"), dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    ap.add_argument("--no-png", action="store_true")
    a = ap.parse_args()
    d = Data(a.results)
    with open(os.path.join(a.results, "TABLE.md"), "w") as f:
        f.write(table(d))
    if not a.no_png:
        plots(d, a.results)
    print(f"wrote {a.results}/TABLE.md" + ("" if a.no_png else " and latency.png, throughput.png, failover.png"),
          file=sys.stderr)


if __name__ == "__main__":
    main()
