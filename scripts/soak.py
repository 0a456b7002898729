#!/usr/bin/env python3
"""Soak test of a running gateway (issue 14 point 3). Run through scripts/soak.sh.

For MINUTES minutes, clients offer mail at a fixed RATE (messages per second) to
`postern serve`, which relays it to a recording SMTP sink. The sink goes away for
SINK_DOWN seconds every SINK_CYCLE seconds, `postern reload` runs every RELOAD_EVERY
seconds, and one message in DEAD_EVERY goes to a domain whose host accepts TCP and
never answers (it fails at its time-out, 5 min here, with a notice to the sender). Every
SAMPLE seconds it records the gateway's RSS, open fds, spool bytes (files, and live
bytes from the admin API's status), queue length and tracking-log bytes.

Accounting. A message is *accepted* when the gateway answered 250 to its data. A message
refused with a 4xx (while the sink is away the gateway may answer RCPT with 451 until
issue 14 point 2 is merged) or cut off is *refused*, not lost: the sender keeps it and
offers it again later with the same Message-ID, as a real client would. After the last
offer the sink stays up and the gateway drains its queue; an accepted message for the
answering domain that never reached the sink is *lost*. Duplicates (at-least-once) are
counted apart.

Drift: mean RSS (fds) over the last quarter of the samples against the mean over the
second quarter (the first quarter is warm-up), in percent.

Writes soak.csv, soak.png (gnuplot) and gateway.log into OUT and ends with one line:
soak: N accepted, N delivered, 0 lost, rss max X MB (drift Y%), fds max Z, spool max W MB
Exit status 1 if anything was lost.
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An SMTP server recording the Message-ID of every message it accepts; it can be
    taken down (listener closed, open sessions cut) and brought back on the same port."""

    def __init__(self):
        self.ids = []
        self.notices = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.writers = set()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def handle(self, reader, writer):
        self.writers.add(writer)
        writer.write(b"220 sink.test ESMTP\r\n")
        try:
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-sink.test\r\n250 PIPELINING\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go\r\n")
                    await writer.drain()
                    mid = None
                    while True:
                        l = await reader.readline()
                        if not l:
                            return
                        if l == b".\r\n":
                            break
                        if mid is None and l.lower().startswith(b"message-id:"):
                            mid = l.split(b":", 1)[1].strip().decode(errors="replace")
                    with self.lock:
                        if mid and "@soak.test" in mid:
                            self.ids.append(mid)
                        else:
                            self.notices += 1
                    writer.write(b"250 2.0.0 Ok\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    return
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.writers.discard(writer)
            writer.close()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def up(self):
        async def start():
            self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.port,
                                                     reuse_address=True)
        self._call(start())

    def down(self):
        async def stop():
            self.server.close()
            for w in list(self.writers):
                w.transport.abort()
            await self.server.wait_closed()
        self._call(stop())


class BlackHole:
    """Accepts TCP connections and never says anything: the domain that never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            c, _ = self.sock.accept()
            self.held.append(c)
            # Keep only the recent ones open; the gateway's time-out closes its side.
            if len(self.held) > 200:
                self.held.pop(0).close()


class Sender:
    """Offers messages at a fixed rate over a few connections. Each message has a unique
    Message-ID; a refused one is offered again later, so none is dropped by the sender."""

    def __init__(self, port, rate, dead_every, clients):
        self.port = port
        self.rate = rate
        self.dead_every = dead_every
        self.clients = clients
        self.lock = threading.Lock()
        self.next_n = 0
        self.retry = []  # (not before, n)
        self.accepted = {}  # mid -> domain
        self.refused = {"remote.test": 0, "never.test": 0}  # 4xx or cut off: offered again
        self.rejected = 0  # 5xx answers (a defect here: every address routes)
        self.stop = threading.Event()
        self.t0 = None

    def take(self):
        """The next message to offer: a due retry, else a new one when its time has come;
        None when nothing is due yet."""
        with self.lock:
            now = time.time()
            if self.retry and self.retry[0][0] <= now:
                return self.retry.pop(0)[1]
            if self.next_n < (now - self.t0) * self.rate:
                self.next_n += 1
                return self.next_n
            return None

    def again(self, n):
        with self.lock:
            self.refused[self.domain(n)] += 1
            self.retry.append((time.time() + 5, n))

    def waiting(self, domain):
        """Messages for `domain` the sender still holds (refused, to be offered again)."""
        return sum(1 for _, n in self.retry if self.domain(n) == domain)

    def domain(self, n):
        return "never.test" if n % self.dead_every == 0 else "remote.test"

    def run_client(self, cid):
        body_pad = ("The soak test offers this line again and again.\r\n" * 40)
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            except OSError:
                time.sleep(0.1)
                continue
            f = s.makefile("rb")

            def reply():
                while True:
                    l = f.readline()
                    if not l:
                        raise ConnectionError("closed")
                    if l[3:4] != b"-":
                        return l

            n = None
            try:
                if not reply().startswith(b"220"):
                    raise ConnectionError("no greeting")
                s.sendall(b"EHLO soak.test\r\n")
                reply()
                sent_here = 0
                while not self.stop.is_set() and sent_here < 100:
                    n = self.take()
                    if n is None:
                        time.sleep(0.002)
                        continue
                    mid = f"<{n}@soak.test>"
                    dom = self.domain(n)
                    s.sendall(f"MAIL FROM:<load@sender.test>\r\nRCPT TO:<box@{dom}>\r\n".encode())
                    r1, r2 = reply(), reply()
                    if not (r1.startswith(b"250") and r2.startswith(b"250")):
                        s.sendall(b"RSET\r\n")
                        reply()
                        if r1[:1] == b"5" or r2[:1] == b"5":
                            with self.lock:
                                self.rejected += 1
                        self.again(n)
                        n = None
                        continue
                    s.sendall(b"DATA\r\n")
                    if not reply().startswith(b"354"):
                        raise ConnectionError("no 354")
                    msg = (f"Message-ID: {mid}\r\nFrom: load@sender.test\r\nTo: box@{dom}\r\n"
                           f"Subject: soak {n}\r\n\r\n{body_pad}.\r\n")
                    s.sendall(msg.encode())
                    if reply().startswith(b"250"):
                        with self.lock:
                            self.accepted[mid] = dom
                    else:
                        self.again(n)
                    n = None
                    sent_here += 1
                s.sendall(b"QUIT\r\n")
            except (OSError, ConnectionError):
                if n is not None:
                    self.again(n)
            finally:
                s.close()

    def start(self):
        self.t0 = time.time()
        for i in range(self.clients):
            threading.Thread(target=self.run_client, args=(i,), daemon=True).start()


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def status(data):
    """The gateway's status document, from its admin API (address in DATA/admin.address)."""
    import urllib.request
    try:
        with open(os.path.join(data, "admin.address")) as f:
            addr = f.read().strip()
        with urllib.request.urlopen(f"http://{addr}/api/v1/status", timeout=5) as r:
            return json.load(r)
    except (OSError, ValueError):
        return {}


def drift(values):
    """Last quarter's mean against the second quarter's, in percent."""
    q = len(values) // 4
    if q == 0:
        return 0.0
    base = sum(values[q:2 * q]) / q
    last = sum(values[-q:]) / q
    return 100.0 * (last - base) / base if base else 0.0


def plot(csv, png, title):
    script = f"""
set terminal pngcairo size 900,1000 font ",9"
set output "{png}"
set datafile separator ","
set key autotitle columnhead left top
set multiplot layout 5,1 title "{title}"
set xlabel ""
set grid
set ylabel "RSS MB"
plot "{csv}" using ($1/60):($2/1024) with lines lw 1.5 title "RSS (MB)"
set ylabel "open fds"
plot "{csv}" using ($1/60):3 with lines lw 1.5 title "open fds"
set ylabel "spool MB"
plot "{csv}" using ($1/60):($4/1048576) with lines lw 1.5 title "spool files (MB)", \
     "{csv}" using ($1/60):($5/1048576) with lines lw 1.5 title "live (MB)"
set ylabel "queue"
plot "{csv}" using ($1/60):6 with lines lw 1.5 title "queued messages"
set ylabel "tracking MB"
set xlabel "minutes"
plot "{csv}" using ($1/60):($7/1048576) with lines lw 1.5 title "tracking log (MB)"
unset multiplot
"""
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"soak: no plot: {e}", file=sys.stderr)
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("postern")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--sample", type=float, default=5)
    ap.add_argument("--sink-cycle", type=float, default=180)
    ap.add_argument("--sink-down", type=float, default=45)
    ap.add_argument("--reload-every", type=float, default=120)
    ap.add_argument("--dead-every", type=int, default=100)
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="postern-soak-")
    data = os.path.join(work, "data")
    sink, hole = Sink(), BlackHole()
    sink.up()
    port = free_port()
    config = os.path.join(work, "postern.toml")
    with open(config, "w") as c:
        c.write(f"""[server]
hostname = "gw.soak.test"
data_dir = "{data}"
[connections]
listen = ["127.0.0.1:{port}"]
max_connections_per_ip = 100
[security]
relay_networks = ["127.0.0.1/32"]
[timeouts]
connect_secs = 5
greeting_secs = 10
[retry]
intervals = ["10s"]
backoff_first = "2s"
backoff_max = "10s"
normal_timeout = "5m"
[[connector]]
name = "out"
smart_hosts = ["127.0.0.1:{sink.port}"]
  [[connector.address_space]]
  pattern = "remote.test"
  [[connector.address_space]]
  pattern = "sender.test"
[[connector]]
name = "dead"
smart_hosts = ["127.0.0.1:{hole.port}"]
  [[connector.address_space]]
  pattern = "never.test"
""")
    log = open(os.path.join(a.out, "gateway.log"), "wb")
    gw = subprocess.Popen([a.postern, "serve", "--grace", "5", "-c", config],
                          stdout=subprocess.DEVNULL, stderr=log)
    end = time.time() + 15
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        sys.exit("FAIL: the gateway did not start")

    sender = Sender(port, a.rate, a.dead_every, a.clients)
    sender.start()
    t0 = time.time()
    stop_at = t0 + a.minutes * 60
    csv_path = os.path.join(a.out, "soak.csv")
    csv = open(csv_path, "w")
    csv.write("secs,rss_kb,fds,spool_bytes,spool_live_bytes,queue,tracking_bytes,"
              "accepted,delivered,sink_up\n")
    samples = []
    next_sample = next_reload = t0
    next_reload += a.reload_every
    sink_is_up, next_sink = True, t0 + a.sink_cycle - a.sink_down
    reloads = reload_fail = sink_outages = 0

    def sample(now):
        st = status(data)
        q = st.get("queue", {}).get("messages", -1)
        live = st.get("spool", {}).get("live_bytes", -1)
        with sender.lock:
            acc = len(sender.accepted)
        with sink.lock:
            got = len(set(sink.ids))
        row = (round(now - t0, 1), rss_kb(gw.pid), fd_count(gw.pid),
               dir_bytes(os.path.join(data, "spool", "seg")), live, q,
               dir_bytes(os.path.join(data, "tracking")), acc, got, int(sink_is_up))
        samples.append(row)
        csv.write(",".join(str(v) for v in row) + "\n")
        csv.flush()

    while time.time() < stop_at:
        now = time.time()
        if now >= next_sample:
            sample(now)
            next_sample += a.sample
        if now >= next_sink:
            if sink_is_up:
                sink.down()
                sink_outages += 1
                next_sink = now + a.sink_down
            else:
                sink.up()
                next_sink = now + a.sink_cycle - a.sink_down
            sink_is_up = not sink_is_up
        if now >= next_reload:
            r = subprocess.run([a.postern, "reload", "--data", data],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            reloads += 1
            reload_fail += r.returncode != 0
            next_reload += a.reload_every
        if gw.poll() is not None:
            sys.exit(f"FAIL: the gateway exited with {gw.returncode}")
        time.sleep(0.1)

    # Stop offering new mail; refused messages are still offered until accepted.
    with sender.lock:
        sender.rate = 0
        last_n = sender.next_n
    if not sink_is_up:
        sink.up()
        sink_is_up = True
    drain_end = time.time() + 180
    while time.time() < drain_end:
        with sender.lock:
            pending = sender.waiting("remote.test")
            accepted = dict(sender.accepted)
        with sink.lock:
            got = set(sink.ids)
        if pending == 0 and all(m in got for m, d in accepted.items() if d == "remote.test"):
            break
        if time.time() >= next_sample:
            sample(time.time())
            next_sample += a.sample
        time.sleep(0.2)
    sender.stop.set()
    sample(time.time())
    gw.send_signal(signal.SIGTERM)
    code = gw.wait(timeout=60)
    csv.close()

    with sender.lock:
        accepted = dict(sender.accepted)
        refused, rejected = dict(sender.refused), sender.rejected
        unsent = {d: sender.waiting(d) for d in refused}
    with sink.lock:
        ids, notices = list(sink.ids), sink.notices
    got = set(ids)
    live_acc = [m for m, d in accepted.items() if d == "remote.test"]
    dead_acc = [m for m, d in accepted.items() if d == "never.test"]
    delivered = [m for m in live_acc if m in got]
    lost = [m for m in live_acc if m not in got]
    dups = len(ids) - len(got)
    rss = [s[1] for s in samples]
    fds = [s[2] for s in samples]
    spool_max = max(s[3] for s in samples)
    live_max = max(s[4] for s in samples)
    rss_max, fds_max = max(rss) / 1024, max(fds)
    minutes = (samples[-1][0]) / 60
    print(f"soak: {minutes:.1f} min at {a.rate:g} msg/s offered ({last_n} messages), "
          f"{sink_outages} sink outages of {a.sink_down:g} s, {reloads} reloads "
          f"({reload_fail} failed), {len(samples)} samples")
    print(f"soak: remote.test: {refused['remote.test']} refusals (4xx or cut off) offered "
          f"again by the sender, not lost; {unsent['remote.test']} still held by the sender "
          f"at the end; {dups} duplicate deliveries; {rejected} 5xx in all")
    print(f"soak: never.test: {len(dead_acc)} accepted (they fail at the 5 min time-out "
          f"with a notice; {notices} notices reached the sender's domain), "
          f"{refused['never.test']} refusals offered again, {unsent['never.test']} still "
          f"held by the sender (451 while its connector is down: issue 14 point 2)")
    print(f"soak: rss drift {drift(rss):+.1f}%, fds drift {drift(fds):+.1f}%, "
          f"live spool max {live_max / 1048576:.1f} MB; gateway exit {code}")
    title = (f"postern soak: {minutes:.0f} min, {a.rate:g} msg/s, sink away {a.sink_down:g} s "
             f"every {a.sink_cycle:g} s, reload every {a.reload_every:g} s")
    if plot(csv_path, os.path.join(a.out, "soak.png"), title):
        print(f"soak: plot {os.path.join(a.out, 'soak.png')}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"soak: {len(live_acc)} accepted, {len(delivered)} delivered, {len(lost)} lost, "
          f"rss max {rss_max:.1f} MB (drift {drift(rss):+.1f}%), fds max {fds_max}, "
          f"spool max {spool_max / 1048576:.1f} MB")
    if lost or code != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
