#!/usr/bin/env python3
"""Draws a chassis soak report over time: each board's RSS, data bytes,
request ids (and the window's max_ids), and log bytes since the last
checkpoint; the warm-up is shaded.

    plot_soak.py SOAK.json OUT.png

Called by `chassis soak` (soak.png in the run directory); needs matplotlib
(apt-get install python3-matplotlib).
"""
import json
import sys

try:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot_soak.py: matplotlib is missing; install python3-matplotlib")

MIB = 1024.0 * 1024.0


def series(report, field, scale=1.0):
    """{slot: ([t], [value])} of one board field; missing values are skipped."""
    out = {}
    for s in report["samples"]:
        for b in s["boards"]:
            v = b.get(field)
            if v is None:
                continue
            ts, vs = out.setdefault(b["slot"], ([], []))
            ts.append(s["t_s"])
            vs.append(v / scale)
    return out


def election_times(report):
    """When some board's elections.held went up."""
    last, out = {}, []
    for s in report["samples"]:
        for b in s["boards"]:
            held = b.get("elections_held")
            if held is None:
                continue
            if b["slot"] in last and held > last[b["slot"]] and s["t_s"] not in out:
                out.append(s["t_s"])
            last[b["slot"]] = held
    return out


def draw(ax, report, field, scale, ylabel, title, limit_field=None):
    data = series(report, field, scale)
    for slot in sorted(data):
        ts, vs = data[slot]
        ax.plot(ts, vs, label="board %d" % slot, linewidth=1)
    if limit_field:
        limits = series(report, limit_field, scale)
        for slot in sorted(limits)[:1]:  # the same window on every board
            ts, vs = limits[slot]
            ax.plot(ts, vs, color="grey", linestyle="--", linewidth=1, label=limit_field)
    if not data:
        ax.text(0.5, 0.5, "not reported", ha="center", va="center", transform=ax.transAxes)
    warmup = report.get("warmup_s", 0)
    if warmup:
        ax.axvspan(0, warmup, color="#eeeeee", zorder=0)
    for t in election_times(report):
        ax.axvline(t, color="#c44e52", linewidth=0.8, linestyle=":")
    times = [s["t_s"] for s in report["samples"]]
    if times:
        ax.set_xlim(0, max(max(times), warmup, 1))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("s since the soak started (grey: warm-up, red dotted: an election)")
    if data:
        ax.legend(fontsize="small")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        report = json.load(f)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    draw(axes[0][0], report, "rss_bytes", MIB, "MiB",
         "RSS (drift after warm-up %.2f%%, peak %.2f%%)"
         % (report.get("max_rss_drift_pct", 0), report.get("max_rss_peak_pct", 0)))
    draw(axes[0][1], report, "data_bytes", MIB, "MiB", "data bytes (status memory)")
    draw(axes[1][0], report, "request_ids", 1.0, "ids", "request ids kept", "max_request_ids")
    draw(axes[1][1], report, "log_since_checkpoint_bytes", MIB, "MiB", "log since checkpoint")
    load = report["load"]
    fig.suptitle("soak: %d boards, ack %s, %d clients, %d keys x %d B, %.0f acked writes/s: %s" % (
        report["boards"], report["ack_policy"], load["clients"], load["key_space"],
        load["value_size"], report["writes"]["acked_per_s"],
        "PASS" if report["ok"] else "FAILED"))
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
