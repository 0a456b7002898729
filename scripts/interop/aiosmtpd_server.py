"""aiosmtpd server for interop: stores each message's content as N.eml in a directory.

Usage: aiosmtpd_server.py PORT DIR [CERT KEY]. With a certificate and key it offers
STARTTLS and refuses mail before it (require_starttls).
"""
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        os.makedirs(directory, exist_ok=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # Recipients whose local part starts with "reject" are refused permanently, so
        # the gateway's failure notices can be checked.
        if address.lower().startswith("reject"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.directory, f"{self.count}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        print(f"stored {path} from {envelope.mail_from} to {envelope.rcpt_tos}", flush=True)
        return "250 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    tls = {}
    if len(sys.argv) == 5:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        tls = {"tls_context": context, "require_starttls": True}
    controller = Controller(Store(directory), hostname="127.0.0.1", port=port, **tls)
    controller.start()
    try:
        time.sleep(10**6)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
