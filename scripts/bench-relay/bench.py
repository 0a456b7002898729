#!/usr/bin/env python3
"""Relay throughput driver, run by scripts/bench-relay.sh inside netns-run (loopback only).

For each size and each MTA (postern, Postfix as a relay), on a fresh spool/queue:
  1. throughput: `smtp-sink -M N` (exits once it has N messages), the MTA, then
     `smtp-source -s S -m N -l SIZE`; end-to-end rate = N / (sink exit - source start).
     CPU of the MTA from /proc (postern: utime+stime of its process; Postfix: master's
     utime+stime+cutime+cstime, which absorbs every child it has reaped, plus every live
     child's own), before and after. Memory: /proc sampled every 200 ms.
  2. acceptance latency: a fresh MTA and sink, then client.py (LAT_SESSIONS threads, one
     connection per message, as smtp-source does) times MAIL .. the 250 after DATA.
Configuration comes from the environment (see scripts/bench-relay.sh).
"""
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

MESSAGES = int(os.environ.get("MESSAGES", "10000"))
SESSIONS = int(os.environ.get("SESSIONS", "10"))
SIZES = [int(s) for s in os.environ.get("SIZES", "1024 102400").replace(",", " ").split()]
MTAS = os.environ.get("MTAS", "postern postfix exim opensmtpd opensmtpd-sync").replace(",", " ").split()
LAT_MESSAGES = int(os.environ.get("LAT_MESSAGES", "2000"))
# Exim and OpenSMTPD relay tens of messages a second at their defaults here (BENCHMARKS.md):
# PEER_MESSAGES / PEER_LAT_MESSAGES, when set, replace MESSAGES / LAT_MESSAGES for them
# (at least two a session), so a scaling curve over every peer ends in minutes.
SLOW_PEERS = ("exim", "opensmtpd", "opensmtpd-sync")
PEER_MESSAGES = int(os.environ.get("PEER_MESSAGES", "0"))
PEER_LAT_MESSAGES = int(os.environ.get("PEER_LAT_MESSAGES", "0"))


def messages_for(kind, default, peer, sessions):
    """Messages in one run of `kind`: `default`, or `peer` for a slow peer when set."""
    if kind in SLOW_PEERS and peer > 0:
        return max(peer, 2 * sessions)
    return default
LAT_SESSIONS = int(os.environ.get("LAT_SESSIONS", "10"))
SOURCE_OPTS = shlex.split(os.environ.get("SOURCE_OPTS", ""))
RUN_DEADLINE = float(os.environ.get("RUN_DEADLINE", "600"))
PF_DEST_CONCURRENCY = os.environ.get("PF_DEST_CONCURRENCY", "")
PN_DEST_CONCURRENCY = int(os.environ.get("PN_DEST_CONCURRENCY", "20"))
# Diagnostic: postern's [domain_defaults] charset (default: postern's own, iso-8859-1).
PN_CHARSET = os.environ.get("PN_CHARSET", "")
# Extra lines for postern's [limits] section, e.g. "body_cache_bytes = 0".
PN_LIMITS = os.environ.get("PN_LIMITS", "")
# Extra lines for postern's [spool] section, e.g. "group_commit_gather_us = 0".
PN_SPOOL = os.environ.get("PN_SPOOL", "")
# Extra lines for postern's [server] (e.g. "worker_threads = 1").
PN_SERVER = os.environ.get("PN_SERVER", "")
KEEP = os.environ.get("KEEP", "0") == "1"
PERF = os.environ.get("PERF", "0") == "1"
# 1: count system calls and context switches machine-wide during each throughput run
# (perf stat on the syscalls:sys_enter_* tracepoints: no ptrace, the run is not slowed)
# and print them per message, source and sink included.
SYSCALLS = os.environ.get("SYSCALLS", "0") == "1"

MTA_PORT = 2625
SINK_PORT = 2626
SINK = "/usr/sbin/smtp-sink"
# Another sink in its place: postern's `smtp_sink` example (`cargo build --release
# --example smtp_sink`), whose `--count N` ends it as `-M N` ends smtp-sink. At 100 KB
# Postfix's smtp-sink spends 0.7 CPU-ms a message on its own: it, not the relay, then
# sets the pace (BENCHMARKS.md, "Relay, eleventh round"). Empty: smtp-sink.
SINK_BIN = os.environ.get("SINK_BIN", "")
# Extra arguments for SINK_BIN (e.g. "--no-chunking": DATA from every MTA, as smtp-sink
# gets it; postern sends BDAT to a sink that offers CHUNKING, Postfix never does).
SINK_ARGS = shlex.split(os.environ.get("SINK_ARGS", ""))
SOURCE = "/usr/sbin/smtp-source"

procs = []  # (Popen, name) to kill at exit


class Fail(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def show(cmd):
    log("+ " + " ".join(shlex.quote(str(c)) for c in cmd))


def run(cmd, **kw):
    show(cmd)
    kw.setdefault("timeout", 300)
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    except subprocess.TimeoutExpired:
        raise Fail(f"{cmd[0]} did not finish within {kw['timeout']} s") from None
    if r.returncode != 0:
        raise Fail(f"{cmd[0]} exited {r.returncode}: {r.stdout.strip()[-2000:]}")
    return r.stdout


def spawn(cmd, name, **kw):
    show(cmd)
    p = subprocess.Popen(cmd, **kw)
    procs.append((p, name))
    return p


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def busy_cpu():
    """Busy CPU seconds of the whole machine so far (all CPUs; /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK  # all but idle and iowait (guest is in user)


def wait_port(port, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise Fail(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def wait_port_free(port, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return
        except OSError:
            time.sleep(0.1)
        finally:
            s.close()
    raise Fail(f"port {port} still in use after {timeout}s")


# ---- /proc ---------------------------------------------------------------------------

def stat(pid):
    """(ppid, utime+stime, cutime+cstime) in clock ticks, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    p = s[s.rindex(")") + 2:].split()
    return int(p[1]), int(p[11]) + int(p[12]), int(p[13]) + int(p[14])


def children(ppid):
    """Live children of ppid: /proc/PID/task/*/children (cheap), else a scan of /proc."""
    try:
        out = []
        for t in os.listdir(f"/proc/{ppid}/task"):
            with open(f"/proc/{ppid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
        return out
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{ppid}"):
            return []
    except OSError:
        return []
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(int(d))
            if st and st[0] == ppid:
                out.append(int(d))
    return out


def tree(pid):
    """pid and its live descendants."""
    # Postfix's master forks its daemons directly; postern does not fork.
    return [pid] + children(pid)


def tree_cpu(pid):
    """CPU seconds of pid plus everything it reaped, plus its live children."""
    total = 0
    for i, q in enumerate(tree(pid)):
        st = stat(q)
        if st:
            total += st[1] + st[2]
    return total / CLK


def mem_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Every 200 ms: summed RSS and PSS of the MTA's processes, and its queue length."""

    def __init__(self, pids, queue_len):
        super().__init__(daemon=True)
        self.pids, self.queue_len = pids, queue_len
        self.peak_rss = self.peak_pss = self.peak_procs = 0
        self.queue = []  # (t, n)
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        i = 0
        while not self.stop.is_set():
            pids = self.pids()
            self.peak_procs = max(self.peak_procs, len(pids))
            self.peak_rss = max(self.peak_rss, sum(mem_kb(p, "VmRSS") for p in pids))
            self.peak_pss = max(self.peak_pss, sum(pss_kb(p) for p in pids))
            if i % 5 == 0:
                n = self.queue_len()
                if n is not None:
                    self.queue.append((round(time.monotonic() - self.t0, 1), n))
            i += 1
            self.stop.wait(0.2)


# ---- the sink --------------------------------------------------------------------------

class Sink:
    def __init__(self, work, count):
        self.err = open(os.path.join(work, "sink.log"), "w")
        if SINK_BIN:
            cmd = [SINK_BIN, "--listen", f"127.0.0.1:{SINK_PORT}", "--quiet", "--count", str(count),
                   *SINK_ARGS]
        else:
            cmd = [SINK, "-u", "nobody", "-h", "sink.bench.test", "-M", str(count),
                   f"127.0.0.1:{SINK_PORT}", "1024"]
        self.p = spawn(cmd, "smtp-sink", stdout=self.err, stderr=subprocess.STDOUT)
        self.rusage = None
        wait_port(SINK_PORT)

    def wait(self, deadline, gave_up=lambda: None):
        """Waits until the sink exits (it has all the messages); returns monotonic time.
        `gave_up()` returns a reason to stop waiting early (the clients failed, so the
        sink will never have every message), or None."""
        while True:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                t = time.monotonic()
                self.p.returncode = os.waitstatus_to_exitcode(status)
                self.rusage = ru
                if self.p.returncode != 0:
                    raise Fail(f"smtp-sink exited {self.p.returncode}")
                return t
            if time.monotonic() > deadline:
                raise Fail("deadline passed before the sink had every message")
            reason = gave_up()
            if reason:
                raise Fail(reason)
            time.sleep(0.002)

    def cpu(self):
        return self.rusage.ru_utime + self.rusage.ru_stime if self.rusage else float("nan")


def sources_failed(srcs, src_done):
    """Why waiting for the sink is pointless: every smtp-source has exited and one of them
    failed (a refused connection, a 4xx it gave up on), or None."""
    if src_done[0] is None:
        return None
    bad = [s.returncode for s in srcs if s.returncode != 0]
    return f"smtp-source exited {bad[0]} before the sink had every message" if bad else None


# ---- the MTAs ----------------------------------------------------------------------------

class Postern:
    """One postern gateway relaying to the sink. `port` is where it listens; `extra` is
    appended to its configuration (a cluster node's [storage], see cluster.py)."""
    name = "postern"

    def __init__(self, work, binary, port=MTA_PORT, extra=""):
        self.work, self.bin, self.port = work, binary, port
        self.data = os.path.join(work, "data")
        self.conf = os.path.join(work, "postern.toml")
        with open(self.conf, "w") as f:
            f.write(f"""# written by scripts/bench-relay/bench.py
[server]
hostname = "relay.bench.test"
data_dir = "{self.data}"
{PN_SERVER}
[connections]
listen = ["127.0.0.1:{port}"]
# Postfix's default_destination_concurrency_limit is 20 (postern's default is 10).
max_connections_per_destination = {PN_DEST_CONCURRENCY}
{f"# More client sessions than postern's default 20 per IP (more get a 421).{chr(10)}max_connections_per_ip = {max(SESSIONS, LAT_SESSIONS) + 10}" if max(SESSIONS, LAT_SESSIONS) > 20 else ""}
[security]
relay_networks = ["127.0.0.1/32"]
{f"[limits]{chr(10)}{PN_LIMITS}" if PN_LIMITS else ""}
{f"[spool]{chr(10)}{PN_SPOOL}" if PN_SPOOL else ""}
[retry]
intervals = ["1s"]
backoff_first = "1s"
backoff_max = "2s"
[domain_defaults]
# As Postfix's smtp_tls_security_level = none (smtp-sink offers no STARTTLS anyway).
tls = "off"
{f'charset = "{PN_CHARSET}"' if PN_CHARSET else ""}
[[connector]]
name = "sink"
smart_hosts = ["[127.0.0.1]:{SINK_PORT}"]
  [[connector.address_space]]
  pattern = "*"
{extra}""")
        log(f"  postern config {self.conf}:\n" + "".join("    " + l for l in open(self.conf)))

    def start(self):
        self.err = open(os.path.join(self.work, "postern.err"), "w")
        # A group of its own, so that stop() also ends what a wrapper given as
        # POSTERN_BIN started: `strace` stops on SIGTERM and lets the gateway it traces go
        # on, which once left two gateways spinning through later runs.
        self.p = spawn([self.bin, "serve", "--grace", "2", "-c", self.conf], "postern",
                       stdout=self.err, stderr=subprocess.STDOUT, start_new_session=True)
        live_mtas.append(self)
        wait_port(self.port)
        self.pid = self.p.pid

    def queue_len(self):
        try:
            import urllib.request
            with open(os.path.join(self.data, "admin.address")) as f:
                addr = f.read().strip()
            url = f"http://{addr}/api/v1/status"
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)["queue"]["messages"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def stop(self):
        if self in live_mtas:
            live_mtas.remove(self)
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the usual case: nothing of the group is left
        if self.p.returncode not in (0, -signal.SIGTERM):
            log(f"  warning: postern exited {self.p.returncode}; last lines of postern.err:")
            log(open(os.path.join(self.work, "postern.err")).read()[-2000:])

    def tail(self):
        return open(os.path.join(self.work, "postern.err")).read()[-3000:]


class Postfix:
    name = "postfix"

    def __init__(self, work):
        self.work = work
        self.conf = os.path.join(work, "pf-conf")
        self.queue = os.path.join(work, "pf-queue")
        self.maillog = os.path.join(work, "maillog")
        os.makedirs(self.conf)
        os.makedirs(self.queue)
        shutil.copy("/etc/postfix/main.cf", self.conf)
        shutil.copy("/etc/postfix/master.cf", self.conf)
        c = ["postconf", "-c", self.conf]
        settings = [
            f"queue_directory={self.queue}", f"data_directory={work}/pf-data",
            "myhostname=relay.bench.test", "mydomain=bench.test", "myorigin=$myhostname",
            f"relayhost=[127.0.0.1]:{SINK_PORT}", "default_transport=smtp",
            "relay_transport=relay", "mydestination=", "inet_interfaces=loopback-only",
            "inet_protocols=ipv4", "smtp_tls_security_level=none",
            "smtpd_tls_security_level=none", "mynetworks=127.0.0.0/8",
            "alias_maps=", "alias_database=",
            f"maillog_file={self.maillog}", f"maillog_file_prefixes=/var,/dev/stdout,{work}",
        ]
        if PF_DEST_CONCURRENCY:
            settings += [f"default_destination_concurrency_limit={PF_DEST_CONCURRENCY}"]
        run(c + ["-e"] + settings)
        run(c + ["-MX", "smtp/inet"])
        run(c + ["-M", f"127.0.0.1:{MTA_PORT}/inet=127.0.0.1:{MTA_PORT} inet n - n - - smtpd"])
        # No chroot: the instance's queue directory is not set up as a chroot jail.
        run(c + ["-F", "*/*/chroot = n"])
        log("  postfix settings that differ from its defaults (postconf -n):\n" + "".join(
            "    " + l + "\n" for l in run(c + ["-n"]).splitlines()))

    def start(self):
        live_mtas.append(self)
        self.pid = None
        try:
            run(["postfix", "-c", self.conf, "start"])
        except Fail as e:
            raise Fail(f"{e}\n{self.tail()}")
        wait_port(MTA_PORT)
        with open(os.path.join(self.queue, "pid", "master.pid")) as f:
            self.pid = int(f.read().split()[0])

    def queue_len(self):
        n = 0
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(os.path.join(self.queue, sub)):
                n += len(files)
        return n

    def stop(self):
        if self in live_mtas:
            live_mtas.remove(self)
        try:
            run(["postfix", "-c", self.conf, "stop"])
        except Fail as e:
            log(f"  warning: {e}")
        if self.pid is None:
            return
        end = time.monotonic() + 15
        while stat(self.pid) and time.monotonic() < end:
            time.sleep(0.1)
        if stat(self.pid):
            log("  warning: Postfix master still running after 15 s; killing it")
            for q in reversed(tree(self.pid)):
                try:
                    os.kill(q, signal.SIGKILL)
                except OSError:
                    pass

    def tail(self):
        try:
            return open(self.maillog).read()[-3000:]
        except OSError:
            return "(no maillog)"


PEERS = os.environ.get("PEERS_PREFIX", os.path.join(ROOT, "target", "peers"))
EXIM = os.path.join(PEERS, "exim4-daemon-light", "usr", "sbin", "exim4")
SMTPD = os.path.join(PEERS, "opensmtpd", "usr", "sbin", "smtpd")


class CpuGroup:
    """A cgroup-v1 cpuacct group holding every process of one MTA: Exim's delivery
    processes and OpenSMTPD's children are not all reaped by the daemon we start, so
    /proc's cutime would miss them; the group counts every descendant's CPU."""

    def __init__(self, name):
        self.dir = f"/sys/fs/cgroup/cpuacct/postern-bench-{name}-{os.getpid()}"
        os.makedirs(self.dir, exist_ok=True)

    def wrap(self, cmd):
        return ["sh", "-c", f'echo $$ > {self.dir}/cgroup.procs && exec "$@"', "sh", *cmd]

    def cpu(self):
        with open(os.path.join(self.dir, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def pids(self):
        try:
            with open(os.path.join(self.dir, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def drain(self, timeout=15):
        """Waits for every process in the group to exit (SIGKILL after timeout); removes it."""
        end = time.monotonic() + timeout
        while self.pids() and time.monotonic() < end:
            time.sleep(0.1)
        for q in self.pids():
            try:
                os.kill(q, signal.SIGKILL)
            except OSError:
                pass
        end = time.monotonic() + 5
        while self.pids() and time.monotonic() < end:
            time.sleep(0.1)
        try:
            os.rmdir(self.dir)
        except OSError as e:
            log(f"  warning: cgroup {self.dir} not removed: {e}")


class Exim:
    """Exim 4 (Debian's exim4-daemon-light, unpacked into PEERS) as a smart-host relay,
    at its defaults apart from the lines printed: immediate delivery (a delivery process
    per message, forked by the receiving process), spool files fsync'd before the 250
    (Exim's default; there is no disable_fsync here)."""
    name = "exim"

    def __init__(self, work):
        self.work = work
        self.spool = os.path.join(work, "exim-spool")
        self.logdir = os.path.join(work, "exim-log")
        for d in (self.spool, self.logdir):
            os.makedirs(d)
            shutil.chown(d, "Debian-exim", "Debian-exim")
        self.conf = os.path.join(work, "exim.conf")
        # Exim's smtp_accept_max defaults to 20 connections (more get a 421); raised only
        # when the client opens more sessions than that.
        accept_max = f"smtp_accept_max = {SESSIONS + 10}\n" if SESSIONS > 20 else ""
        with open(self.conf, "w") as f:
            f.write(f"""# written by scripts/bench-relay/bench.py
# Exim re-executes itself (delivery, -Mc): from the private prefix, not /usr/sbin.
exim_path = {EXIM}
primary_hostname = relay.bench.test
spool_directory = {self.spool}
log_file_path = {self.logdir}/%slog
daemon_smtp_ports = {MTA_PORT}
local_interfaces = 127.0.0.1
# As Postfix's smtpd_tls_security_level = none (no certificate here).
tls_advertise_hosts =
{accept_max}hostlist relay_from_hosts = 127.0.0.1
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  accept hosts = +relay_from_hosts
  deny   message = relay not permitted
begin routers
smarthost:
  driver = manualroute
  route_list = * 127.0.0.1::{SINK_PORT} byname
  # The sink is on this host: send to it rather than freeze (self = freeze).
  self = send
  transport = remote_smtp
  no_more
begin transports
remote_smtp:
  driver = smtp
  allow_localhost
begin retry
*  *  F,2h,1m
""")
        os.chmod(self.conf, 0o644)
        log(f"  exim config {self.conf} (run as: exim4 -C CONF -bdf -q30m):\n" +
            "".join("    " + l for l in open(self.conf)))

    def start(self):
        self.cg = CpuGroup("exim")
        self.err = open(os.path.join(self.work, "exim.err"), "w")
        self.p = spawn(self.cg.wrap([EXIM, "-C", self.conf, "-bdf", "-q30m"]), "exim",
                       stdout=self.err, stderr=subprocess.STDOUT)
        live_mtas.append(self)
        wait_port(MTA_PORT)
        self.pid = self.p.pid

    def queue_len(self):
        try:
            return sum(1 for n in os.listdir(os.path.join(self.spool, "input"))
                       if n.endswith("-H"))
        except OSError:
            return 0

    def stop(self):
        if self in live_mtas:
            live_mtas.remove(self)
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.cg.drain()

    def tail(self):
        try:
            return open(os.path.join(self.logdir, "mainlog")).read()[-3000:]
        except OSError:
            return "(no mainlog)"


class OpenSMTPD:
    """OpenSMTPD 6.8 (Debian's opensmtpd, unpacked into PEERS) as a relay to the sink.
    Its spool path (/var/spool/smtpd) and control socket (/run) are compiled in, so it runs
    in a private mount namespace with the run's own directories bind-mounted there.
    OpenSMTPD's queue does not fsync: a message is on disk only as far as the page cache
    has written it when the 250 goes out. `opensmtpd-sync` is the same with the spool
    directory flagged synchronous (`chattr +S`: every write to a queue file reaches the
    disk before the write returns), the nearest it gets to Postfix's and postern's
    fsync before the 250."""

    def __init__(self, work, sync):
        self.work, self.sync = work, sync
        self.name = "opensmtpd-sync" if sync else "opensmtpd"
        self.spool = os.path.join(work, "smtpd-spool")
        self.rundir = os.path.join(work, "smtpd-run")
        os.makedirs(self.spool)
        os.chmod(self.spool, 0o711)  # smtpd refuses any other mode
        os.makedirs(self.rundir)
        if sync:
            run(["chattr", "+S", self.spool])
        self.conf = os.path.join(work, "smtpd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""# written by scripts/bench-relay/bench.py
listen on 127.0.0.1 port {MTA_PORT} hostname relay.bench.test
action "relay" relay host smtp://127.0.0.1:{SINK_PORT} helo relay.bench.test
match from src 127.0.0.1 for any action "relay"
""")
        log(f"  {self.name} config {self.conf} (run as: smtpd -d -f CONF; spool "
            f"{self.spool} bind-mounted on /var/spool/smtpd"
            + (", chattr +S" if sync else ", no fsync") + "):\n" +
            "".join("    " + l for l in open(self.conf)))

    def start(self):
        self.cg = CpuGroup(self.name)
        self.err = open(os.path.join(self.work, "smtpd.log"), "w")
        inner = (f"mount --bind {self.spool} /var/spool/smtpd && "
                 f"mount --bind {self.rundir} /run && exec {SMTPD} -d -f {self.conf}")
        self.p = spawn(self.cg.wrap(["unshare", "-m", "sh", "-c", inner]), self.name,
                       stdout=self.err, stderr=subprocess.STDOUT)
        live_mtas.append(self)
        wait_port(MTA_PORT, 30)
        self.pid = self.p.pid

    def queue_len(self):
        n = 0
        try:
            for b in os.listdir(os.path.join(self.spool, "queue")):
                n += len(os.listdir(os.path.join(self.spool, "queue", b)))
        except OSError:
            pass
        return n

    def stop(self):
        if self in live_mtas:
            live_mtas.remove(self)
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.cg.drain()

    def tail(self):
        return open(os.path.join(self.work, "smtpd.log")).read()[-3000:]


def make_mta(kind, work, binary):
    if kind == "postern":
        return Postern(work, binary)
    if kind == "postern-pg3":
        import cluster
        return cluster.Cluster(work, binary, 3)
    if kind == "postfix":
        return Postfix(work)
    if kind == "exim":
        return Exim(work)
    if kind in ("opensmtpd", "opensmtpd-sync"):
        return OpenSMTPD(work, kind == "opensmtpd-sync")
    raise Fail(f"unknown MTA {kind!r} (MTAS takes postern, postern-pg3, postfix, exim, "
               "opensmtpd, opensmtpd-sync)")


def mta_cpu(mta):
    """CPU seconds of the MTA so far: its cgroup (Exim, OpenSMTPD), else /proc."""
    return mta.cg.cpu() if hasattr(mta, "cg") else tree_cpu(mta.pid)


def mta_pids(mta):
    return mta.cg.pids() if hasattr(mta, "cg") else tree(mta.pid)


# ---- runs --------------------------------------------------------------------------------

def throughput(kind, size, base, binary):
    n_msgs = messages_for(kind, MESSAGES, PEER_MESSAGES, SESSIONS)
    work = tempfile.mkdtemp(prefix=f"{kind}-{size}-tput-", dir=base)
    os.chmod(work, 0o755)
    log(f"\n== throughput: {kind}, {n_msgs} messages of {size} bytes, {SESSIONS} sessions "
        f"(load {loadavg()})")
    mta = make_mta(kind, work, binary)
    sink = Sink(work, n_msgs)
    mta.start()
    time.sleep(1.0)  # let start-up work settle before the baseline
    cpu0 = mta_cpu(mta)
    busy0 = busy_cpu()
    load0 = loadavg()
    sampler = Sampler(lambda: mta_pids(mta), mta.queue_len)
    sampler.start()
    src_log = open(os.path.join(work, "source.log"), "w")
    # A cluster listens on several ports: the messages and sessions are split evenly
    # over them, one smtp-source each.
    ports = getattr(mta, "ports", [MTA_PORT])
    cmds = [[SOURCE, "-s", str(part(SESSIONS, len(ports), i)),
             "-m", str(part(n_msgs, len(ports), i)), "-l", str(size), *SOURCE_OPTS,
             "-M", "source.bench.test", "-f", "sender@source.bench.test",
             "-t", "rcpt@dest.bench.test", f"127.0.0.1:{port}"]
            for i, port in enumerate(ports)]
    perf = None
    if PERF:
        perf_data = os.path.join(work, "perf.data")
        perf = spawn(["perf", "record", "-a", "-g", "-e", "cpu-clock", "-F", "499", "-o",
                      perf_data], "perf", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    counter = None
    if SYSCALLS:
        counts = os.path.join(work, "syscalls.txt")
        counter = spawn(["perf", "stat", "-a", "-x", ",", "-o", counts, "-e",
                         "syscalls:sys_enter_*,context-switches"], "perf-stat",
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    tcp0 = tcp_counters()
    deadline = time.monotonic() + RUN_DEADLINE
    t0 = time.monotonic()
    srcs = [spawn(cmd, "smtp-source", stdout=src_log, stderr=subprocess.STDOUT)
            for cmd in cmds]
    src_done = [None, None]

    def reap_source():
        cpu = 0.0
        for src in srcs:
            _, status, ru = os.wait4(src.pid, 0)
            src.returncode = os.waitstatus_to_exitcode(status)
            cpu += ru.ru_utime + ru.ru_stime
        src_done[0], src_done[1] = time.monotonic(), cpu
    th = threading.Thread(target=reap_source, daemon=True)
    th.start()
    try:
        t_end = sink.wait(deadline, lambda: sources_failed(srcs, src_done))
    except Fail as e:
        raise Fail(f"{kind}: {e}; queue now {mta.queue_len()}; source "
                   f"{'done' if src_done[0] else 'still running'}\n--- MTA log tail:\n{mta.tail()}")
    cpu1 = mta_cpu(mta)
    busy1 = busy_cpu()
    load1 = loadavg()
    sampler.stop.set()
    sampler.join()
    th.join(max(1.0, deadline - time.monotonic()))
    if src_done[0] is None:
        raise Fail("smtp-source still running after the sink had every message")
    for src in srcs:
        if src.returncode != 0:
            raise Fail(f"smtp-source exited {src.returncode}: "
                       f"{open(src_log.name).read()[-1000:]}")
    out = open(src_log.name).read()
    if any(w in out.lower() for w in ("warning", "error", "fatal")):
        raise Fail(f"smtp-source reported: {out[:1000]}")
    hwm = mem_kb(mta.pid, "VmHWM") if kind == "postern" else None
    if counter:
        counter.send_signal(signal.SIGINT)
        counter.wait(60)
        syscall_report(kind, size, counts, n_msgs)
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(60)
        perf_report(kind, size, perf_data, mta.pid)
    mta.stop()
    r = {
        "mta": kind, "size": size, "messages": n_msgs,
        "elapsed": t_end - t0, "rate": n_msgs / (t_end - t0),
        "accept_elapsed": src_done[0] - t0, "accept_rate": n_msgs / (src_done[0] - t0),
        "cpu": cpu1 - cpu0, "cpu_per_1000": (cpu1 - cpu0) / n_msgs * 1000,
        "source_cpu": src_done[1], "sink_cpu": sink.cpu(),
        "peak_rss_mb": sampler.peak_rss / 1024, "peak_pss_mb": sampler.peak_pss / 1024,
        "vmhwm_mb": hwm / 1024 if hwm else None, "peak_procs": sampler.peak_procs,
        "queue_max": max((n for _, n in sampler.queue), default=None),
        "queue_trace": sampler.queue, "load": f"{load0} -> {load1}",
        "busy": busy1 - busy0,
    }
    r["others"] = r["busy"] - r["cpu"] - r["source_cpu"] - r["sink_cpu"]
    log(f"  {kind} {size} B: {r['rate']:.0f} msg/s end to end ({r['elapsed']:.2f} s); "
        f"accepted all in {r['accept_elapsed']:.2f} s ({r['accept_rate']:.0f} msg/s); "
        f"MTA CPU {r['cpu']:.2f} s = {r['cpu_per_1000']:.2f} s/1000 msg; "
        f"smtp-source CPU {r['source_cpu']:.2f} s, smtp-sink CPU {r['sink_cpu']:.2f} s; "
        f"peak RSS {r['peak_rss_mb']:.1f} MB (PSS {r['peak_pss_mb']:.1f} MB, "
        f"{r['peak_procs']} processes)"
        + (f", VmHWM {r['vmhwm_mb']:.1f} MB" if hwm else "")
        + f"; queue max {r['queue_max']}; load {r['load']}; machine busy "
        f"{r['busy']:.2f} CPU-s of {os.cpu_count() * r['elapsed']:.2f}"
        f" available, {r['others']:.2f} of it neither MTA, source nor sink")
    tcp1 = tcp_counters()
    waits = {k[6:] if k.startswith("TcpExt") else k: tcp1[k] - tcp0.get(k, 0)
             for k in tcp1 if tcp1[k] - tcp0.get(k, 0)}
    segs = waits.pop("TcpOutSegs", 0)
    acks = waits.pop("TCPPureAcks", 0)
    log("  TCP counters during the run (nstat): " +
        (", ".join(f"{k} {v}" for k, v in waits.items()) or "none moved"))
    # Every segment on loopback is sent and received on this machine, mostly on the
    # sender's CPU: the count a message says how much of the kernel time is TCP's.
    log(f"  TCP segments a message, all processes: {segs / n_msgs:.2f} "
        f"(pure ACKs received {acks / n_msgs:.2f})")
    log("  queue length every 1 s (t, messages): " +
        " ".join(f"{t}:{n}" for t, n in sampler.queue))
    return r


TCP_COUNTERS = ("TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPReqQFullDrop",
                "TcpRetransSegs", "TcpExtTCPTimeouts", "TcpOutSegs", "TcpExtTCPPureAcks")


def tcp_counters():
    """This namespace's TCP counters that say connections waited: accept-queue overflows
    and drops (a SYN then waits for its 1 s retransmission), retransmissions."""
    try:
        out = subprocess.run(["nstat", "-az", *TCP_COUNTERS], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {f[0]: int(f[1]) for f in (l.split() for l in out.splitlines())
            if len(f) >= 2 and f[0] in TCP_COUNTERS}


def part(total, n, i):
    """The i-th of n near-equal parts of total."""
    return total // n + (1 if i < total % n else 0)


def syscall_report(kind, size, path, n_msgs):
    """System calls and context switches of the whole machine during the run, per
    message (from perf stat's CSV: count,unit,event,...)."""
    rows = []
    for line in open(path):
        f = line.strip().split(",")
        if len(f) >= 3 and f[0].isdigit() and int(f[0]) > 0:
            rows.append((int(f[0]), f[2].replace("syscalls:sys_enter_", "")))
    rows.sort(reverse=True)
    total = sum(n for n, e in rows if e != "context-switches")
    log(f"  perf stat -a, {kind} {size} B, per message ({n_msgs} messages; whole machine: "
        f"MTA, source and sink): system calls {total / n_msgs:.2f}")
    log("    " + ", ".join(f"{e} {n / n_msgs:.2f}" for n, e in rows if n / n_msgs >= 0.05))


def perf_report(kind, size, data, pid):
    """Where the CPU went during the run: by command (every process on the machine),
    then the MTA's hottest functions (self time; postern: its pid; Postfix: its
    daemons' commands)."""
    base = ["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "0.5"]
    by_comm = run(base + ["--sort", "comm", "-g", "none"])
    log(f"  perf, {kind} {size} B, CPU samples by command (whole machine):")
    log("".join("    " + l + "\n" for l in by_comm.splitlines() if l and not l.startswith("#")))
    if kind == "postern":
        sel = ["--pid", str(pid)]
    elif kind == "exim":
        sel = ["--comms", "exim4"]
    elif kind.startswith("opensmtpd"):
        sel = ["--comms", "smtpd"]
    else:
        sel = ["--comms", "smtpd,cleanup,qmgr,smtp,trivial-rewrite,master,postlogd,anvil,proxymap,tlsmgr,scache"]
    top = run(base + sel + ["--sort", "dso,sym", "-g", "none"])
    log(f"  perf, {kind} {size} B, the MTA's functions (self time):")
    log("".join("    " + l + "\n" for l in top.splitlines()[:70] if l and not l.startswith("#")))


def latency(kind, size, base, binary):
    n_lat = messages_for(kind, LAT_MESSAGES, PEER_LAT_MESSAGES, LAT_SESSIONS)
    work = tempfile.mkdtemp(prefix=f"{kind}-{size}-lat-", dir=base)
    os.chmod(work, 0o755)
    log(f"\n== acceptance latency: {kind}, {n_lat} messages of {size} bytes, "
        f"{LAT_SESSIONS} connections (load {loadavg()})")
    mta = make_mta(kind, work, binary)
    sink = Sink(work, n_lat)
    mta.start()
    time.sleep(1.0)
    load0 = loadavg()
    cmd = [sys.executable, os.path.join(HERE, "client.py"), "--port", str(MTA_PORT),
           "--messages", str(n_lat), "--sessions", str(LAT_SESSIONS),
           "--size", str(size), "--json"]
    deadline = time.monotonic() + RUN_DEADLINE
    show(cmd)
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=RUN_DEADLINE)
    except subprocess.TimeoutExpired:
        raise Fail(f"client.py did not finish within {RUN_DEADLINE} s") from None
    if r.returncode != 0:
        # An MTA that lets connections time out (client.py waits 30 s) has no p99 to
        # give: say so and go on with the other runs instead of failing them all.
        log(f"  {kind} {size} B: latency run failed, no p99 recorded: client.py exited "
            f"{r.returncode}: {r.stderr.strip()[-500:]}")
        mta.stop()
        return None
    res = json.loads(r.stdout)
    sink.wait(deadline)
    load1 = loadavg()
    mta.stop()
    res.update(mta=kind, size=size, load=f"{load0} -> {load1}")
    log(f"  {kind} {size} B: MAIL..250 p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms, "
        f"max {res['max_ms']:.1f} ms (connect..250 p50 {res['conn_p50_ms']:.2f} ms, p99 "
        f"{res['conn_p99_ms']:.2f} ms); {res['rate']:.0f} msg/s offered; load {res['load']}")
    return res


def main():
    for tool in (SINK_BIN or SINK, SOURCE, "/usr/sbin/postfix"):
        if not os.access(tool, os.X_OK):
            raise Fail(f"{tool} missing (run ../shared/tools/install-peers.sh)")
    for kind, tool in (("exim", EXIM), ("opensmtpd", SMTPD), ("opensmtpd-sync", SMTPD)):
        if kind in MTAS and not os.access(tool, os.X_OK):
            raise Fail(f"{tool} missing (run scripts/bench-relay/install-peers.sh {PEERS})")
    built = os.environ.get("POSTERN_BIN") or os.path.join(ROOT, "target", "dist", "postern")
    if ("postern" in MTAS or "postern-pg3" in MTAS) and not os.access(built, os.X_OK):
        raise Fail(f"{built} missing (cargo build --profile dist --bin postern)")
    base = tempfile.mkdtemp(prefix="postern-bench-relay-")
    os.chmod(base, 0o755)  # Postfix's daemons (user postfix) must reach the queue below it
    binary = os.path.join(base, "postern")
    if "postern" in MTAS or "postern-pg3" in MTAS:
        shutil.copy2(built, binary)  # a rebuild during the run must not change what runs
    log(f"bench-relay: sink {SINK_BIN or SINK} {' '.join(SINK_ARGS) if SINK_BIN else ''}")
    log(f"bench-relay: MESSAGES={MESSAGES} SESSIONS={SESSIONS} SIZES={SIZES} MTAS={MTAS} "
        f"LAT_MESSAGES={LAT_MESSAGES} LAT_SESSIONS={LAT_SESSIONS} SOURCE_OPTS={SOURCE_OPTS} "
        f"RUN_DEADLINE={RUN_DEADLINE}s; work dir {base}; {os.cpu_count()} CPUs; "
        f"load {loadavg()}")
    log(f"postern {built} ({time.ctime(os.path.getmtime(built))}); peers in {PEERS}; "
        f"Postfix {run(['postconf', '-h', 'mail_version']).strip()}")
    results, lats = [], []
    try:
        for size in SIZES:
            for kind in MTAS:
                wait_port_free(MTA_PORT)
                wait_port_free(SINK_PORT)
                results.append(throughput(kind, size, base, binary))
                cleanup_procs()
            if LAT_MESSAGES > 0:
                for kind in MTAS:
                    wait_port_free(MTA_PORT)
                    wait_port_free(SINK_PORT)
                    lat = latency(kind, size, base, binary)
                    if lat is not None:
                        lats.append(lat)
                    cleanup_procs()
    finally:
        cleanup_procs()
        if KEEP:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    log("\n== summary (load = 1/5/15-min load average at start -> end of each run)")
    log("| MTA | size | msg/s end to end | accept msg/s | MTA CPU s/1000 msg | "
        "source CPU s | sink CPU s | peak RSS MB (PSS) | queue max | load | other CPU s |")
    log("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        log(f"| {r['mta']} | {r['size']} | {r['rate']:,.0f} | {r['accept_rate']:,.0f} | "
            f"{r['cpu_per_1000']:.2f} | {r['source_cpu']:.2f} | {r['sink_cpu']:.2f} | "
            f"{r['peak_rss_mb']:.1f} ({r['peak_pss_mb']:.1f}) | {r['queue_max']} | {r['load']} | "
            f"{r['others']:.2f} of {os.cpu_count() * r['elapsed']:.1f} |")
    if lats:
        log("\n| MTA | size | MAIL..250 p50 ms | p99 ms | max ms | connect..250 p50 / p99 ms | load |")
        log("|---|---|---|---|---|---|---|")
        for r in lats:
            log(f"| {r['mta']} | {r['size']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['max_ms']:.1f} | {r['conn_p50_ms']:.2f} / {r['conn_p99_ms']:.2f} | {r['load']} |")
    # Postern's ratio to each peer and to the fastest peer, per size (the last lines).
    ratio = None
    for size in SIZES:
        by = {r["mta"]: r for r in results if r["size"] == size}
        if "postern" in by and "postfix" in by:
            x = by["postern"]["rate"] / by["postfix"]["rate"]
            c = by["postfix"]["cpu_per_1000"] / by["postern"]["cpu_per_1000"]
            log(f"(CPU per message, {size} B: postfix/postern {c:.2f})")
            if ratio is None:
                ratio = x
    if ratio is not None:
        log(f"postern/postfix throughput ratio: {ratio:.2f}")
    for size in SIZES:
        by = {r["mta"]: r for r in results if r["size"] == size}
        peers = [k for k in MTAS if k != "postern" and k in by]
        if "postern" not in by or not peers:
            continue
        for k in peers:
            log(f"postern/{k} throughput ratio ({size} B): "
                f"{by['postern']['rate'] / by[k]['rate']:.2f}")
        best = max(peers, key=lambda k: by[k]["rate"])
        log(f"(fastest peer at {size} B: {best})")
    for size in SIZES:
        by = {r["mta"]: r for r in results if r["size"] == size}
        peers = [k for k in MTAS if k != "postern" and k in by]
        if "postern" in by and peers:
            best = max(by[k]["rate"] for k in peers)
            log(f"postern/best-peer throughput ratio ({size} B): "
                f"{by['postern']['rate'] / best:.2f}")


def cleanup_procs():
    while procs:
        p, name = procs.pop()
        if p.returncode is None and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    # An MTA left running by a failed run (Postfix daemonizes: stop it through its master).
    while live_mtas:
        live_mtas[-1].stop()


live_mtas = []  # started and not yet stopped


def on_signal(sig, _frame):
    raise SystemExit(f"interrupted by signal {sig}")


if __name__ == "__main__":
    # cluster.py imports this module as `bench`: let it find this one, not a second copy.
    sys.modules["bench"] = sys.modules["__main__"]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        main()
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
