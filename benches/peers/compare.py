#!/usr/bin/env python3
"""Compare mailmig's PST/OST export with the public peers readpst (libpst) and pffexport (libpff).

For every .pst/.ost file in CORPUS (default: ../shared/corpus/pst relative to the repository
root), three exports are made into a scratch directory, timed (wall clock) and measured (peak
resident memory of the process, from os.wait4):

  readpst    readpst -D -e -8 -j 0 -q -o OUT FILE
  pffexport  pffexport -m items -f all -q -t OUT FILE          (writes OUT.export/)
  mailmig    MAILMIG convert FILE --to eml -o OUT --salvage [--mailmig-arg ARG ...]

Then, per file and tool, it counts (format notes pst.md section 16):

  items        readpst: every regular file written (.eml mail, .ics calendar, .vcf contact);
               pffexport: item directories (MessageNNNNN, AppointmentNNNNN, ContactNNNNN, ...)
               that are not below an Attachments/ directory;
               mailmig: every *.eml file below OUT, recursively, skipping report.json and any
               directory whose name starts with a dot. The planned mailmig layout is one .eml per
               message, OUT/<mailbox>/<folder path>/NNNNNN.eml; only the *.eml suffix matters here.
  embedded     EML: message/rfc822 parts at any depth; pffexport: item directories below an
               Attachments/AttachmentNNNNN/ directory (any depth).
  attachments  EML: attachment leaves plus message/rfc822 parts, in the message and in its
               embedded messages; pffexport: entries of every Attachments/ directory (files and
               AttachmentNNNNN directories). Body-as-attachment parts are not attachments:
               application/rtf named rtf-body.rtf (readpst without -b) or body.rtf (mailmig,
               an RTF-only body).
  bytes        SHA-256 multiset of the decoded bytes of every file attachment (all depths);
               mailmig's attachment parts marked "X-Mailmig-Attachment-Content: none" have no
               bytes and are counted but not hashed.
  bodies       the plain-text body of each top-level item (EML: first text/plain part that is
               not an attachment, outside embedded messages; pffexport: Message.txt, where it wrote
               one — it writes none for some appointments that have a body), with all
               white space collapsed. "pf body in mm" is the share of pffexport's bodies (a
               multiset) found, equal, among mailmig's: the issue's "equal body text", which does
               not penalise mailmig for exporting items pffexport leaves out (recurrence
               exceptions, for one). "body mm~rp" is symmetric: the size of the multiset
               intersection divided by the larger of the two counts (1.0 when both are empty).

The table shows counts per tool, whether pffexport's attachment bytes are all found in
mailmig's export ("yes" equal multisets, "sup" mailmig has extra, "NO" something is missing or
altered), body match ratios, wall time and peak RSS per tool, and totals with the
mailmig/readpst ratios.

Exit status: 0 all good; 1 when, on a file pffexport reads (exit 0), mailmig finds fewer
items, embedded messages or attachments than pffexport, or pffexport's attachment bytes or
body texts are not all in mailmig's export, or mailmig fails (exit status 2 or none of its output); 2 on
usage errors (no input files, a tool missing). With --peers-only mailmig is not run and
readpst is compared with pffexport instead (never exit 1).

Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import collections
import email
import email.policy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = (REPO_ROOT / ".." / "shared" / "corpus" / "pst").resolve()
DEFAULT_MAILMIG = REPO_ROOT / "target" / "release" / "mailmig"

ITEM_DIR = re.compile(r"^(?!Attachment\d)[A-Za-z]+\d{5}$")
ATTACHMENT_DIR = re.compile(r"^Attachment\d{5}$")
BODY_PSEUDO_ATTACHMENTS = {"rtf-body.rtf", "body.rtf"}
WS = re.compile(r"\s+")


@dataclass
class Run:
    """One tool run: exit status, wall time (s), peak RSS (KiB), stderr tail."""

    rc: int | None = None
    wall: float = 0.0
    maxrss_kib: int = 0
    stderr: str = ""


@dataclass
class Export:
    """What one tool exported from one file."""

    items: int = 0
    embedded: int = 0
    attachments: int = 0
    hashes: collections.Counter = field(default_factory=collections.Counter)
    bodies: collections.Counter = field(default_factory=collections.Counter)
    unreadable: int = 0

    def summary(self) -> dict:
        return {
            "items": self.items,
            "embedded": self.embedded,
            "attachments": self.attachments,
            "attachment_bytes_sha256": sorted(self.hashes.elements()),
            "bodies": sum(self.bodies.values()),
            "unreadable_files": self.unreadable,
        }


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_tool(cmd: list[str], timeout: float) -> Run:
    """Runs cmd, measuring wall time and the process's peak RSS.

    Peak RSS comes from GNU time (/usr/bin/time -f %M) when it is installed: a forked Python
    child keeps the interpreter's high-water mark across exec, so os.wait4 alone would report
    at least Python's own RSS. Without GNU time, os.wait4's ru_maxrss is used (an upper bound).
    """
    with tempfile.TemporaryFile() as errf, tempfile.NamedTemporaryFile("r") as timef:
        full = [GNU_TIME, "-q", "-o", timef.name, "-f", "%M", *cmd] if GNU_TIME else cmd
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                full, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf
            )
        except OSError as e:
            return Run(rc=None, stderr=str(e))
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read()[-4000:]
        maxrss = rusage.ru_maxrss
        if GNU_TIME:
            lines = [ln for ln in timef.read().split() if ln.isdigit()]
            maxrss = int(lines[-1]) if lines else 0
    return Run(
        rc=proc.returncode,
        wall=wall,
        maxrss_kib=maxrss,
        stderr=err.decode("utf-8", "replace").strip(),
    )


def normalise(text: str) -> str:
    return WS.sub(" ", text).strip()


def decode_part(part) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def part_text(part) -> str:
    data = decode_part(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def scan_message(msg, exp: Export, top: bool) -> str | None:
    """Counts the attachments and embedded messages of msg into exp; returns its first
    text/plain body (None when it has none)."""
    body: list[str] = []

    def visit(part, is_root: bool) -> None:
        ctype = part.get_content_type()
        if ctype == "message/rfc822" and not is_root:
            exp.embedded += 1
            exp.attachments += 1
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                scan_message(inner[0], exp, top=False)
            return
        if part.is_multipart():
            for sub in part.get_payload():
                visit(sub, False)
            return
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if ctype == "application/rtf" and filename in BODY_PSEUDO_ATTACHMENTS:
            return
        is_body = (
            ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
        )
        if is_body or (is_root and ctype.startswith("text/")):
            if ctype == "text/plain" and not body:
                body.append(part_text(part))
            return
        exp.attachments += 1
        if (part.get("X-Mailmig-Attachment-Content") or "").strip().lower() == "none":
            return
        exp.hashes[hashlib.sha256(decode_part(part)).hexdigest()] += 1

    visit(msg, True)
    return body[0] if body else None


def scan_eml_tree(root: Path, only_eml: bool) -> Export:
    """Counts an EML export (readpst: every file is an item; mailmig: every *.eml)."""
    exp = Export()
    if not root.is_dir():
        return exp
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name == "report.json" or name.startswith("."):
                continue
            path = Path(dirpath) / name
            is_eml = name.lower().endswith(".eml")
            if only_eml and not is_eml:
                continue
            exp.items += 1
            if not is_eml:
                continue
            try:
                with open(path, "rb") as f:
                    msg = email.message_from_binary_file(f, policy=email.policy.compat32)
                body = scan_message(msg, exp, top=True)
            except Exception:  # noqa: BLE001 - a peer's broken file is data, not a crash
                exp.unreadable += 1
                continue
            exp.bodies[normalise(body or "")] += 1
    return exp


def scan_pff_tree(root: Path) -> Export:
    """Counts a pffexport items export (OUT.export/)."""
    exp = Export()
    if not root.is_dir():
        return exp
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        here = Path(dirpath)
        if not ITEM_DIR.match(here.name) or not filenames:
            continue
        rel_parts = here.relative_to(root).parts
        embedded = "Attachments" in rel_parts
        if embedded:
            exp.embedded += 1
        else:
            exp.items += 1
            txt = here / "Message.txt"
            if txt.is_file():
                exp.bodies[normalise(txt.read_bytes().decode("utf-8", "replace"))] += 1
        att = here / "Attachments"
        if att.is_dir():
            for entry in sorted(att.iterdir()):
                if entry.is_file():
                    exp.attachments += 1
                    exp.hashes[hashlib.sha256(entry.read_bytes()).hexdigest()] += 1
                elif entry.is_dir() and ATTACHMENT_DIR.match(entry.name):
                    exp.attachments += 1
    return exp


def body_match(a: collections.Counter, b: collections.Counter) -> float:
    na, nb = sum(a.values()), sum(b.values())
    if max(na, nb) == 0:
        return 1.0
    return sum((a & b).values()) / max(na, nb)


def body_found(reference: collections.Counter, candidate: collections.Counter) -> float:
    """Share of the reference's bodies (multiset) that the candidate has too."""
    n = sum(reference.values())
    if n == 0:
        return 1.0
    return sum((reference & candidate).values()) / n


def bytes_match(reference: collections.Counter, candidate: collections.Counter) -> str:
    if reference == candidate:
        return "yes"
    if not (reference - candidate):
        return "sup"
    return "NO"


def failed(tool: str, rc: int | None) -> bool:
    """A run failed: mailmig exit status 2 or none (1 means finished with skipped items), a peer
    any non-zero status."""
    if tool == "mailmig":
        return rc not in (0, 1)
    return rc != 0


def mib(kib: int) -> float:
    return kib / 1024.0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS,
                    help=f"directory of .pst/.ost files (default {DEFAULT_CORPUS})")
    ap.add_argument("--mailmig", type=Path, default=DEFAULT_MAILMIG,
                    help="mailmig binary (default target/release/mailmig)")
    ap.add_argument("--mailmig-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for mailmig convert (repeatable), e.g. --no-sync: "
                         "readpst and pffexport do not flush their output, mailmig does by default")
    ap.add_argument("--peers-only", action="store_true",
                    help="run only readpst and pffexport; compare readpst with pffexport")
    ap.add_argument("--only", action="append", default=[], metavar="SUBSTRING",
                    help="only files whose name contains SUBSTRING (repeatable)")
    ap.add_argument("--work", type=Path, help="scratch directory (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--timeout", type=float, default=600.0, help="per tool run, seconds")
    ap.add_argument("--json", type=Path, help="also write the full results as JSON here")
    ap.add_argument("--check-expected", action="store_true",
                    help="also check the peers' counts against CORPUS/expected_counts.tsv "
                         "(validates this script's counting; differences are printed, exit 1)")
    args = ap.parse_args(argv)

    files = sorted(
        p for p in args.corpus.glob("*")
        if p.is_file() and p.suffix.lower() in (".pst", ".ost")
        and (not args.only or any(s in p.name for s in args.only))
    )
    if not files:
        print(f"compare.py: no .pst/.ost files in {args.corpus}", file=sys.stderr)
        return 2
    tools = ["readpst", "pffexport"] + ([] if args.peers_only else ["mailmig"])
    for exe in ("readpst", "pffexport"):
        if shutil.which(exe) is None:
            print(f"compare.py: {exe} not found (apt-get install pst-utils pff-tools)",
                  file=sys.stderr)
            return 2
    if not args.peers_only and not os.access(args.mailmig, os.X_OK):
        print(f"compare.py: mailmig binary {args.mailmig} not found "
              "(cargo build --release -p mailmig, or --peers-only)", file=sys.stderr)
        return 2

    work = args.work or Path(tempfile.mkdtemp(prefix="mailmig-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    failures: list[str] = []
    try:
        for path in files:
            stem = path.name
            runs: dict[str, Run] = {}
            exports: dict[str, Export] = {}
            for tool in tools:
                out = work / tool / stem
                if out.exists():
                    shutil.rmtree(out)
                pff_out = Path(str(out) + ".export")
                if pff_out.exists():
                    shutil.rmtree(pff_out)
                if tool == "readpst":
                    out.mkdir(parents=True)
                    cmd = ["readpst", "-D", "-e", "-8", "-j", "0", "-q", "-o", str(out), str(path)]
                elif tool == "pffexport":
                    out.parent.mkdir(parents=True, exist_ok=True)
                    cmd = ["pffexport", "-m", "items", "-f", "all", "-q", "-t", str(out), str(path)]
                else:
                    out.parent.mkdir(parents=True, exist_ok=True)
                    cmd = [str(args.mailmig), "convert", str(path), "--to", "eml", "-o", str(out),
                           "--salvage", *args.mailmig_arg]
                runs[tool] = run_tool(cmd, args.timeout)
                if tool == "readpst":
                    exports[tool] = scan_eml_tree(out, only_eml=False)
                elif tool == "pffexport":
                    exports[tool] = scan_pff_tree(pff_out)
                else:
                    exports[tool] = scan_eml_tree(out, only_eml=True)
                if not args.keep:
                    shutil.rmtree(out, ignore_errors=True)
                    shutil.rmtree(pff_out, ignore_errors=True)

            cand = "readpst" if args.peers_only else "mailmig"
            pf, cx = exports["pffexport"], exports[cand]
            row = {
                "file": stem,
                "bytes": path.stat().st_size,
                "runs": {t: vars(r) for t, r in runs.items()},
                "exports": {t: e.summary() for t, e in exports.items()},
                "attachment_bytes_vs_pffexport": bytes_match(pf.hashes, cx.hashes),
                "body_found_vs_pffexport": body_found(pf.bodies, cx.bodies),
                "body_match_vs_readpst": None if args.peers_only
                else body_match(cx.bodies, exports["readpst"].bodies),
                "problems": [],
            }
            if not args.peers_only:
                mm_run = runs["mailmig"]
                if failed("mailmig", mm_run.rc):
                    row["problems"].append(f"mailmig exit status {mm_run.rc}")
                if runs["pffexport"].rc == 0:
                    for what in ("items", "embedded", "attachments"):
                        if getattr(cx, what) < getattr(pf, what):
                            row["problems"].append(
                                f"mailmig {what} {getattr(cx, what)} < pffexport {getattr(pf, what)}")
                    if row["body_found_vs_pffexport"] < 1.0:
                        missing = sum((pf.bodies - cx.bodies).values())
                        row["problems"].append(
                            f"{missing} pffexport body text(s) not found equal in mailmig")
                    if row["attachment_bytes_vs_pffexport"] == "NO":
                        missing = sum((pf.hashes - cx.hashes).values())
                        row["problems"].append(
                            f"{missing} pffexport attachment(s) not byte-identical in mailmig")
                failures += [f"{stem}: {p}" for p in row["problems"]]
            results.append(row)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    print_table(results, tools, args.peers_only)
    if args.keep:
        print(f"\noutputs kept in {work}")
    if args.json:
        args.json.write_text(json.dumps({"tools": tools, "files": results}, indent=1))
    if args.check_expected:
        diffs = check_expected(results, args.corpus / "expected_counts.tsv")
        print(f"\npeer counts vs expected_counts.tsv: {len(diffs)} difference(s)")
        for d in diffs:
            print("  " + d)
        if diffs:
            return 1
    if failures:
        print("\nREGRESSIONS against pffexport:")
        for f in failures:
            print("  " + f)
        return 1
    return 0


def print_table(results: list[dict], tools: list[str], peers_only: bool) -> None:
    short = {"readpst": "rp", "pffexport": "pf", "mailmig": "mm"}
    cand = "rp" if peers_only else "mm"
    names = "/".join(short[t] for t in tools)
    cols = [
        ("file", 44, "<"), ("KiB", 6, ">"), (f"items {names}", 17, ">"),
        (f"embedded {names}", 17, ">"), (f"attach {names}", 17, ">"),
        (f"bytes {cand}~pf", 11, ">"), (f"pf body in {cand}", 13, ">"),
    ]
    if not peers_only:
        cols.append(("body mm~rp", 10, ">"))
    cols += [(f"ms {short[t]}", 7, ">") for t in tools]
    cols += [(f"MiB {short[t]}", 7, ">") for t in tools]

    def fmt(values: list[str]) -> str:
        return " ".join(f"{v[:w]:{a}{w}}" for v, (_, w, a) in zip(values, cols))

    head = fmt([c[0] for c in cols])
    print(head)
    print("-" * len(head))
    totals = {t: [0.0, 0] for t in tools}
    total_bytes = 0
    for r in results:
        ex, runs = r["exports"], r["runs"]

        def counts(key: str) -> str:
            return "/".join(
                "FAIL" if failed(t, runs[t]["rc"]) and ex[t]["items"] == 0 else str(ex[t][key])
                for t in tools)

        values = [r["file"], str(r["bytes"] // 1024), counts("items"), counts("embedded"),
                  counts("attachments"), r["attachment_bytes_vs_pffexport"],
                  f"{r['body_found_vs_pffexport']:.2f}"]
        if not peers_only:
            values.append(f"{r['body_match_vs_readpst']:.2f}")
        values += [f"{runs[t]['wall'] * 1000:.0f}" for t in tools]
        values += [f"{mib(runs[t]['maxrss_kib']):.1f}" for t in tools]
        print(fmt(values))
        total_bytes += r["bytes"]
        for t in tools:
            totals[t][0] += runs[t]["wall"]
            totals[t][1] = max(totals[t][1], runs[t]["maxrss_kib"])
    print()
    mb = total_bytes / 1e6
    print(f"{len(results)} files, {mb:.1f} MB (FAIL: the tool exited with an error and wrote nothing)")
    for t in tools:
        wall, rss = totals[t]
        print(f"  {t:10} wall {wall:7.2f} s  ({mb / wall if wall else 0:6.1f} MB/s)   "
              f"peak RSS {mib(rss):6.1f} MiB")
    if "mailmig" in tools and totals["readpst"][0] > 0 and totals["readpst"][1] > 0:
        print(f"  mailmig / readpst: wall x{totals['mailmig'][0] / totals['readpst'][0]:.2f}, "
              f"peak RSS x{totals['mailmig'][1] / totals['readpst'][1]:.2f}")


def check_expected(results: list[dict], tsv: Path) -> list[str]:
    """Compares the peers' counts with the corpus oracle expected_counts.tsv (readpst_items,
    pffexport_items, pffexport_embedded, pffexport_attachments_all); returns the differences."""
    rows = {}
    header = None
    for line in tsv.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            header = cells
            continue
        rows[cells[0]] = dict(zip(header, cells))
    diffs = []
    pairs = [("readpst", "items", "readpst_items"), ("pffexport", "items", "pffexport_items"),
             ("pffexport", "embedded", "pffexport_embedded"),
             ("pffexport", "attachments", "pffexport_attachments_all")]
    for r in results:
        row = rows.get(r["file"])
        if row is None:
            diffs.append(f"{r['file']}: not in {tsv.name}")
            continue
        for tool, key, col in pairs:
            want = row.get(col, "NA")
            if tool not in r["exports"] or want in ("NA", ""):
                continue
            got = str(r["exports"][tool][key])
            if key == "items" and failed(tool, r["runs"][tool]["rc"]) and got == "0":
                got = "FAIL"
            if got != want:
                diffs.append(f"{r['file']}: {tool} {key} {got}, {tsv.name} says {want}")
    return diffs


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
