#!/usr/bin/env python3
"""What one durable commit costs on this disk, three ways: writing after the end of the file
(an append, as the spool did before `preallocate`), overwriting zeros written and synced
beforehand (what the spool does now), and writing into space from `posix_fallocate`.

Each commit writes 2.9 KB (two 1.4 KB records, a typical group-commit batch at 1 KB) and
calls `fdatasync`. Prints the wall time and the CPU time (user + system) a commit.

    python3 scripts/commit-probe.py [DIR (.)] [COMMITS (2000)] [ROUNDS (2)]
"""
import os
import resource
import sys
import time

RECORD = b"x" * 2900


def commit_cost(path, prepare, commits):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        prepare(fd, commits * len(RECORD))
        os.fsync(fd)
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        for i in range(commits):
            os.pwrite(fd, RECORD, i * len(RECORD))
            os.fdatasync(fd)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        os.close(fd)
        os.unlink(path)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall / commits, cpu / commits


def append(_fd, _size):
    pass


def zeros(fd, size):
    block = b"\0" * (1 << 20)
    for _ in range(0, size, len(block)):
        os.write(fd, block)


def fallocate(fd, size):
    os.posix_fallocate(fd, 0, size)


def main():
    where = sys.argv[1] if len(sys.argv) > 1 else "."
    commits = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    for _ in range(rounds):
        for name, prepare in [("append", append), ("over zeros", zeros), ("fallocate", fallocate)]:
            wall, cpu = commit_cost(os.path.join(where, "commit-probe.tmp"), prepare, commits)
            print(f"{name}: {wall * 1e6:.0f} us wall, {cpu * 1e6:.0f} us CPU a commit")


if __name__ == "__main__":
    main()
