#!/usr/bin/env python3
"""Prints the fastest, median and slowest sample of criterion benchmarks, per iteration.

Criterion's summary line is an estimate of the mean time per iteration with its confidence
interval. On a shared machine, such as a virtual machine whose physical cores other tenants
use too, the same work can take twice as long from one minute to the next, and the mean
moves with the machine. Interference only ever adds time, so the fastest sample is the best
estimate of what the code itself costs on an undisturbed core (Chen and Revels, "Robust
benchmarking in noisy environments", arXiv:1608.04295, 2016); the median and the slowest
sample show how much the machine disturbed the run. The fastest sample misleads when the
code itself has fast and slow modes (Tratt, "Minimum times tend to mislead when
benchmarking", 2019), so read all three. This script reads the samples criterion
keeps (`new/sample.json`, `new/benchmark.json`) and prints all three, as time per iteration
and, where the benchmark declares a byte throughput, as MiB/s.

Usage: bench-samples.py [DIR ...]
DIR is a criterion output directory (default `target/criterion`, or `$CARGO_TARGET_DIR/criterion`)
or any directory below it; every benchmark found under it is printed, sorted by name.
"""

import json
import os
import statistics
import sys


def benchmarks(root):
    """(name, bytes per iteration or None, per-iteration times in ns) for each benchmark under root."""
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "sample.json" not in files:
            continue
        with open(os.path.join(dirpath, "sample.json"), encoding="utf-8") as f:
            sample = json.load(f)
        name, nbytes = os.path.relpath(os.path.dirname(dirpath), root), None
        meta = os.path.join(dirpath, "benchmark.json")
        if os.path.exists(meta):
            with open(meta, encoding="utf-8") as f:
                info = json.load(f)
            name = info.get("full_id", name)
            nbytes = (info.get("throughput") or {}).get("Bytes")
        times = [t / n for n, t in zip(sample["iters"], sample["times"]) if n > 0]
        if times:
            yield name, nbytes, times


def show(ns, nbytes):
    if nbytes:
        return f"{nbytes / (ns / 1e9) / 2**20:10.1f} MiB/s"
    return f"{ns / 1e6:10.3f} ms"


def main(argv):
    default = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    roots = argv[1:] or [default]
    found = []
    for root in roots:
        if not os.path.isdir(root):
            sys.exit(f"bench-samples: {root}: no such directory")
        found.extend(benchmarks(root))
    if not found:
        sys.exit(f"bench-samples: no criterion samples under {', '.join(roots)}")
    print(f"{'benchmark':40} {'samples':>7} {'fastest':>16} {'median':>16} {'slowest':>16}")
    for name, nbytes, times in sorted(found, key=lambda b: b[0]):
        print(
            f"{name:40} {len(times):7} {show(min(times), nbytes)} "
            f"{show(statistics.median(times), nbytes)} {show(max(times), nbytes)}"
        )


if __name__ == "__main__":
    main(sys.argv)
