#!/usr/bin/env python3
"""Scrapes a board's metrics endpoint and checks the text with Prometheus'
own parser (Debian's python3-prometheus-client).

  metrics_scrape_check.py URL --slot N --role master|replica --master M
                          --peers P [--min-writes W]

Checks that the exposition parses, that the key families exist with the
right types, and that their values fit a settled chassis: the role one-hot
says --role, generation > 0, master_slot is --master, every one of the
--peers peers is up (and, on a master, has a lag), the redundancy view
names one primary, counters are >= 0, and (with --min-writes) the write
latency histogram counted at least that many writes with consistent
buckets. Prints a JSON summary on stdout; exit 0 when every check holds,
1 with the failures on stderr otherwise.
"""
import argparse
import json
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

# Family name (as the parser names it: a counter without its _total) -> type.
REQUIRED = {
    "backplane_board_info": "gauge",
    "backplane_role": "gauge",
    "backplane_generation": "gauge",
    "backplane_master_slot": "gauge",
    "backplane_redundant_role": "gauge",
    "backplane_last_switchover_timestamp_seconds": "gauge",
    "backplane_last_switchover_info": "gauge",
    "backplane_peer_up": "gauge",
    "backplane_elections": "counter",
    "backplane_elections_won": "counter",
    "backplane_perm_failures": "counter",
    "backplane_acks_needed": "gauge",
    "backplane_client_write_duration_seconds": "histogram",
    "backplane_reinit_phase": "gauge",
    "backplane_cache_bytes": "gauge",
    "backplane_log_ring_bytes": "gauge",
    "backplane_log_since_checkpoint_bytes": "gauge",
    "backplane_bus_frames_sent": "counter",
    "backplane_refused_frames": "counter",
    "backplane_queue_depth": "gauge",
    "backplane_scrape_status_seconds": "gauge",
}


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.headers.get("Content-Type", ""), r.read().decode("utf-8")


def values(families, sample_name):
    """[(labels, value)] of every sample named `sample_name`."""
    return [(s.labels, s.value) for f in families.values() for s in f.samples
            if s.name == sample_name]


def one(families, sample_name, **labels):
    found = [v for l, v in values(families, sample_name)
             if all(l.get(k) == str(x) for k, x in labels.items())]
    return found[0] if len(found) == 1 else None


def check_identity(fam, a, fail):
    for role in ("starting", "replica", "master"):
        want = 1 if role == a.role else 0
        if one(fam, "backplane_role", role=role) != want:
            fail(f"backplane_role{{role={role}}} is not {want}")
    gen = one(fam, "backplane_generation")
    if gen is None or gen <= 0:
        fail(f"backplane_generation is {gen}, want > 0")
    if one(fam, "backplane_master_slot") != a.master:
        fail(f"backplane_master_slot is {one(fam, 'backplane_master_slot')}, want {a.master}")
    primaries = [l["slot"] for l, v in values(fam, "backplane_redundant_role")
                 if l.get("redundant_role") == "primary" and v == 1]
    if primaries != [str(a.master)]:
        fail(f"redundant_role primary boards {primaries}, want [{a.master}]")
    ts = one(fam, "backplane_last_switchover_timestamp_seconds")
    if ts is None or not time.time() - 3600 < ts < time.time() + 60:
        fail(f"last switchover time {ts} is not within the last hour")
    infos = values(fam, "backplane_last_switchover_info")
    if len(infos) != 1 or infos[0][0].get("master") != str(a.master) or not infos[0][0].get("reason"):
        fail(f"last_switchover_info {infos} does not name master {a.master} and a reason")


def check_peers(fam, a, fail):
    up = values(fam, "backplane_peer_up")
    if len(up) != a.peers or any(v != 1 for _, v in up):
        fail(f"peer_up {up}: want {a.peers} peers, all up")
    lags = values(fam, "backplane_peer_lag_bytes")
    if a.role == "master" and (len(lags) != a.peers or any(v < 0 for _, v in lags)):
        fail(f"a master must show a lag >= 0 for each of its {a.peers} peers: {lags}")
    if a.role != "master" and lags:
        fail(f"a replica shows no lag: {lags}")


def check_histogram(fam, a, fail):
    buckets = sorted((float(l["le"]), v) for l, v in
                     values(fam, "backplane_client_write_duration_seconds_bucket"))
    count = one(fam, "backplane_client_write_duration_seconds_count")
    total = one(fam, "backplane_client_write_duration_seconds_sum")
    if not buckets or buckets[-1][0] != float("inf") or buckets[-1][1] != count:
        fail(f"histogram +Inf bucket {buckets[-1:]} != count {count}")
    if any(b[1] > c[1] for b, c in zip(buckets, buckets[1:])):
        fail(f"histogram buckets are not cumulative: {buckets}")
    if count is None or count < a.min_writes or total is None or total < 0:
        fail(f"histogram counted {count} writes (sum {total}), want >= {a.min_writes}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--slot", type=int, required=True)
    ap.add_argument("--role", choices=["master", "replica"], required=True)
    ap.add_argument("--master", type=int, required=True)
    ap.add_argument("--peers", type=int, required=True)
    ap.add_argument("--min-writes", type=int, default=0)
    a = ap.parse_args()
    failures = []
    fail = failures.append
    ctype, text = scrape(a.url)
    if not ctype.startswith("text/plain; version=0.0.4"):
        fail(f"Content-Type {ctype!r} is not the 0.0.4 text format")
    fam = {f.name: f for f in text_string_to_metric_families(text)}
    for name, kind in REQUIRED.items():
        if name not in fam:
            fail(f"family {name} missing")
        elif fam[name].type != kind:
            fail(f"family {name} is a {fam[name].type}, want {kind}")
    if not failures:
        check_identity(fam, a, fail)
        check_peers(fam, a, fail)
        check_histogram(fam, a, fail)
        negative = [(f.name, s.value) for f in fam.values() if f.type == "counter"
                    for s in f.samples if s.value < 0]
        if negative:
            fail(f"negative counters: {negative}")
    print(json.dumps({"url": a.url, "families": len(fam),
                      "samples": sum(len(f.samples) for f in fam.values()),
                      "generation": one(fam, "backplane_generation"),
                      "writes": one(fam, "backplane_client_write_duration_seconds_count")}))
    for f in failures:
        print(f"metrics_scrape_check: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
