#!/usr/bin/env python3
"""Slow and idle clients against `postern serve` (issue 9 point 4).

Run by scripts/slow-clients.sh inside ../shared/tools/netns-run (loopback only).

Phase 1 (capacity): max_connections and max_connections_per_ip raised to 2000. Opens
IDLE idle connections (greeted, then silent) and DRIP connections that send one byte a
second inside DATA, while a normal smtplib client sends 20 messages. Asserts each message
is accepted within MAX_MESSAGE_SECS, that the idle connections are still open, and reports
the gateway's VmRSS before/after and per idle connection.

Phase 2 (limits): a gateway with max_connections = 40, a short command time-out, and a
short min_data_rate window. Asserts that connections beyond the limit get `421 4.7.0`,
byte-a-second clients in DATA get `451 4.4.2` when the window passes, and idle clients
get `421 4.4.2` at the command time-out. Reports (without failing) what happens to a
client that drips a command line one byte a second.

Exits non-zero on any failed assertion.
"""

import argparse
import asyncio
import os
import resource
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Gateway:
    def __init__(self, postern, work, name, port, extra):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port
        self.config = os.path.join(self.dir, "postern.toml")
        with open(self.config, "w") as f:
            f.write(
                f"""[server]
hostname = "mx.test"
data_dir = "{self.dir}/data"

[tracking]
enabled = false

[[connector]]
name = "local"
kind = "maildir"
  [[connector.address_space]]
  pattern = "localhost"

{extra}
"""
            )
        self.err = open(os.path.join(self.dir, "gw.err"), "w")
        self.proc = subprocess.Popen(
            [postern, "serve", "-c", self.config],
            stdout=self.err,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.proc.pid

    async def ready(self):
        for _ in range(100):
            try:
                r, w = await asyncio.open_connection(HOST, self.port)
                await r.readline()
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise SystemExit(f"gateway on port {self.port} did not come up")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


async def read_reply(reader, timeout):
    """One (multi-line) reply as (code, text); (None, '') at EOF or reset."""
    text = ""
    while True:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        except (ConnectionError, OSError):
            return None, text
        if not line:
            return None, text
        line = line.decode("latin-1")
        text += line
        if len(line) < 4 or line[3] != "-":
            try:
                return int(line[:3]), text
            except ValueError:
                return None, text


async def command(reader, writer, line, timeout=10):
    writer.write(line.encode() + b"\r\n")
    await writer.drain()
    return await read_reply(reader, timeout)


class Conn:
    """A client connection and how it ended."""

    def __init__(self):
        self.reader = self.writer = None
        self.greeting = None
        self.end_code = None
        self.end_text = ""
        self.end_after = None
        self.started = None

    async def open(self, port, timeout=10):
        self.reader, self.writer = await asyncio.open_connection(HOST, port)
        self.greeting, text = await read_reply(self.reader, timeout)
        self.greeting_text = text
        self.started = time.monotonic()
        return self.greeting

    async def wait_end(self, timeout):
        """Reads until the server says something final and closes."""
        code, text = await read_reply(self.reader, timeout)
        self.end_code, self.end_text = code, text
        self.end_after = time.monotonic() - self.started

    def close(self):
        if self.writer:
            self.writer.close()


async def open_many(port, n, batch=100):
    conns = []
    for i in range(0, n, batch):
        group = [Conn() for _ in range(min(batch, n - i))]
        await asyncio.gather(*(c.open(port) for c in group))
        conns.extend(group)
    return conns


async def start_data(c, rcpt="slow@localhost"):
    for line, want in [
        ("EHLO drip.test", 250),
        ("MAIL FROM:<drip@example.com>", 250),
        (f"RCPT TO:<{rcpt}>", 250),
        ("DATA", 354),
    ]:
        code, text = await command(c.reader, c.writer, line)
        if code != want:
            raise RuntimeError(f"{line}: {text!r}")
    c.started = time.monotonic()


async def drip(c, stop, interval=1.0):
    """Sends one byte a second until `stop` is set or the server closes."""
    payload = b"Subject: slow\r\n\r\n" + b"x" * 100000
    i = 0
    while not stop.is_set():
        try:
            c.writer.write(payload[i : i + 1])
            await c.writer.drain()
        except (ConnectionError, OSError):
            return
        i += 1
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass


def normal_client(port, n, work):
    """smtplib, one connection, n messages: the time each took to be accepted."""
    times = []
    t0 = time.monotonic()
    s = smtplib.SMTP(HOST, port, timeout=30)
    connect = time.monotonic() - t0
    s.ehlo("normal.test")
    for i in range(n):
        msg = f"From: n@example.com\r\nTo: user@localhost\r\nSubject: normal {i}\r\n\r\nmessage {i}\r\n"
        t = time.monotonic()
        refused = s.sendmail("n@example.com", ["user@localhost"], msg)
        times.append(time.monotonic() - t)
        assert not refused, refused
    s.quit()
    return connect, times


async def phase1(args, work):
    print(f"== phase 1: {args.idle} idle + {args.drip} byte-a-second clients, "
          f"normal client sends {args.messages} messages", flush=True)
    gw = Gateway(args.postern, work, "phase1", args.port, f"""
[connections]
listen = ["{HOST}:{args.port}"]
max_connections = {args.idle + args.drip + 100}
max_connections_per_ip = {args.idle + args.drip + 100}
""")
    try:
        await gw.ready()
        # Warm up: one message, so the first-use allocations are in the baseline.
        await asyncio.to_thread(normal_client, args.port, 1, work)
        await asyncio.sleep(0.5)
        rss0, fd0 = rss_kib(gw.pid), fds(gw.pid)
        t = time.monotonic()
        idle = await open_many(args.port, args.idle)
        open_secs = time.monotonic() - t
        check(all(c.greeting == 220 for c in idle),
              f"{args.idle} idle connections greeted with 220 (opened in {open_secs:.2f} s)")
        await asyncio.sleep(1.0)
        rss1, fd1 = rss_kib(gw.pid), fds(gw.pid)

        drips = await open_many(args.port, args.drip)
        await asyncio.gather(*(start_data(c) for c in drips))
        stop = asyncio.Event()
        drip_tasks = [asyncio.create_task(drip(c, stop)) for c in drips]
        await asyncio.sleep(2.0)
        rss2 = rss_kib(gw.pid)

        connect, times = await asyncio.to_thread(normal_client, args.port, args.messages, work)
        rss3 = rss_kib(gw.pid)
        worst = max(times)
        check(connect < args.max_message_secs,
              f"normal client connected and greeted in {connect*1000:.1f} ms")
        check(len(times) == args.messages and worst < args.max_message_secs,
              f"{len(times)} messages accepted, each < {args.max_message_secs} s "
              f"(median {sorted(times)[len(times)//2]*1000:.1f} ms, worst {worst*1000:.1f} ms)")

        # Still open: the gateway has closed none of the idle connections.
        closed = 0
        for c in idle:
            try:
                data = await asyncio.wait_for(c.reader.read(1), 0.001)
                if data == b"":
                    closed += 1
            except asyncio.TimeoutError:
                pass
        check(closed == 0, f"all {args.idle} idle connections still open ({closed} closed)")
        stop.set()
        await asyncio.gather(*drip_tasks)
        for c in idle + drips:
            c.close()
        await asyncio.sleep(2.0)
        rss4 = rss_kib(gw.pid)
        per_conn = (rss1 - rss0) / args.idle
        print(f"gateway VmRSS: {rss0} KiB before, {rss1} KiB with {args.idle} idle "
              f"({per_conn:.1f} KiB per idle connection; fds {fd0} -> {fd1}), "
              f"{rss2} KiB with {args.drip} drips too, {rss3} KiB after the {args.messages} messages, "
              f"{rss4} KiB after all closed", flush=True)
        check(per_conn < 256, f"memory per idle connection {per_conn:.1f} KiB < 256 KiB")
        return dict(rss0=rss0, rss1=rss1, rss2=rss2, rss3=rss3, rss4=rss4,
                    per_conn=per_conn, median=sorted(times)[len(times)//2], worst=worst,
                    connect=connect)
    finally:
        gw.stop()


async def phase2(args, work):
    limit, cmd_secs, window = 40, 3, 3
    print(f"== phase 2: max_connections = {limit}, command_secs = {cmd_secs}, "
          f"min_data_rate = 100 B/s over {window} s", flush=True)
    gw = Gateway(args.postern, work, "phase2", args.port + 1, f"""
[connections]
listen = ["{HOST}:{args.port + 1}"]
max_connections = {limit}
max_connections_per_ip = {limit}

[timeouts]
command_secs = {cmd_secs}

[limits]
min_data_rate = 100
min_data_rate_window_secs = {window}
""")
    port = args.port + 1
    try:
        await gw.ready()
        await asyncio.sleep(0.3)  # the readiness probe's slot is free again
        n_drip, n_cmd_drip = 10, 5
        n_idle = limit - n_drip - n_cmd_drip
        conns = await open_many(port, limit)
        check(all(c.greeting == 220 for c in conns), f"{limit} connections greeted with 220")
        extra = []
        for _ in range(10):
            c = Conn()
            await c.open(port)
            extra.append(c)
        check(all(c.greeting == 421 and "4.7.0" in c.greeting_text for c in extra),
              f"10 connections beyond max_connections get 421 4.7.0: "
              f"{sorted(set(c.greeting_text.strip() for c in extra))}")
        for c in extra:
            c.close()

        drips, cmd_drips, idle = conns[:n_drip], conns[n_drip:n_drip + n_cmd_drip], conns[n_drip + n_cmd_drip:]
        await asyncio.gather(*(start_data(c) for c in drips))
        for c in idle:
            c.started = time.monotonic()
        stop = asyncio.Event()

        async def cmd_drip(c):
            # "NOOP\r\n" forever, one byte a second.
            c.started = time.monotonic()
            line = b"NOOP\r\n"
            i = 0
            while not stop.is_set():
                try:
                    c.writer.write(line[i % len(line):i % len(line) + 1])
                    await c.writer.drain()
                except (ConnectionError, OSError):
                    return
                i += 1
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass

        observe = 4 * cmd_secs

        async def cmd_watch(c):
            # Replies to the dripped NOOPs are 250s; anything else (or the end) ends it.
            deadline = c.started + observe
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    code, text = await asyncio.wait_for(read_reply(c.reader, left), left)
                except asyncio.TimeoutError:
                    return None
                if code != 250:
                    return (code, text.strip(), round(time.monotonic() - c.started, 1))

        tasks = [asyncio.create_task(drip(c, stop)) for c in drips]
        cmd_tasks = [asyncio.create_task(cmd_drip(c)) for c in cmd_drips]
        watches = [asyncio.create_task(cmd_watch(c)) for c in cmd_drips]
        await asyncio.gather(*(c.wait_end(window + cmd_secs + 10) for c in drips + idle))
        drip_ok = [c for c in drips if c.end_code == 451 and "4.4.2" in c.end_text]
        check(len(drip_ok) == n_drip,
              f"{n_drip} byte-a-second DATA clients cut off with 451 4.4.2 after "
              f"{min(c.end_after for c in drips):.1f}-{max(c.end_after for c in drips):.1f} s "
              f"(window {window} s): {sorted(set(c.end_text.strip() for c in drips))}")
        idle_ok = [c for c in idle if c.end_code == 421 and "4.4.2" in c.end_text]
        check(len(idle_ok) == n_idle,
              f"{n_idle} idle clients get 421 4.4.2 at the command time-out after "
              f"{min(c.end_after for c in idle):.1f}-{max(c.end_after for c in idle):.1f} s "
              f"(command_secs {cmd_secs}): {sorted(set(c.end_text.strip() for c in idle))}")
        # After the time-outs the slots are free again.
        c = Conn()
        await c.open(port)
        check(c.greeting == 220, "freed slots are usable again")
        c.close()

        # Observation: a command line dripped one byte a second.
        ended = await asyncio.gather(*watches)
        still = sum(1 for e in ended if e is None)
        got = [e for e in ended if e is not None]
        print(f"note: {still} of {n_cmd_drip} clients dripping 'NOOP' one byte a second "
              f"were still connected after {observe} s (command_secs {cmd_secs}); ended: {got}",
              flush=True)
        stop.set()
        await asyncio.gather(*tasks, *cmd_tasks)
        for c in conns:
            c.close()
        return dict(cmd_drip_alive=still, cmd_drip_total=n_cmd_drip, observe=observe)
    finally:
        gw.stop()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--postern", required=True)
    p.add_argument("--port", type=int, default=2525)
    p.add_argument("--idle", type=int, default=1000)
    p.add_argument("--drip", type=int, default=100)
    p.add_argument("--messages", type=int, default=20)
    p.add_argument("--max-message-secs", type=float, default=1.0)
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * (args.idle + args.drip) + 200
    print(f"RLIMIT_NOFILE {soft}/{hard} (need about {need} here and in the gateway)", flush=True)
    if soft < need:
        raise SystemExit(f"ulimit -n {soft} is too low; need {need}")
    with tempfile.TemporaryDirectory() as work:
        await phase1(args, work)
        await phase2(args, work)
    if failures:
        print(f"{len(failures)} assertion(s) failed", flush=True)
        sys.exit(1)
    print("all assertions passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
