"""A postern cluster on PostgreSQL for the relay bench and scripts/cluster-sim.sh.

`Cluster(work, binary, n)` starts a throwaway PostgreSQL (scripts/pg-dev.sh, on port
PG_PORT) and writes n gateway configurations: bench.py's `Postern` relay to the sink, each
with its own port (2625, 2635, 2645, ...), data directory and node name, and a
`[storage]` on that database. It has bench.py's MTA interface (start, stop, queue_len,
tail, pid, ports) plus `kill(i)` (SIGKILL one node, left dead), so bench.py measures it as
MTA `postern-pg3` and the simulation drives it. CPU and processes (`cg`) count the
gateways and the database server together: the cluster's whole cost.
"""
import os
import signal
import subprocess

import bench
from bench import Fail, log, run

PG_PORT = int(os.environ.get("PG_PORT", "54339"))
PG_DEV = os.path.join(bench.ROOT, "scripts", "pg-dev.sh")
# Seconds a node owns a delivery before another may take it over (renewed while alive).
LEASE_SECS = int(os.environ.get("LEASE_SECS", "10"))
# Database connections per node ([storage] pool_size).
PG_POOL = int(os.environ.get("PG_POOL", "4"))
# 1: load pg_stat_statements and print the busiest statements when the cluster stops.
PG_STATS = os.environ.get("PG_STATS", "0") == "1"


def storage_toml(url, node, lease_secs, pool):
    return f"""[storage]
backend = "postgres"
url = "{url}"
node = "{node}"
lease_secs = {lease_secs}
pool_size = {pool}
"""


class Database:
    """A throwaway PostgreSQL from scripts/pg-dev.sh (inside the caller's namespace)."""

    def __init__(self):
        env = dict(os.environ, POSTERN_PG_PORT=str(PG_PORT))
        if PG_STATS:
            env["POSTERN_PG_OPTS"] = "-c shared_preload_libraries=pg_stat_statements"
        out = run([PG_DEV, "start"], env=env)
        urls = [l.split("=", 1)[1] for l in out.splitlines() if l.startswith("POSTERN_PG_URL=")]
        if not urls:
            raise Fail(f"pg-dev.sh start printed no URL: {out[-1000:]}")
        self.url = urls[0]
        state = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"postern-pg-dev.{PG_PORT}")
        with open(state) as f:
            self.dir = f.read().strip()
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            self.pid = int(f.readline())
        self.env = env
        if PG_STATS:
            self.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def query(self, sql):
        return subprocess.run(["psql", self.url, "-qAtc", sql], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=30).stdout.strip()

    def stop(self):
        run([PG_DEV, "stop", self.dir], env=self.env)


class Cpu:
    """bench.py's CPU-group interface over the gateways and the database server."""

    def __init__(self, cluster):
        self.c = cluster

    def pids(self):
        out = []
        for n in self.c.nodes:
            if n.p.returncode is None:
                out += bench.tree(n.pid)
        return out + bench.tree(self.c.db.pid)

    def cpu(self):
        return sum(bench.tree_cpu(n.pid) for n in self.c.nodes) + bench.tree_cpu(self.c.db.pid)


class Cluster:
    name = "postern-pg3"

    def __init__(self, work, binary, n, lease_secs=LEASE_SECS):
        self.work = work
        self.db = Database()
        self.ports = [bench.MTA_PORT + 10 * i for i in range(n)]
        self.nodes = []
        for i, port in enumerate(self.ports):
            d = os.path.join(work, f"node{i + 1}")
            os.makedirs(d)
            extra = storage_toml(self.db.url, f"node{i + 1}", lease_secs, PG_POOL)
            self.nodes.append(bench.Postern(d, binary, port, extra))
        self.cg = Cpu(self)

    def start(self):
        bench.live_mtas.append(self)
        for n in self.nodes:
            n.start()
            # bench.py's cleanup stops the cluster as a whole.
            bench.live_mtas.remove(n)
        self.pid = self.nodes[0].pid

    def kill(self, i):
        """SIGKILL node i: no grace, no cleanup, as a machine that dies."""
        n = self.nodes[i]
        n.p.send_signal(signal.SIGKILL)
        n.p.wait()
        log(f"  killed node{i + 1} (pid {n.pid})")

    def queue_len(self):
        """Messages in the shared queue (None while the database does not answer)."""
        v = self.db.query("SELECT count(*) FROM postern_messages")
        return int(v) if v.isdigit() else None

    def profile(self):
        """Where the cluster's CPU went (gateways, database), the database's commits, and
        with PG_STATS=1 its busiest statements (pg_stat_statements)."""
        nodes = sum(bench.tree_cpu(n.pid) for n in self.nodes if n.p.returncode is None)
        log(f"  cluster CPU: gateways {nodes:.2f} s, PostgreSQL {bench.tree_cpu(self.db.pid):.2f} s;"
            f" database commits {self.db.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()')}")
        if PG_STATS:
            log(self.db.query(
                "SELECT calls, round(total_exec_time)::text || ' ms', "
                "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements "
                "ORDER BY total_exec_time DESC LIMIT 12"))

    def stop(self):
        if self in bench.live_mtas:
            bench.live_mtas.remove(self)
        if self.nodes and self.nodes[0].p.returncode is None:
            self.profile()
        for n in self.nodes:
            if n.p.returncode is None:
                n.stop()
        self.db.stop()

    def tail(self):
        return "\n".join(f"--- node{i + 1}:\n{n.tail()}" for i, n in enumerate(self.nodes))
