#!/usr/bin/env python3
"""Reads bench-relay.sh logs named N.log (N = concurrent sessions) from LOGDIR, writes
OUT.csv (mta, sessions, msg/s end to end, MAIL..250 p99 ms) and OUT.png (two panels,
log-scaled session axis). Used by scripts/bench-scaling.sh."""
import csv
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(path):
    """(mta, rate) from the throughput table and (mta, p99) from the latency table."""
    tput, p99 = {}, {}
    for line in open(path):
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(c) == 11 and c[0] not in ("MTA",) and not c[0].startswith("-"):
            tput[c[0]] = float(c[2].replace(",", ""))
        elif len(c) == 7 and c[0] not in ("MTA",) and not c[0].startswith("-"):
            p99[c[0]] = float(c[3])
    return tput, p99


def main():
    logdir, out = sys.argv[1], sys.argv[2]
    data = []
    for name in sorted(os.listdir(logdir), key=lambda n: int(n.split(".")[0])):
        n = int(name.split(".")[0])
        tput, p99 = rows(os.path.join(logdir, name))
        for mta in tput:
            data.append((mta, n, tput[mta], p99.get(mta, float("nan"))))
    with open(out + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mta", "sessions", "msg_per_s", "mail_to_250_p99_ms"])
        w.writerows(data)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=80)
    for mta in dict.fromkeys(d[0] for d in data):
        pts = [d for d in data if d[0] == mta]
        a.plot([p[1] for p in pts], [p[2] for p in pts], marker="o", label=mta)
        b.plot([p[1] for p in pts], [p[3] for p in pts], marker="o", label=mta)
    for ax, title in ((a, "relay throughput (msg/s)"), (b, "MAIL..250 p99 (ms)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("concurrent client sessions")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out + ".png")
    print(f"wrote {out}.csv and {out}.png")


if __name__ == "__main__":
    main()
