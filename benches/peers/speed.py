#!/usr/bin/env python3
"""Whole-process speed and peak memory of a PST/OST -> EML conversion, mailmig against readpst,
side by side on the same files (issue 3: "at least 5x faster than readpst -e, measured
whole-process side by side, with peak memory no higher than readpst's").

Each round:

  readpst  one `readpst -e -q -j 0 -o DIR FILE` process per file (readpst takes one file), each
           into its own directory created before the clock starts;
  mailmig  one `MAILMIG convert FILE... --to eml -o OUT --salvage [ARGS]` process for all files.

Output directories are created and removed outside the timed part: deleting thousands of files
can cost the file system more than either tool spends.

Reported per round: wall time, user+system CPU (from os.wait4) and the wall-time ratio
readpst / mailmig. Peak memory is measured in one more pass under GNU time (`/usr/bin/time -f
%M`), kept out of the timed rounds because it adds a process per run: the largest peak RSS of any
readpst process against mailmig's. (A child forked from Python keeps the interpreter's RSS
high-water mark across exec, so os.wait4 cannot give it.)

Usage: speed.py --mailmig PATH [--rounds N] [--scratch DIR] [--mailmig-arg ARG ...]
                [--readpst-arg ARG ...] [CORPUS]
       (CORPUS defaults to ../shared/corpus/pst next to the repository; --scratch is where the
       outputs go, the system temporary directory by default. On a disk file system that has
       just deleted many files, creating files can be several times slower for a while (ext4's
       recently-deleted inode checks), which swamps small-file timings; a tmpfs such as
       /dev/shm takes the file system out of the comparison. Pass mailmig options that start
       with a dash as `--mailmig-arg=-j2`. readpst leaves the Deleted Items folder out unless
       given -D, which mailmig always converts: `--readpst-arg=-D` times the same work.)
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


GNU_TIME = "/usr/bin/time"


def run(cmd):
    """Runs `cmd` with output discarded; returns (exit status, user+sys seconds)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


def peak_rss(cmd):
    """Peak RSS of `cmd` in KiB, from GNU time."""
    with tempfile.NamedTemporaryFile("r") as t:
        subprocess.run([GNU_TIME, "-q", "-o", t.name, "-f", "%M", *cmd],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        nums = [w for w in t.read().split() if w.isdigit()]
    return int(nums[-1]) if nums else 0


def main():
    repo = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mailmig", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mailmig-arg", action="append", default=[])
    ap.add_argument("--readpst-arg", action="append", default=[])
    ap.add_argument("--scratch", default=None)
    ap.add_argument("corpus", nargs="?", default=str(repo.parent / "shared" / "corpus" / "pst"))
    a = ap.parse_args()
    if shutil.which("readpst") is None:
        sys.exit("readpst is not installed (apt-get install -y pst-utils)")
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit("GNU time is not installed (apt-get install -y time)")
    files = sorted(p for p in Path(a.corpus).iterdir() if p.suffix.lower() in (".pst", ".ost"))
    if not files:
        sys.exit(f"no .pst or .ost files in {a.corpus}")
    print(f"{len(files)} files, {sum(f.stat().st_size for f in files):,} bytes")
    def readpst(f, d):
        return ["readpst", "-e", "-q", "-j", "0", *a.readpst_arg, "-o", str(d), str(f)]

    def mailmig(out):
        return [a.mailmig, "convert", *map(str, files), "--to", "eml", "-o", str(out),
                "--salvage", *a.mailmig_arg]

    ratios = []
    for r in range(1, a.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="mailmig-speed-", dir=a.scratch) as tmp:
            dirs = [Path(tmp, "readpst", str(i)) for i in range(len(files))]
            for d in dirs:
                d.mkdir(parents=True)
            os.sync()
            t0 = time.perf_counter()
            rp_cpu, rp_fail = 0.0, 0
            for f, d in zip(files, dirs):
                code, cpu = run(readpst(f, d))
                rp_cpu += cpu
                rp_fail += code != 0
            rp_wall = time.perf_counter() - t0
            os.sync()
            t0 = time.perf_counter()
            code, mm_cpu = run(mailmig(Path(tmp, "mailmig")))
            mm_wall = time.perf_counter() - t0
        ratios.append(rp_wall / mm_wall)
        print(f"round {r}: readpst {rp_wall:.3f} s wall, {rp_cpu:.3f} s cpu ({rp_fail} files"
              f" refused) | mailmig {mm_wall:.3f} s wall, {mm_cpu:.3f} s cpu (exit {code})"
              f" | ratio {rp_wall / mm_wall:.2f}x")
    print(f"ratio readpst/mailmig wall: min {min(ratios):.2f}x, max {max(ratios):.2f}x")
    with tempfile.TemporaryDirectory(prefix="mailmig-speed-", dir=a.scratch) as tmp:
        rp_rss = []
        for i, f in enumerate(files):
            d = Path(tmp, "readpst", str(i))
            d.mkdir(parents=True)
            rp_rss.append((peak_rss(readpst(f, d)), f.name))
        mm_rss = peak_rss(mailmig(Path(tmp, "mailmig")))
    top = max(rp_rss)
    print(f"peak RSS: readpst largest {top[0]} KiB ({top[1]}) | mailmig {mm_rss} KiB")


if __name__ == "__main__":
    main()
