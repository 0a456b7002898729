#!/usr/bin/env python3
"""A recording SMTP sink for scripts/cluster-sim.sh: accepts every message and appends its
Message-ID (one a line, as in the header) to OUT before answering 250 to the end of DATA.

Usage: sink.py PORT OUT [DELAY_MS]   (listens on 127.0.0.1:PORT until killed)

DELAY_MS (default 0) holds each 250 back after the recording, as a slow receiver does:
deliveries are then in flight (leased) long enough for a killed node to hold some.

Plain SMTP only (EHLO offers 8BITMIME and PIPELINING, no CHUNKING or STARTTLS), enough for
a relay delivering to it. Bounded: a line longer than MAX_LINE or a message larger than
MAX_MESSAGE ends the session with an error reply.
"""
import asyncio
import sys

MAX_LINE = 100_000
MAX_MESSAGE = 50 * 1024 * 1024


def message_id(lines):
    """The Message-ID header's value in the header lines (unfolded), or '-'."""
    for line in lines:
        if line in (b"\r\n", b"\n"):
            break
        if line[:11].lower() == b"message-id:":
            return line[11:].strip().decode("ascii", "replace")
    return "-"


async def session(reader, writer, out, delay):
    async def reply(text):
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    await reply("220 sink.cluster-sim.test ESMTP recording sink")
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            if len(line) > MAX_LINE:
                await reply("500 line too long")
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                await reply("250-sink.cluster-sim.test\r\n250-8BITMIME\r\n250 PIPELINING")
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                await reply("250 ok")
            elif verb == b"DATA":
                await reply("354 go ahead")
                lines, size = [], 0
                while True:
                    l = await reader.readline()
                    if not l:
                        return
                    size += len(l)
                    if size > MAX_MESSAGE:
                        await reply("552 too large")
                        return
                    if l in (b".\r\n", b".\n"):
                        break
                    if len(lines) < 200:
                        lines.append(l)
                out.write(message_id(lines) + "\n")
                out.flush()
                if delay:
                    await asyncio.sleep(delay)
                await reply("250 2.0.0 recorded")
            elif verb == b"QUIT":
                await reply("221 bye")
                return
            else:
                await reply("502 not implemented")
    except (ConnectionError, asyncio.LimitOverrunError, ValueError):
        return
    finally:
        writer.close()


async def main(port, path, delay):
    out = open(path, "a")
    server = await asyncio.start_server(lambda r, w: session(r, w, out, delay), "127.0.0.1", port,
                                        limit=MAX_LINE + 2)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    delay_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], delay_ms / 1000))
