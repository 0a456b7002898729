#!/usr/bin/env python3
"""Finds circular imports between the modules of each crate under crates/.

A module is a source file (`src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `lib.rs` is the
crate root). Module A depends on module B when A's code (not its comments, not its
`#[cfg(test)]` section) names a path into B: `use crate::b::…`, `crate::b::X` in an
expression or type, or `super::…` / `self::…` resolved from A. A path is charged to the
longest module prefix it names, so `crate::a::b::Item` is a dependency on `a::b`.

Dependencies on the crate root and on one's own ancestors are left out: re-exports and
declarations in `lib.rs`/`mod.rs` are how a crate is assembled, not a cycle between
modules of one concept. Everything else must run one way. Exits 1 and prints each cycle
(a strongly connected component, with one edge per member naming the line) when any
module depends on itself through others; exits 0 otherwise.

Usage: scripts/module-cycles.py [CRATE_DIR…]   (default: every crates/*)
"""

import re
import sys
from pathlib import Path

PATH_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP_RE = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{")


def module_of(src: Path, file: Path) -> tuple[str, ...]:
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def code_lines(text: str) -> list[tuple[int, str]]:
    """The lines of code before a trailing `#[cfg(test)]` module, comments removed."""
    out = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped == "#[cfg(test)]" and i + 1 < len(lines) and re.match(
            r"\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", lines[i + 1]
        ):
            break
        line = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)  # string literals
        line = line.split("//", 1)[0]
        out.append((i + 1, line))
    return out


def resolve(base: str, rest: list[str], here: tuple[str, ...], is_dir_module: bool):
    """The absolute path a `crate`/`super`/`self` path names, as a list of segments."""
    if base == "crate":
        return list(rest)
    # `self` in a file is the file's module; `super` its parent. Chains of super walk up.
    start = list(here)
    if base == "super":
        start = start[:-1]
    while rest and rest[0] == "super":
        start = start[:-1]
        rest = rest[1:]
    return start + list(rest)


def dependencies(src: Path, modules: set, file: Path):
    here = module_of(src, file)
    text = file.read_text(encoding="utf-8", errors="replace")
    joined = code_lines(text)
    deps = {}
    # Brace groups of `use` (`use crate::{a::X, b::Y}`) span lines: expand them first.
    body = "\n".join(line for _, line in joined)
    line_of = []
    for n, line in joined:
        line_of.extend([n] * (len(line) + 1))
    paths = []
    for m in PATH_RE.finditer(body):
        base = m.group(1)
        rest = [s for s in m.group(2).split("::") if s]
        paths.append((m.start(), base, rest))
    for m in USE_GROUP_RE.finditer(body):
        base = m.group(1)
        prefix = [s for s in m.group(2).split("::") if s]
        depth, i = 1, m.end()
        start = i
        while i < len(body) and depth:
            depth += {"{": 1, "}": -1}.get(body[i], 0)
            i += 1
        group = body[start : i - 1]
        # Top-level items of the group (nested groups keep their own prefix word).
        for item in re.findall(r"(?:^|[,{])\s*([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)", group):
            paths.append((m.start(), base, prefix + item.split("::")))
    for pos, base, rest in paths:
        target = resolve(base, rest, here, False)
        # The longest known module prefix of the path.
        best = None
        for k in range(len(target), 0, -1):
            if tuple(target[:k]) in modules:
                best = tuple(target[:k])
                break
        if best is None or best == here:
            continue
        if here[: len(best)] == best:  # an ancestor (or the root): assembly, not a cycle
            continue
        deps.setdefault(best, line_of[pos] if pos < len(line_of) else 0)
    return here, deps


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m) or "crate"


def check(crate: Path) -> int:
    src = crate / "src"
    files = sorted(src.rglob("*.rs"))
    modules = {module_of(src, f) for f in files}
    graph, where = {}, {}
    for f in files:
        if f.name == "tests.rs":  # `#[cfg(test)] mod tests;` files
            continue
        here, deps = dependencies(src, modules, f)
        graph.setdefault(here, {}).update(deps)
        where[here] = f
    found = 0
    for comp in sccs(graph):
        found += 1
        print(f"{crate.name}: cycle between {', '.join(name(m) for m in comp)}")
        members = set(comp)
        for m in comp:
            for dep, line in sorted(graph[m].items()):
                if dep in members:
                    rel = where[m].relative_to(crate)
                    print(f"    {name(m)} -> {name(dep)}  ({rel}:{line})")
    return found


def main(argv):
    root = Path(__file__).resolve().parent.parent
    crates = [Path(a) for a in argv] or sorted((root / "crates").glob("*/"))
    total = sum(check(c) for c in crates if (c / "src").is_dir())
    if total:
        print(f"{total} module cycle(s)")
        return 1
    print(f"no module cycles in {len(crates)} crate(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
