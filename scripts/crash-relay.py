#!/usr/bin/env python3
"""Crash safety of the gateway under load (issue 9, point 2).

Clients send mail through `postern serve` (relaying to a recording SMTP sink) while this
script kills the gateway with SIGKILL at random moments and restarts it, KILLS times. At
the end the gateway drains its queue, and every message a client saw acknowledged with
250 must have reached the sink. Duplicates (at-least-once) are counted separately; any
loss fails the run.

Usage: crash-relay.py POSTERN_BINARY [--kills N] [--clients N] [--seed S]
"""
import argparse
import asyncio
import os
import random
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
    """A minimal SMTP server recording the Message-ID of every accepted message."""

    def __init__(self):
        self.ids = []
        self.lock = threading.Lock()
        self.port = free_port()

    async def handle(self, reader, writer):
        writer.write(b"220 sink.test ESMTP\r\n")
        await writer.drain()
        try:
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
                        if not l or l == b".\r\n":
                            break
                        if mid is None and l.lower().startswith(b"message-id:"):
                            mid = l.split(b":", 1)[1].strip().decode()
                    with self.lock:
                        self.ids.append(mid)
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
            writer.close()

    def run(self):
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(asyncio.start_server(self.handle, "127.0.0.1", self.port))
        threading.Thread(target=loop.run_forever, daemon=True).start()
        return server


def client(port, cid, acked, lock, stop):
    """Sends messages until `stop`; records the Message-IDs answered 250 to the data."""
    n = 0
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            time.sleep(0.02)
            continue
        f = s.makefile("rb")

        def reply():
            while True:
                l = f.readline()
                if not l:
                    raise ConnectionError("closed")
                if l[3:4] != b"-":
                    return l

        try:
            if not reply().startswith(b"220"):
                raise ConnectionError("no greeting")
            s.sendall(b"EHLO load.test\r\n")
            reply()
            while not stop.is_set():
                n += 1
                mid = f"<c{cid}-{n}@load.test>"
                s.sendall(b"MAIL FROM:<load@load.test>\r\nRCPT TO:<box@remote.test>\r\nDATA\r\n")
                if not reply().startswith(b"250") or not reply().startswith(b"250"):
                    raise ConnectionError("refused")
                if not reply().startswith(b"354"):
                    raise ConnectionError("no 354")
                body = f"Message-ID: {mid}\r\nSubject: crash test\r\n\r\n" + "x" * 200 + "\r\n.\r\n"
                s.sendall(body.encode())
                if reply().startswith(b"250"):
                    with lock:
                        acked.append(mid)
        except (OSError, ConnectionError):
            pass
        finally:
            s.close()


def start_gateway(binary, config, log):
    p = subprocess.Popen([binary, "serve", "--grace", "2", "-c", config],
                         stdout=subprocess.DEVNULL, stderr=log)
    return p


def wait_port(port, deadline=10):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("postern")
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="postern-crash-")
    sink = Sink()
    sink.run()
    port = free_port()
    config = os.path.join(work, "postern.toml")
    with open(config, "w") as c:
        c.write(f"""[server]
hostname = "gw.test"
data_dir = "{work}/data"
[connections]
listen = ["127.0.0.1:{port}"]
[security]
relay_networks = ["127.0.0.1/32"]
[retry]
intervals = ["1s"]
backoff_first = "200ms"
backoff_max = "1s"
poll_interval = "100ms"
[[connector]]
name = "out"
smart_hosts = ["127.0.0.1:{sink.port}"]
  [[connector.address_space]]
  pattern = "remote.test"
""")
    log = open(os.path.join(work, "gateway.log"), "wb")
    gw = start_gateway(a.postern, config, log)
    if not wait_port(port):
        sys.exit("FAIL: the gateway did not start")
    acked, lock, stop = [], threading.Lock(), threading.Event()
    threads = [threading.Thread(target=client, args=(port, i, acked, lock, stop), daemon=True)
               for i in range(a.clients)]
    for t in threads:
        t.start()
    t0 = time.time()
    for k in range(a.kills):
        time.sleep(rng.uniform(0.05, 0.5))
        gw.send_signal(signal.SIGKILL)
        gw.wait()
        gw = start_gateway(a.postern, config, log)
        if not wait_port(port):
            sys.exit(f"FAIL: the gateway did not restart after kill {k + 1}")
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    load_secs = time.time() - t0
    with lock:
        acked_ids = list(acked)
    # Let the gateway drain its queue into the sink.
    end = time.time() + 120
    while time.time() < end:
        with sink.lock:
            got = set(sink.ids)
        if all(m in got for m in acked_ids):
            break
        time.sleep(0.2)
    gw.send_signal(signal.SIGTERM)
    code = gw.wait(timeout=30)
    with sink.lock:
        ids = list(sink.ids)
    got = set(ids)
    lost = [m for m in acked_ids if m not in got]
    dups = len(ids) - len(got)
    print(f"seed {a.seed}: {a.kills} SIGKILLs in {load_secs:.1f} s, {a.clients} clients; "
          f"{len(acked_ids)} acknowledged, {len(got)} distinct delivered "
          f"({len(got) - len(set(acked_ids) & got)} delivered without a 250 seen by the client), "
          f"{dups} duplicate deliveries, {len(lost)} lost; exit after SIGTERM {code}")
    if lost:
        print("FAIL: lost:", lost[:20])
        sys.exit(1)
    if code != 0:
        print("FAIL: the gateway did not stop cleanly")
        sys.exit(1)
    print("crash-relay: zero lost")


if __name__ == "__main__":
    main()
