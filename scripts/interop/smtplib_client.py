"""Python smtplib (and a raw socket where smtplib cannot) against postern's smtp_sink.

Checks, each an assertion:
  1. smtplib.sendmail of an 8-bit message to two recipients is accepted;
  2. a pipelined transaction (MAIL, RCPT, RCPT, DATA in one write after EHLO) gets its
     replies in order and is accepted as one message;
  3. every bare-LF/CR end-of-data variant used for SMTP smuggling yields at most one
     message, and the smuggled sender never appears.
Usage: smtplib_client.py PORT SINK_LOG
"""
import smtplib
import socket
import sys
import time

PORT = int(sys.argv[1])
LOG = sys.argv[2]


def accepted_lines():
    with open(LOG) as f:
        return [l for l in f if l.startswith("accepted ")]


def wait_for(n, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if len(accepted_lines()) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"expected {n} accepted lines, have {len(accepted_lines())}")


class Raw:
    """A minimal line-oriented SMTP client over a socket, for what smtplib won't send."""

    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        self.buf = b""
        assert self.reply()[0] == 220

    def reply(self):
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise AssertionError(f"connection closed; got {lines}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def send(self, data):
        self.s.sendall(data)

    def close(self):
        self.s.close()


def check_smtplib():
    before = len(accepted_lines())
    body = "Subject: smtplib interop\r\n\r\nh\u00e9llo\r\n.dot line\r\n".encode("utf-8")
    with smtplib.SMTP("127.0.0.1", PORT, timeout=10) as s:
        s.ehlo("client.example")
        assert s.has_extn("pipelining") and s.has_extn("8bitmime") and s.has_extn("size")
        refused = s.sendmail("py@example.com", ["a@example.com", "b@example.com"], body,
                             mail_options=["BODY=8BITMIME"])
        assert refused == {}, refused
    wait_for(before + 1)
    last = accepted_lines()[-1].strip()
    assert last == f"accepted {len(body)} bytes from py@example.com for 2 recipient(s)", last


def check_pipelined():
    before = len(accepted_lines())
    c = Raw()
    c.send(b"EHLO client.example\r\n")
    code, lines = c.reply()
    assert code == 250 and any(b"PIPELINING" in l for l in lines)
    c.send(b"MAIL FROM:<pipe@example.com>\r\nRCPT TO:<a@example.com>\r\n"
           b"RCPT TO:<b@example.com>\r\nDATA\r\n")
    codes = [c.reply()[0] for _ in range(4)]
    assert codes == [250, 250, 250, 354], codes
    c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\n")
    assert c.reply()[0] == 250
    c.send(b"QUIT\r\n")
    assert c.reply()[0] == 221
    c.close()
    wait_for(before + 1)
    assert "from pipe@example.com for 2 recipient(s)" in accepted_lines()[-1]


SMUGGLE = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r"]


def check_smuggling():
    for end in SMUGGLE:
        before = len(accepted_lines())
        c = Raw()
        c.send(b"EHLO client.example\r\n")
        assert c.reply()[0] == 250
        c.send(b"MAIL FROM:<outer@example.com>\r\n")
        assert c.reply()[0] == 250
        c.send(b"RCPT TO:<a@example.com>\r\n")
        assert c.reply()[0] == 250
        c.send(b"DATA\r\n")
        assert c.reply()[0] == 354
        c.send(b"Subject: outer\r\n\r\nfirst" + end +
               b"MAIL FROM:<smuggled@example.com>\r\nRCPT TO:<victim@example.com>\r\n"
               b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
        code, lines = c.reply()
        # Either the whole thing is refused as one message (bare line ending), or accepted
        # as one message; never a reply to the smuggled commands.
        assert code in (250, 550), (end, code, lines)
        c.send(b"QUIT\r\n")
        code2, _ = c.reply()
        assert code2 == 221, (end, code2)
        c.close()
        time.sleep(0.2)
        new = accepted_lines()[before:]
        assert len(new) <= 1, (end, new)
        assert not any("smuggled@" in l for l in new), (end, new)
        assert (code == 250) == (len(new) == 1), (end, code, new)


check_smtplib()
check_pipelined()
check_smuggling()
print("smtplib interop: all checks passed")
