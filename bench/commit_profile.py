#!/usr/bin/env python3
"""Where a replicated commit's microseconds go: joins the commit traces of a
traced run (BP_COMMIT_TRACE=<prefix>, see board/include/board/commit_trace.h)
by LSN and prints p50/p99 of every hop, following the commit from the
master's writer to the first replica whose ack met the policy and back.

  BP_COMMIT_TRACE=/tmp/ct build/bench/replication_bench --benchmark_filter='BM_Commit/3/3$'
  bench/commit_profile.py /tmp/ct            # reads /tmp/ct.<slot>.tsv
  bench/commit_profile.py /tmp/ct --json out.json
"""
import argparse
import bisect
import csv
import glob
import json
import sys


def load(prefix):
    files = sorted(glob.glob(prefix + ".*.tsv"))
    if not files:
        sys.exit(f"commit_profile: no {prefix}.<slot>.tsv files (was BP_COMMIT_TRACE set?)")
    per_file = {}
    for path in files:
        slot = int(path[len(prefix) + 1:-4])
        with open(path) as f:
            per_file[slot] = [r for r in csv.DictReader(f, delimiter="\t")]
    return per_file


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prefix")
    ap.add_argument("--json", help="also write the breakdown here")
    ap.add_argument("--skip", type=int, default=200, help="warm-up commits to ignore")
    a = ap.parse_args()
    files = load(a.prefix)

    # The master is the file with commit records.
    master = max(files, key=lambda s: sum(1 for r in files[s] if r["kind"] == "commit"))
    commits = [r for r in files[master] if r["kind"] == "commit"][a.skip:]
    acks = {}  # slot -> sorted [(lsn, recv_us)]
    for r in files[master]:
        if r["kind"] == "ack":
            acks.setdefault(int(r["slot"]), []).append((int(r["lsn"]), int(r["t0"])))
    for v in acks.values():
        v.sort()
    applies = {}  # replica slot -> {perm lsn: (recv, pop, done)}
    for slot, rows in files.items():
        if slot == master:
            continue
        d = {}
        for r in rows:
            if r["kind"] == "apply" and r["lsn2"] != "0":
                d.setdefault(int(r["lsn2"]), (int(r["t0"]), int(r["t1"]), int(r["t2"])))
        applies[slot] = d

    hops = {k: [] for k in ("txn", "frame_send", "wire_out", "replica_queue", "apply_ack",
                            "wire_back", "writer_wake", "total")}
    joined = 0
    for c in commits:
        lsn = int(c["lsn"])
        t0, t1, t2, t3 = (int(c[k]) for k in ("t0", "t1", "t2", "t3"))
        # The ack that released the writer: the earliest covering ack.
        best = None
        for slot, lst in acks.items():
            i = bisect.bisect_left(lst, (lsn, -1))
            if i < len(lst) and (best is None or lst[i][1] < best[1]):
                best = (slot, lst[i][1])
        if best is None or best[0] not in applies or lsn not in applies[best[0]]:
            continue
        recv, pop, done = applies[best[0]][lsn]
        ack = best[1]
        if not (t0 <= t1 <= t2 <= recv <= pop <= done <= ack <= t3):
            continue  # an ack for a later commit covered this one, etc.
        joined += 1
        hops["txn"].append(t1 - t0)
        hops["frame_send"].append(t2 - t1)
        hops["wire_out"].append(recv - t2)
        hops["replica_queue"].append(pop - recv)
        hops["apply_ack"].append(done - pop)
        hops["wire_back"].append(ack - done)
        hops["writer_wake"].append(t3 - ack)
        hops["total"].append(t3 - t0)

    out = {"master_slot": master, "commits": len(commits), "joined": joined,
           "hops_us": {k: {"p50": pct(v, 50), "p99": pct(v, 99)} for k, v in hops.items()}}
    print(f"master slot {master}: {len(commits)} commits traced, {joined} joined with the replica "
          f"whose ack came first")
    print(f"{'hop':<14} {'p50 us':>8} {'p99 us':>8}  meaning")
    meaning = {
        "txn": "writer: begin, put, commit until Berkeley DB hands the record to the transport",
        "frame_send": "transport: build the frame, hand it to ZeroMQ",
        "wire_out": "ZeroMQ master -> replica: I/O threads, kernel, replica receive thread",
        "replica_queue": "replica: receive thread -> rep worker (queue + wake-up)",
        "apply_ack": "replica: rep_process_message, build + send the ack",
        "wire_back": "ZeroMQ replica -> master: I/O threads, kernel, master receive thread",
        "writer_wake": "master: receive thread records the ack, wakes the writer",
        "total": "commit as the writer saw it",
    }
    for k, v in hops.items():
        print(f"{k:<14} {pct(v, 50):>8} {pct(v, 99):>8}  {meaning[k]}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
