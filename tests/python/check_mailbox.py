#!/usr/bin/env python3
"""Independent check of mailmig output with Python's standard library only.

Usage: check_mailbox.py maildir|mbox|eml OUTPUT_ROOT

OUTPUT_ROOT holds one directory per mailbox, as `mailmig convert --to FORMAT` writes it.
Every message is parsed with `email` (policy=default) through `mailbox.Maildir`,
`mailbox.mbox` or plain files. Prints one JSON document on stdout:

    {"mailboxes": {DIR: {"folders": [...], "messages": [MESSAGE...]}}, "defects": [...]}

MESSAGE = {"folder", "subject", "from", "to", "message_id", "date", "text", "x_mailmig": {...},
           "attachments": [{"filename", "content_type", "sha256", "size"} or
                           {"filename", "content_type", "message": MESSAGE}]}

"text" is the text/plain body chosen by get_body(); "attachments" are all other leaf parts
(inline related parts included, the chosen text and HTML bodies excluded) in document order.

`defects` lists every defect the parser reported (message, MIME part or header), with the
file it came from. Exit status: 0 when there are no defects, 1 when there are, 2 on usage
errors or when a file cannot be read at all.

mbox files are mboxrd: one `>` is removed from every line matching `^>+From ` before parsing
(Python's mailbox.mbox does not undo the quoting itself).
"""

import email
import email.policy
import hashlib
import json
import mailbox
import os
import re
import sys

QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def header_defects(msg, where):
    found = []
    for name, value in msg.items():
        for d in getattr(value, "defects", ()):
            found.append(f"{where}: header {name}: {type(d).__name__}: {d}")
    return found


def leaves(part):
    """Non-multipart parts in document order; message/rfc822 parts are leaves."""
    if part.get_content_maintype() == "multipart":
        for p in part.iter_parts():
            yield from leaves(p)
    else:
        yield part


def summarize(msg, where, defects):
    for d in msg.defects:
        defects.append(f"{where}: {type(d).__name__}: {d}")
    defects.extend(header_defects(msg, where))
    for part in msg.walk():
        if part is msg:
            continue
        for d in part.defects:
            defects.append(f"{where}: part {part.get_content_type()}: {type(d).__name__}: {d}")
        defects.extend(header_defects(part, f"{where}: part {part.get_content_type()}"))
    body = msg.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else None
    html = msg.get_body(preferencelist=("html",))
    attachments = []
    for part in leaves(msg):
        if part is body or part is html:
            continue
        ctype = part.get_content_type()
        entry = {"filename": part.get_filename(), "content_type": ctype}
        if ctype == "message/rfc822":
            inner = part.get_content()
            entry["message"] = summarize(inner, where + " (embedded)", defects)
        else:
            data = part.get_content()
            if isinstance(data, str):
                data = data.encode("utf-8")
            entry["sha256"] = hashlib.sha256(data).hexdigest()
            entry["size"] = len(data)
        attachments.append(entry)
    x = {k: str(v) for k, v in msg.items() if k.lower().startswith("x-mailmig-")}
    return {
        "subject": str(msg["Subject"]) if msg["Subject"] is not None else None,
        "from": str(msg["From"]) if msg["From"] is not None else None,
        "to": str(msg["To"]) if msg["To"] is not None else None,
        "message_id": str(msg["Message-ID"]) if msg["Message-ID"] is not None else None,
        "date": str(msg["Date"]) if msg["Date"] is not None else None,
        "text": text,
        "x_mailmig": x,
        "attachments": attachments,
    }


def parse_bytes(data, where, defects):
    return summarize(email.message_from_bytes(data, policy=email.policy.default), where, defects)


def check_maildir(path, defects):
    out = {"folders": [], "messages": []}
    md = mailbox.Maildir(path, factory=None, create=False)
    boxes = [("", md)] + [(f, md.get_folder(f)) for f in sorted(md.list_folders())]
    for name, box in boxes:
        if name:
            out["folders"].append(name)
        for key in sorted(box.keys()):
            where = f"{path}/{name}/{key}"
            data = box.get_bytes(key)
            m = parse_bytes(data, where, defects)
            m["folder"] = name
            m["flags"] = box.get_message(key).get_flags()
            out["messages"].append(m)
    return out


def check_mbox(path, defects):
    out = {"folders": [], "messages": []}
    files = []
    for root, _dirs, names in os.walk(path):
        for n in names:
            if n.endswith(".mbox"):
                files.append(os.path.join(root, n))
    for f in sorted(files):
        folder = os.path.relpath(f, path)[: -len(".mbox")]
        out["folders"].append(folder)
        box = mailbox.mbox(f, create=False)
        for key in sorted(box.keys()):
            where = f"{f}#{key}"
            data = QUOTED_FROM.sub(rb"\1", box.get_bytes(key))
            m = parse_bytes(data, where, defects)
            m["folder"] = folder
            m["flags"] = box.get_message(key).get_flags()
            out["messages"].append(m)
        box.close()
    return out


def check_eml(path, defects):
    out = {"folders": [], "messages": []}
    for root, dirs, names in os.walk(path):
        dirs.sort()
        rel = os.path.relpath(root, path)
        if rel != ".":
            out["folders"].append(rel)
        for n in sorted(names):
            if not n.endswith(".eml"):
                continue
            f = os.path.join(root, n)
            with open(f, "rb") as fh:
                m = parse_bytes(fh.read(), f, defects)
            m["folder"] = rel
            out["messages"].append(m)
    out["folders"].sort()
    return out


def main(argv):
    if len(argv) != 3 or argv[1] not in ("maildir", "mbox", "eml"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, root = argv[1], argv[2]
    check = {"maildir": check_maildir, "mbox": check_mbox, "eml": check_eml}[kind]
    defects = []
    result = {"mailboxes": {}, "defects": defects}
    try:
        for d in sorted(os.listdir(root)):
            p = os.path.join(root, d)
            if os.path.isdir(p):
                result["mailboxes"][d] = check(p, defects)
    except OSError as e:
        print(f"check_mailbox: {e}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
