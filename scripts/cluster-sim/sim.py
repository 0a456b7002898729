#!/usr/bin/env python3
"""Proof by simulation (issue 15 item 6), run by scripts/cluster-sim.sh inside netns-run.

One PostgreSQL, three release-built gateways on 127.0.0.1 (bench-relay's cluster.py: ports
2625/2635/2645, own data dirs, nodes node1..node3, a short lease), relaying to a recording
sink (sink.py: every delivered Message-ID, one a line). A pool of SMTP client threads
spreads MESSAGES messages over the three nodes, each with its own Message-ID, and notes
the ones answered 250 ("acknowledged"); a client whose node fails sends the same message
to the next node (as a real client retries). Once KILL_AT of the messages are
acknowledged and node2 holds leases (deliveries in flight; the sink holds each 250 back
SINK_DELAY_MS), node2 is SIGKILLed and left dead: its leased deliveries are taken over
by the others when the lease ends. Then the queue must drain (DRAIN_DEADLINE)
and every acknowledged Message-ID must have reached the sink. The last line:

  cluster: nodes 3, killed 1, acknowledged N, delivered N, lost 0, duplicates D

(delivered: distinct acknowledged Message-IDs the sink received; duplicates: extra copies,
at-least-once allows them). Exits 1 if any acknowledged message was lost.

Why not smtp-source: it sets a Message-Id per message but does not say which messages it
got a 250 for, and that set is what "lost" is measured against.
"""
import collections
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bench-relay"))
import bench  # noqa: E402
import cluster  # noqa: E402
from bench import Fail, log  # noqa: E402

NODES = 3
MESSAGES = int(os.environ.get("MESSAGES", "3000"))
CLIENTS = int(os.environ.get("CLIENTS", "12"))
SIZE = int(os.environ.get("SIZE", "1024"))
KILL_AT = float(os.environ.get("KILL_AT", "0.4"))
KILLED = 1  # node2
SINK_DELAY_MS = int(os.environ.get("SINK_DELAY_MS", "50"))
DRAIN_DEADLINE = float(os.environ.get("DRAIN_DEADLINE", "300"))
SEND_DEADLINE = float(os.environ.get("SEND_DEADLINE", "600"))
TRIES = 6  # nodes a client tries one message on before it gives up on it


def message(i):
    mid = f"<sim-{i}@cluster-sim.test>"
    body = ("x" * 76 + "\r\n") * max(1, SIZE // 78)
    return mid, (f"From: <sender@source.cluster-sim.test>\r\n"
                 f"To: <rcpt@dest.cluster-sim.test>\r\n"
                 f"Subject: cluster-sim {i}\r\n"
                 f"Message-ID: {mid}\r\n\r\n{body}")


class Clients:
    """CLIENTS threads taking message numbers from one counter, each on its own node."""

    def __init__(self, ports):
        self.ports = ports
        self.next = 0
        self.lock = threading.Lock()
        self.acked = set()
        self.given_up = []
        self.errors = collections.Counter()
        self.deadline = time.monotonic() + SEND_DEADLINE

    def take(self):
        with self.lock:
            if self.next >= MESSAGES or time.monotonic() > self.deadline:
                return None
            self.next += 1
            return self.next - 1

    def run(self, t):
        node = t % len(self.ports)
        conn = None
        while (i := self.take()) is not None:
            mid, text = message(i)
            for _ in range(TRIES):
                try:
                    if conn is None:
                        conn = smtplib.SMTP("127.0.0.1", self.ports[node], timeout=30)
                        conn.ehlo("client.cluster-sim.test")
                    conn.sendmail("sender@source.cluster-sim.test",
                                  ["rcpt@dest.cluster-sim.test"], text)
                    with self.lock:
                        self.acked.add(mid)
                    break
                except (smtplib.SMTPException, OSError) as e:
                    with self.lock:
                        self.errors[f"node{node + 1}: {type(e).__name__}"] += 1
                    try:
                        if conn is not None:
                            conn.close()
                    except OSError:
                        pass
                    conn = None
                    node = (node + 1) % len(self.ports)
            else:
                with self.lock:
                    self.given_up.append(mid)
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                pass


def leases(c, node):
    """Deliveries leased to `node` now."""
    v = c.db.query("SELECT count(*) FROM postern_jobs WHERE lease_node = '" + node + "' "
                   "AND lease_until IS NOT NULL")
    return int(v) if v.isdigit() else 0


def delivered_ids(path):
    with open(path) as f:
        return collections.Counter(l.strip() for l in f if l.strip())


def main():
    built = os.path.join(bench.ROOT, "target", "release", "postern")
    if not os.access(built, os.X_OK):
        raise Fail(f"{built} missing (cargo build --release --bin postern)")
    base = tempfile.mkdtemp(prefix="postern-cluster-sim-")
    os.chmod(base, 0o755)
    binary = os.path.join(base, "postern")
    shutil.copy2(built, binary)
    log(f"cluster-sim: {NODES} nodes, {MESSAGES} messages of ~{SIZE} B from {CLIENTS} "
        f"clients, kill node{KILLED + 1} at {KILL_AT:.0%} acknowledged, lease "
        f"{cluster.LEASE_SECS} s; work dir {base}; load {bench.loadavg()}")
    record = os.path.join(base, "delivered.txt")
    open(record, "w").close()
    c = None
    try:
        bench.spawn([sys.executable, os.path.join(HERE, "sink.py"), str(bench.SINK_PORT),
                     record, str(SINK_DELAY_MS)], "sink")
        bench.wait_port(bench.SINK_PORT)
        c = cluster.Cluster(base, binary, NODES)
        c.start()
        clients = Clients(c.ports)
        threads = [threading.Thread(target=clients.run, args=(t,), daemon=True)
                   for t in range(CLIENTS)]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        killed = None
        victim = f"node{KILLED + 1}"
        while any(th.is_alive() for th in threads):
            if (killed is None and len(clients.acked) >= KILL_AT * MESSAGES
                    and leases(c, victim) > 0):
                log(f"  {len(clients.acked)} acknowledged, queue {c.queue_len()}, "
                    f"{sum(delivered_ids(record).values())} delivered: killing {victim}")
                c.kill(KILLED)
                killed = time.monotonic()
                log(f"  {victim} held {leases(c, victim)} leases when it died")
            time.sleep(0.02)
        sent = time.monotonic() - t0
        if killed is None:
            raise Fail("the load ended before the kill (raise MESSAGES or lower KILL_AT)")
        log(f"  clients done in {sent:.1f} s: {len(clients.acked)} acknowledged, "
            f"{len(clients.given_up)} given up; errors {dict(clients.errors)}")
        end = time.monotonic() + DRAIN_DEADLINE
        while True:
            n = c.queue_len()
            if n == 0:
                break
            if time.monotonic() > end:
                log(f"  drain deadline passed with {n} messages queued")
                break
            time.sleep(0.5)
        log(f"  queue drained {time.monotonic() - t0:.1f} s after the start, "
            f"{time.monotonic() - killed:.1f} s after the kill")
        time.sleep(1.0)  # a delivery's last 250 and the sink's write
        got = delivered_ids(record)
        acked = clients.acked
        lost = sorted(acked - set(got))
        dups = sum(n - 1 for n in got.values() if n > 1)
        extra = set(got) - acked - {"-"}
        if lost:
            log(f"  lost (first 20): {lost[:20]}")
        if extra:
            log(f"  delivered without an acknowledgement (the 250 never reached the client): "
                f"{len(extra)}")
        for i, n in enumerate(c.nodes):
            log(f"  node{i + 1} log tail:\n" + "".join("    " + l + "\n"
                for l in n.tail().splitlines()[-5:]))
        # Printed by the caller after the clean-up, so that it is the last line.
        return (f"cluster: nodes {NODES}, killed 1, acknowledged {len(acked)}, "
                f"delivered {len(acked) - len(lost)}, lost {len(lost)}, duplicates {dups}",
                1 if lost else 0)
    finally:
        if c is not None:
            c.stop()
        bench.cleanup_procs()
        if os.environ.get("KEEP", "0") == "1":
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(f"interrupted by signal {s}"))
    try:
        line, code = main()
        log(line)
        sys.exit(code)
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
