#!/usr/bin/env python3
"""Draws a chassis drill report: each round's failover split into its phases
(stacked bars) and, below, which slot was master when (role timeline).

    plot_drill.py REPORT.json OUT.png

Called by `chassis drill --plot OUT.png`; needs matplotlib
(apt-get install python3-matplotlib).
"""
import json
import sys

try:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot_drill.py: matplotlib is missing; install python3-matplotlib")


def val(row, key):
    v = row.get(key)
    return 0.0 if v is None else float(v)


def draw_phases(ax, report):
    rows = report["rounds_detail"]
    xs = [r["round"] for r in rows]
    bottom = [0.0] * len(rows)
    phases = [("detection_ms", "detection", "#4c72b0"), ("election_ms", "election", "#dd8452"),
              ("first_commit_ms", "first commit", "#55a868")]
    if all(r.get("failover_ms") is None for r in rows):
        # No failover in this drill (replace): show the re-initialisation.
        phases = [("reinit_ms", "re-initialisation", "#8172b3")]
    for key, label, color in phases:
        hs = [val(r, key) for r in rows]
        ax.bar(xs, hs, bottom=bottom, label=label, color=color)
        bottom = [b + h for b, h in zip(bottom, hs)]
    ax.set_xlabel("round")
    ax.set_ylabel("ms")
    ax.set_xticks(xs)
    ax.set_title("%s drill, %s boards, ack policy %s: per-round %s" % (
        report["drill"], report["boards"], report["ack_policy"],
        "failover phases" if len(phases) > 1 else "re-initialisation"))
    ax.legend()


def draw_timeline(ax, report):
    rows = report["rounds_detail"]
    if not rows:
        return
    points = [(0.0, rows[0]["old_master"])] + [(p["t_ms"], p["master"]) for p in report["timeline"]]
    end = max([p[0] for p in points] + [r.get("t_end_ms") or r["t_fault_ms"] for r in rows])
    for (t0, m), (t1, _) in zip(points, points[1:] + [(end, None)]):
        if m is None or m < 0:
            ax.broken_barh([(t0, t1 - t0)], (-0.4, 0.8), color="#c44e52")
        else:
            ax.broken_barh([(t0, t1 - t0)], (m - 0.4, 0.8), color="#4c72b0")
    for r in rows:
        ax.axvline(r["t_fault_ms"], color="grey", linewidth=0.5, linestyle=":")
    slots = sorted({m for _, m in points if m is not None and m > 0})
    ax.set_yticks([0] + slots)
    ax.set_yticklabels(["no master"] + ["slot %d" % s for s in slots])
    ax.set_xlabel("time since the drill started (ms); dotted: faults")
    ax.set_title("master over time")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        report = json.load(f)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8))
    draw_phases(top, report)
    draw_timeline(bottom, report)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
