#!/usr/bin/env python3
"""Checks mailmig's PST writer with the public peers readpst (libpst) and pffexport (libpff).

For every .pst/.ost file in CORPUS (default: ../shared/corpus/pst relative to the repository
root):

  1. the original is exported with both peers:
       readpst    readpst -e -q -D -8 -j 0 -o OUT FILE   (-j 0: readpst's default parallel
                  writer loses a few files of a large store at random, seen on 20,000 items)
       pffexport  pffexport -m all -f all -t OUT FILE          (writes OUT.export/, and
                  OUT.orphans/ / OUT.recovered/ when it finds unreachable items)
  2. it is written through mailmig to a new PST with COMMAND (see --command);
  3. the new PST is exported with both peers the same way;
  4. per peer, the two exports are compared (counting as benches/peers/compare.py does, whose
     scanners this script reuses): items, embedded messages, attachments, the SHA-256
     multiset of attachment bytes, and the plain-text bodies (body match = share of equal
     bodies, white space collapsed). pffexport must find no orphan or recovered items in the
     new PST.

COMMAND is a template with {input}, {output} (a .pst path to create) and {outdir} (an empty
directory); when it has no {output}, the new PST is the one *.pst file found below {outdir}.
The default runs the CLI, in salvage mode as compare.py does (a file with a damaged header
still converts): "{mailmig} convert {input} --to pst -o {outdir} --salvage", with {mailmig}
from --mailmig. Without the CLI, the example binary does the same conversion:

  cargo build --release -p mailmig-pst --example pst_copy
  benches/peers/pst_roundtrip.py --command "target/release/examples/pst_copy {input} {output} --salvage"

Exit status: 0 every file whose original both peers read gives equal exports; 1 otherwise
(a difference, a conversion failure, or a peer rejecting the new file); 2 on usage errors.

Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import collections
import email
import email.policy
import hashlib
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import (  # noqa: E402 - the scanners of the sibling script
    DEFAULT_CORPUS,
    DEFAULT_MAILMIG,
    Export,
    body_match,
    decode_part,
    run_tool,
    scan_eml_tree,
    scan_pff_tree,
)

DEFAULT_COMMAND = "{mailmig} convert {input} --to pst -o {outdir} --salvage"


def libpst_calendar_parts(root: Path) -> collections.Counter:
    """SHA-256 of the iCalendar parts readpst synthesises for meeting items (PRODID LibPST):
    they carry the item's NID as UID and the export time as DTSTAMP, so they are no
    attachment bytes of the PST and differ between any two files."""
    out: collections.Counter = collections.Counter()
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        try:
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.compat32)
        except Exception:  # noqa: BLE001 - counted as unreadable by the scanner already
            continue
        for part in msg.walk():
            if part.is_multipart() or part.get_content_type() != "text/calendar":
                continue
            data = decode_part(part)
            if b"PRODID:LibPST" in data:
                out[hashlib.sha256(data).hexdigest()] += 1
    return out


def export_readpst(pst: Path, out: Path, timeout: float) -> tuple[int | None, Export]:
    out.mkdir(parents=True)
    run = run_tool(["readpst", "-e", "-q", "-D", "-8", "-j", "0", "-o", str(out), str(pst)], timeout)
    exp = scan_eml_tree(out, only_eml=False)
    synthetic = libpst_calendar_parts(out)
    exp.hashes -= synthetic
    exp.attachments -= sum(synthetic.values())
    return run.rc, exp


def export_pff(pst: Path, out: Path, timeout: float) -> tuple[int | None, Export, int]:
    run = run_tool(["pffexport", "-m", "all", "-f", "all", "-q", "-t", str(out), str(pst)], timeout)
    extra = 0
    for suffix in (".orphans", ".recovered"):
        d = Path(str(out) + suffix)
        if d.is_dir():
            extra += sum(1 for _ in d.rglob("*") if _.is_file())
    return run.rc, scan_pff_tree(Path(str(out) + ".export")), extra


def diff(a: Export, b: Export) -> list[str]:
    """What differs between the export of the original (a) and of the new PST (b). A peer
    that finds more in the new file than in the original (items it could not read there),
    with every original attachment and body still present, is noted, not a difference."""
    out = []
    if (
        (b.items, b.attachments, b.embedded) != (a.items, a.attachments, a.embedded)
        and b.items >= a.items
        and b.attachments >= a.attachments
        and b.embedded >= a.embedded
        and not (a.hashes - b.hashes)
        and not (a.bodies - b.bodies)
    ):
        return [
            f"(note: the new file gives {b.items - a.items} more items, "
            f"{b.attachments - a.attachments} more attachments, {b.embedded - a.embedded} more "
            "embedded messages; all of the original's are there)"
        ]
    for f in ("items", "embedded", "attachments", "unreadable"):
        if getattr(a, f) != getattr(b, f):
            out.append(f"{f} {getattr(a, f)}->{getattr(b, f)}")
    if a.hashes != b.hashes:
        out.append(
            f"attachment bytes: {sum((a.hashes - b.hashes).values())} missing, "
            f"{sum((b.hashes - a.hashes).values())} new"
        )
    bm = body_match(a.bodies, b.bodies)
    if bm < 1.0:
        out.append(f"body match {bm:.2f}")
    return out


def convert(template: str, mailmig: Path, pst: Path, work: Path, timeout: float) -> tuple[Path | None, str]:
    outdir = work / "converted"
    outdir.mkdir()
    output = outdir / (pst.stem + ".pst")
    cmd = template.format(mailmig=mailmig, input=pst, output=output, outdir=outdir)
    run = run_tool(shlex.split(cmd), timeout)
    if "{output}" not in template:
        found = sorted(outdir.rglob("*.pst"))
        output = found[0] if len(found) == 1 else None
    if run.rc not in (0, 1) or output is None or not output.is_file():
        return None, f"conversion failed (exit {run.rc}): {run.stderr[-300:]}"
    return output, ""


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--mailmig", type=Path, default=DEFAULT_MAILMIG)
    ap.add_argument("--command", default=DEFAULT_COMMAND)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--keep", type=Path, help="keep the exports below this directory")
    args = ap.parse_args(argv)
    for tool in ("readpst", "pffexport"):
        if shutil.which(tool) is None:
            print(f"{tool} not found", file=sys.stderr)
            return 2
    files = sorted(p for p in args.corpus.iterdir() if p.suffix.lower() in (".pst", ".ost"))
    if not files:
        print(f"no .pst/.ost files in {args.corpus}", file=sys.stderr)
        return 2
    results = []
    bad = 0
    scratch = Path(tempfile.mkdtemp(prefix="pst_roundtrip."))
    try:
        for pst in files:
            work = (args.keep or scratch) / pst.stem
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
            r: dict = {"file": pst.name}
            rc_r0, r0 = export_readpst(pst, work / "readpst-original", args.timeout)
            rc_p0, p0, _ = export_pff(pst, work / "pff-original", args.timeout)
            new, err = convert(args.command, args.mailmig, pst, work, args.timeout)
            if new is None:
                r["status"] = err
                r["original"] = {"readpst": r0.summary(), "pffexport": p0.summary()}
                bad += rc_r0 == 0 or rc_p0 == 0
                results.append(r)
                continue
            rc_r1, r1 = export_readpst(new, work / "readpst-new", args.timeout)
            rc_p1, p1, extra = export_pff(new, work / "pff-new", args.timeout)
            problems: list[str] = []
            if rc_r0 == 0:
                if rc_r1 != 0:
                    problems.append(f"readpst rejects the new file (exit {rc_r1})")
                problems += [f"readpst {d}" for d in diff(r0, r1)]
            if rc_p0 == 0:
                if rc_p1 != 0:
                    problems.append(f"pffexport rejects the new file (exit {rc_p1})")
                problems += [f"pffexport {d}" for d in diff(p0, p1)]
            if extra:
                problems.append(f"pffexport finds {extra} orphan/recovered files in the new file")
            notes = [p for p in problems if "(note:" in p]
            problems = [p for p in problems if "(note:" not in p]
            status = "ok" if not problems else "; ".join(problems)
            if notes:
                status += " " + " ".join(notes)
            r.update(
                {
                    "status": status,
                    "peer_exit": {"readpst": [rc_r0, rc_r1], "pffexport": [rc_p0, rc_p1]},
                    "readpst": {"original": r0.summary(), "new": r1.summary()},
                    "pffexport": {"original": p0.summary(), "new": p1.summary()},
                    "new_size": new.stat().st_size,
                    "original_size": pst.stat().st_size,
                }
            )
            bad += bool(problems)
            results.append(r)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    w = max(len(r["file"]) for r in results)
    print(f"{'file':<{w}}  {'readpst items/att':>17}  {'pff items/att/emb':>17}  status")
    for r in results:
        rp = r.get("readpst", {}).get("new") or r.get("original", {}).get("readpst", {})
        pf = r.get("pffexport", {}).get("new") or r.get("original", {}).get("pffexport", {})
        print(
            f"{r['file']:<{w}}  {rp.get('items', 0):>8}/{rp.get('attachments', 0):<8}"
            f"  {pf.get('items', 0):>6}/{pf.get('attachments', 0)}/{pf.get('embedded', 0):<6}  {r['status']}"
        )
    print(f"{len(results) - bad} of {len(results)} files equal through the writer")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
