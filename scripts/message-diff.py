#!/usr/bin/env python3
"""Differential test: postern's MIME parser against Python's `email` package.

For every message file given (directories are walked), parse it with
`email.message_from_bytes(data, policy=email.policy.default)` and with
`postern message inspect --json FILE`, and compare the part trees:

- the tree shape, with IMAP-style paths ("" for the message, "1", "1.2"; the nested
  message of a message/rfc822 part is its child ".1", as Python's walk() has it);
- each part's content type (get_content_type());
- each part's file name (get_filename());
- for leaves, the SHA-256 of the transfer-decoded payload (get_payload(decode=True)).

One normalisation: Python turns a message/delivery-status body into child "messages"
(one per header block); postern keeps it a leaf. Both sides are compared as a leaf there,
by type and file name only.

Messages listed in crates/postern-message/KNOWN-DIFFERENCES.md (file names in backticks,
matched as path suffixes) are reported as KNOWN: differences where postern is right, with
the reason given there. Agreement counts them (and the summary also gives the raw figure).

Prints one line per file that differs (and every file with -v), then a summary, and exits
non-zero when the agreement is below --threshold percent or postern failed on any file.

Usage: scripts/message-diff.py [--postern BIN] [--threshold PCT] [-v] PATH...
"""

import argparse
import email
import email.policy
import hashlib
import json
import os
import re
import subprocess
import sys


def python_tree(msg, path=""):
    node = {"path": path, "content_type": msg.get_content_type()}
    try:
        node["filename"] = msg.get_filename()
    except Exception as e:  # Python's header parser can raise on very broken input
        node["filename"] = f"<python error: {e!r}>"
    if node["content_type"] == "message/delivery-status":
        node["children"] = []
        node["sha256"] = None
    elif msg.is_multipart():
        node["children"] = [
            python_tree(child, f"{path}.{i}" if path else str(i))
            for i, child in enumerate(msg.get_payload(), 1)
        ]
        node["sha256"] = None
    else:
        payload = msg.get_payload(decode=True) or b""
        node["children"] = []
        node["sha256"] = hashlib.sha256(payload).hexdigest()
    return node


def postern_tree(obj):
    node = {
        "path": obj["path"],
        "content_type": obj["content_type"],
        "filename": obj["filename"],
        "children": [postern_tree(c) for c in obj["children"]],
        "sha256": obj["decoded_sha256"],
    }
    if node["content_type"] == "message/delivery-status":
        node["children"] = []
        node["sha256"] = None
    return node


def compare(py, ours):
    """Returns None when the trees agree, else a description of the first difference."""
    where = py["path"] or '""'
    if py["content_type"] != ours["content_type"]:
        return f"{where}: content type {py['content_type']!r} vs {ours['content_type']!r}"
    if (py["filename"] or None) != (ours["filename"] or None):
        return f"{where}: filename {py['filename']!r} vs {ours['filename']!r}"
    if len(py["children"]) != len(ours["children"]):
        return f"{where}: {len(py['children'])} children vs {len(ours['children'])}"
    if not py["children"] and py["sha256"] != ours["sha256"]:
        return f"{where}: decoded payload differs"
    for a, b in zip(py["children"], ours["children"]):
        diff = compare(a, b)
        if diff:
            return diff
    return None


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                for n in sorted(names):
                    if n.endswith((".eml", ".txt", ".msg")) and not n.startswith(("LICENSE", "COPYING", "README")):
                        yield os.path.join(root, n)
        else:
            yield p


def known_differences():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "crates", "postern-message", "KNOWN-DIFFERENCES.md")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    return [m for m in re.findall(r"`([^`\s]+\.(?:eml|txt|msg))`", text)]


def default_binary():
    here = os.path.dirname(os.path.abspath(__file__))
    for profile in ("release", "debug"):
        cand = os.path.join(here, "..", "target", profile, "postern")
        if os.path.exists(cand):
            return cand
    return "postern"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--postern", default=default_binary())
    ap.add_argument("--threshold", type=float, default=100.0, help="minimum agreement in percent")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    known_list = known_differences()
    total = agree = known = failed = 0
    for path in sorted(files(args.paths)):
        total += 1
        with open(path, "rb") as f:
            data = f.read()
        run = subprocess.run([args.postern, "message", "inspect", "--json", path], capture_output=True)
        if run.returncode != 0:
            failed += 1
            print(f"FAIL {path}: postern exited {run.returncode}: {run.stderr.decode(errors='replace').strip()[:200]}")
            continue
        ours = postern_tree(json.loads(run.stdout))
        try:
            py = python_tree(email.message_from_bytes(data, policy=email.policy.default))
        except Exception as e:
            print(f"PYERR {path}: {e!r}")
            continue
        diff = compare(py, ours)
        if diff is None:
            agree += 1
            if args.verbose:
                print(f"ok   {path}")
        elif any(path.endswith("/" + k) for k in known_list):
            known += 1
            print(f"KNOWN {path}: {diff}")
        else:
            print(f"DIFF {path}: {diff}")

    pct = 100.0 * (agree + known) / total if total else 100.0
    raw = 100.0 * agree / total if total else 100.0
    print(
        f"agreement: {agree + known}/{total} messages ({pct:.2f}%) counting {known} known "
        f"differences; identical: {agree} ({raw:.2f}%); postern failures: {failed}"
    )
    if failed or pct < args.threshold:
        sys.exit(1)


if __name__ == "__main__":
    main()
