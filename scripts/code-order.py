#!/usr/bin/env python3
"""Writes a symbol ordering for the linker (lld's --symbol-ordering-file) that keeps together
the code each kind of conversion runs, from callgrind runs of the training workloads.

A conversion reads one format and writes one. The kernel maps a binary's code in windows of
up to 64 KiB around each page a process touches ("fault-around"), so code a run needs that lies
scattered over the whole text costs resident memory for all the code between: in the default
layout a PST -> EML conversion of the corpus keeps 3.8 MB of the 4.7 MB text resident, and
2.4 MB in this order (cc:Mail -> Maildir: 3.9 and 2.3 MB).
Placing the functions each conversion needs side by side lets it touch a few runs of pages.

Input: a file of lines `READER<TAB>WRITER<TAB>CALLGRIND_OUT`, one per training run, where
CALLGRIND_OUT was written by `valgrind --tool=callgrind --compress-strings=no --demangle=no`
(the functions a run executed, by symbol name). Output, on stdout: every executed symbol once,
grouped by the readers that ran it (those every reader runs first), then by the writers, so
that a run touches the shared code, its reader's group and its writer's group.

Usage: code-order.py STEPS.tsv > order.txt
"""

import re
import sys
from collections import defaultdict


def executed(path):
    """The symbol names of the functions a callgrind run entered."""
    names = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(("fn=", "cfn=")):
                name = line.split("=", 1)[1].strip()
                # `name'2` is callgrind's recursion depth, not part of the symbol.
                name = re.sub(r"'\d+$", "", name)
                # Addresses without a symbol and valgrind's own frames cannot be ordered.
                if name and not name.startswith(("0x", "(")):
                    names.add(name)
    return names


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    readers_of = defaultdict(set)
    writers_of = defaultdict(set)
    readers, writers = set(), set()
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            reader, writer, path = line.rstrip("\n").split("\t")
            readers.add(reader)
            writers.add(writer)
            for name in executed(path):
                readers_of[name].add(reader)
                writers_of[name].add(writer)

    def key(name):
        r, w = readers_of[name], writers_of[name]
        # The most widely shared code first; within a group of readers, the writers' groups.
        return (-len(r), sorted(r), -len(w), sorted(w), name)

    for name in sorted(readers_of, key=key):
        print(name)
    print(
        f"code-order: {len(readers_of)} functions from {len(readers)} readers and "
        f"{len(writers)} writers",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
