#!/usr/bin/env python3
"""Acceptance latency of an SMTP server: SESSIONS threads, each sending its share of
MESSAGES, one connection per message (as smtp-source does without -d), no pipelining.
Per message it times MAIL FROM .. the reply to the end of DATA (the "250 after DATA"),
and connect .. that reply. The message (headers + SIZE bytes of 78-character lines,
already CRLF and dot-safe) is built once, so the client does no per-message work beyond
the socket calls. Prints percentiles (text, or --json)."""
import argparse
import json
import socket
import sys
import threading
import time


def reply(sock, buf):
    """Reads one (possibly multi-line) reply; returns (code, rest-of-buffer)."""
    while True:
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            if len(line) < 3:
                raise RuntimeError(f"bad reply line {line!r}")
            if line[3:4] != b"-":
                return int(line[:3]), buf
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed while waiting for a reply")
        buf += chunk


def message(size):
    head = (b"From: <sender@client.bench.test>\r\nTo: <rcpt@dest.bench.test>\r\n"
            b"Subject: latency probe\r\nMessage-ID: <%d@client.bench.test>\r\n\r\n" % time.time_ns())
    line = b"x" * 76 + b"\r\n"
    body = line * (size // len(line)) + b"y" * (size % len(line)) + b"\r\n"
    return head + body + b".\r\n"


def worker(port, count, data, out, errors):
    for _ in range(count):
        try:
            tc = time.perf_counter()
            s = socket.create_connection(("127.0.0.1", port), 30)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            code, buf = reply(s, buf)
            assert code == 220, code
            s.sendall(b"EHLO client.bench.test\r\n")
            code, buf = reply(s, buf)
            assert code == 250, code
            t0 = time.perf_counter()
            for cmd, want in ((b"MAIL FROM:<sender@client.bench.test>\r\n", 250),
                              (b"RCPT TO:<rcpt@dest.bench.test>\r\n", 250),
                              (b"DATA\r\n", 354)):
                s.sendall(cmd)
                code, buf = reply(s, buf)
                if code != want:
                    raise RuntimeError(f"{cmd!r} -> {code}")
            s.sendall(data)
            code, buf = reply(s, buf)
            t1 = time.perf_counter()
            if code != 250:
                raise RuntimeError(f"end of data -> {code}")
            out.append((t1 - t0, t1 - tc))
            s.sendall(b"QUIT\r\n")
            try:
                reply(s, buf)
            except (RuntimeError, OSError):
                pass
            s.close()
        except Exception as e:  # noqa: BLE001 - counted and reported
            errors.append(repr(e))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    data = message(a.size)
    out, errors = [], []
    per = [a.messages // a.sessions + (1 if i < a.messages % a.sessions else 0)
           for i in range(a.sessions)]
    start = time.perf_counter()
    ths = [threading.Thread(target=worker, args=(a.port, n, data, out, errors)) for n in per]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        print(f"{len(errors)} message(s) failed, first: {errors[0]}", file=sys.stderr)
        sys.exit(1)
    lat = [x for x, _ in out]
    conn = [y for _, y in out]
    res = {"messages": len(out), "wall_s": wall, "rate": len(out) / wall,
           "p50_ms": pct(lat, 50) * 1e3, "p90_ms": pct(lat, 90) * 1e3,
           "p99_ms": pct(lat, 99) * 1e3, "max_ms": max(lat) * 1e3,
           "conn_p50_ms": pct(conn, 50) * 1e3, "conn_p99_ms": pct(conn, 99) * 1e3}
    print(json.dumps(res) if a.json else
          " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()))


if __name__ == "__main__":
    main()
