#!/usr/bin/env python3
"""Writes the cc:Mail corpus fixtures from the grammar of shared/formats/ccmail.md (§4, §5, §10).

Every fixture is original (invented names, computed sizes). Sizes follow the writer rule of §11
unless a fixture is about wrong sizes. Run from this folder: python3 make_fixtures.py
"""
import os
import struct

CRLF = b"\r\n"


def enc(s, cp="cp850"):
    return s.encode(cp) if isinstance(s, str) else s


def item(header, payload, size="auto", cp="cp850", term=CRLF):
    """One item: header line, size line, payload, terminator."""
    payload = enc(payload, cp)
    out = enc(header, cp) + CRLF
    if size == "auto":
        out += str(len(payload)).encode() + CRLF
    elif size is not None:
        out += enc(size) + CRLF
    return out + payload + term


def message(headers, items, msize="auto", csize="auto", contents=True, cp="cp850"):
    head = b"".join(enc(h, cp) + CRLF for h in headers)
    body_items = b"".join(items)
    body = head
    if contents:
        body += b"Contents:" + CRLF
        if csize == "auto":
            body += str(len(body_items)).encode() + CRLF
        elif csize is not None:
            body += enc(csize) + CRLF
        body += body_items
    out = b"Message:" + CRLF
    if msize == "auto":
        out += str(len(body)).encode() + CRLF
    elif msize is not None:
        out += enc(msize) + CRLF
    return out + body


def write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def crc16_xmodem(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def macbinary(name, dfork, rfork, good_crc=True):
    h = bytearray(128)
    h[0] = 0  # old version byte, always 0
    h[1] = len(name)  # file name length 1..63
    h[2:2 + len(name)] = name  # file name (Mac Roman)
    h[65:69] = b"TEXT"  # file type
    h[69:73] = b"ttxt"  # creator
    h[74] = 0  # must be 0
    h[82] = 0  # must be 0
    h[83:87] = struct.pack(">I", len(dfork))  # data fork length, big-endian
    h[87:91] = struct.pack(">I", len(rfork))  # resource fork length, big-endian
    h[122] = 129  # MacBinary II version
    h[123] = 129  # minimum version to read
    crc = crc16_xmodem(bytes(h[:124]))
    if not good_crc:
        crc ^= 0x5A5A
    h[124:126] = struct.pack(">H", crc)  # CRC-16/XMODEM of bytes 0..123
    pad = lambda b: b + bytes((-len(b)) % 128)
    return bytes(h) + pad(dfork) + (rfork if rfork else b"")


V, M = "valid", "malformed"

# --- valid -------------------------------------------------------------------------------
write(f"{V}/rrt-fax-embedded.ccm", message(
    ["From: Babbage, Charles at LONDON", "Date: 3/15/99 14:40", "To: Lovelace, Ada at LONDON",
     "Subject: Notes on the Analytical Engine", "RRT: requested"],
    [item("Fax item: Drawing 14", bytes([0x0A, 5, 1, 8]) + bytes(range(60))),
     item("Message item: Fwd: Engine drawings", message(
         ["From: Menabrea, Luigi at TURIN", "Date: 3/1/99 10:00", "To: Babbage, Charles at LONDON",
          "Subject: Engine drawings"],
         [item("Text item:", "The drawings are enclosed.\r\nL.M."),
          item("File item: DRAWING.PCX 2/28/99", bytes([0x0A, 5, 1, 8, 0, 0]))])[len(b"Message:\r\n"):].split(CRLF, 1)[1]),
     item("OLE item: Chart", bytes(range(32)))]))

write(f"{V}/text-items-titles-zero-length.ccm", message(
    ["From: Lovelace, Ada at LONDON", "Date: 6/2/98 8:39", "To: Babbage, Charles at LONDON",
     "Subject: three items"],
    [item("Text item: Summary", "First item."),
     item("Text item:", ""),
     item("Text item: Details", "Third item,\r\ntwo lines.")]))

write(f"{V}/day-month-order.ccm",
      message(["From: Hopper, Grace at NAVY", "Date: 14/3/99 9:05", "Subject: day first"],
              [item("Text item:", "d/m/y")]) +
      message(["From: Hopper, Grace at NAVY", "Date: 1/2/99 23:59", "Subject: ambiguous, read as 1 February"],
              [item("Text item:", "x")]))

write(f"{V}/file-item-dates.ccm", message(
    ["From: Lovelace, Ada at LONDON", "Date: 9/11/98 12:00", "Subject: attachments"],
    [item("File item: Att.txt 9-11-1998", "dash separators, four-digit year (KB Q192700)"),
     item("File item: Minutes of the Royal Society.DOC 3/12/99 4:05 PM", "long name with spaces and a time"),
     item("File item: NONAME1.TXT 1/5/99", "wrong name from DB6 kept as exported (KB Q237886)"),
     item("File item: no date here.bin", bytes([0, 1, 2, 255]))]))

write(f"{V}/addresses.ccm", message(
    ["From: Grewal, Jeff at Hub",
     "To: Ccuser at DB8, Ccuser2 at DB8",
     "To: Tom at Home at LONDON",
     "Cc: #Engines at LONDON",
     "Cc: #Local",
     "Bcc: O\"Brien, Pat at DUBLIN",
     "Subject: recipients (KB Q243184, Q184052, Q156063)"],
    [item("Text item:", "Bcc stays Bcc.")]))

write(f"{V}/shift-jis-cp932.ccm", message(
    ["From: 山田 太郎 at TOKYO", "Date: 4/1/99 9:00", "To: Lovelace, Ada at LONDON",
     "Subject: 会議の件"],
    [item("Text item:", "来週の会議について。", cp="cp932")], cp="cp932"))

write(f"{V}/rtf-and-controls.ccm", message(
    ["From: Lovelace, Ada at LONDON", "Subject: RTF body (KB Q216473) and stray codes (KB Q181130)"],
    [item("Text item:", b"{\\rtf1\\ansi Bold {\\b text}}"),
     item("Text item:", b"control \x01\x1f bytes kept")]))

write(f"{V}/folders.ccm",
      message(["From: A at PO", "Subject: in inbox", "Folder: Inbox"], [item("Text item:", "1")]) +
      message(["From: A at PO", "Subject: sent", "Folder: Message Log"], [item("Text item:", "2")]) +
      message(["From: A at PO", "Subject: ", "Folder: Stationery"], []) +
      message(["From: A at PO", "Subject: no folder"], [item("Text item:", "3")]))

write(f"{V}/years-and-1900.ccm",
      message(["From: A at PO", "Date: 1/1/1900 0:00", "Subject: Import 8.0 defect (KB Q192595)"], []) +
      message(["From: A at PO", "Date: 12/31/69 23:59", "Subject: 69 is 2069"], []) +
      message(["From: A at PO", "Date: 1/1/70 0:00", "Subject: 70 is 1970"], []) +
      message(["From: A at PO", "Date: 3/14/99 1:05 PM", "Subject: AM/PM"], []))

write(f"{V}/macbinary.ccm", message(
    ["From: Jobs, Steve at CUPERTINO", "Subject: Mac file (/FILES/MACBIN2)"],
    [item("File item: ReadMe 5/1/98", macbinary(b"ReadMe", b"data fork bytes", b"resource fork"))]))

write(f"{V}/no-itemsize.ccm",
      b"Message:\r\nFrom: Lovelace, Ada at LONDON\r\nSubject: exported without /ITEMSIZE\r\nContents:\r\n"
      b"Text item:\r\nLine one\r\nLine two\r\nText item: second\r\nMore\r\n"
      b"Message:\r\nFrom: Babbage, Charles at LONDON\r\nContents:\r\nText item:\r\nBye\r\n")

# --- malformed ---------------------------------------------------------------------------
bin_payload = b"\x00\x01Message:\r\nFrom: fake\r\nText item:\r\n3\r\n\r\n\x0d\x0a\xff"
write(f"{M}/binary-bytes.ccm",
      message(["From: A at PO", "Subject: binary bytes that look like text (KB Q233054)"],
              [item("File item: DATA.BIN 1/2/99", bin_payload),
               item("Text item:", b"text with raw bytes \x00\x07\x9b inside")]) +
      message(["From: B at PO", "Subject: next"], [item("Text item:", "ok")]))

write(f"{M}/blocks-not-crlf.ccm",
      b"Message:From: A at PO\r\nSubject: KB Q184391\r\nContents:Text item:\r\n3\r\nabc"
      b"File item: X.BIN 1/1/99\r\n2\r\nxyMessage:\r\nFrom: B at PO\r\nContents:\r\nText item:\r\n2\r\nok\r\n")

write(f"{M}/size-spaces.ccm",
      message(["From: A at PO", "Subject: spaces where sizes belong (KB Q287056)"],
              [item("Text item:", "scanned text", size="   ")], msize="    ", csize="  ") +
      message(["From: B at PO", "Subject: Message size of '0'"], [item("Text item:", "zero")], msize="0"))

write(f"{M}/wrong-sizes.ccm",
      message(["From: A at PO", "Subject: sizes that lie"],
              [item("Text item:", "real text, size says 4", size="4"),
               item("File item: A.BIN", b"\x01\x02\x03", size="99999")], msize="7", csize="8") +
      message(["From: B at PO", "Subject: resynchronised"], [item("Text item:", "fine")]))

write(f"{M}/contents-missing.ccm",
      message(["From: A at PO", "Subject: no Contents: (KB Q234745)"], [], contents=False) +
      message(["From: B at PO", "Subject: items without Contents:"], [], contents=False) +
      item("Text item:", "orphan item") +
      message(["From: C at PO", "Subject: last, at EOF"], [], contents=False))

write(f"{M}/unreadable-attachment.ccm",
      message(["From: A at PO", "Subject: unreadable attachment block (KB Q238784)"],
              [item("File item: BROKEN.DOC 1/1/99", b"\x00\xffpartial data\r\nmore", size=None),
               item("Text item:", "after the attachment")]))

write(f"{M}/macbinary-malformed.ccm", message(
    ["From: A at PO", "Subject: malformed Mac attachment (KB Q166561)"],
    [item("File item: Broken Mac 1/1/99", macbinary(b"Broken", b"data", b"", good_crc=False))]))

write(f"{M}/fax-not-pcx.ccm", message(
    ["From: A at PO", "Subject: fax items (KB Q166614, Q184053)"],
    [item("Fax item: Scan", b"GIF89a not a pcx"),
     item("Fax item:", bytes([0x0A, 3, 1, 1, 0, 0]))]))

write(f"{M}/invalid-dates.ccm",
      message(["From: A at PO", "Date: 2/31/99 17:20", "Subject: clamped (KB Q233325)"], []) +
      message(["From: A at PO", "Date: 13/45/99", "Subject: impossible month and day"], []) +
      message(["From: A at PO", "Date: yesterday", "Subject: unparsable"], []) +
      message(["From: A at PO", "Subject: file date invalid"], [item("File item: A.TXT 2/30/99", "x")]))

write(f"{M}/junk-lines.ccm",
      b"EXPORT 5.14 console output\r\nPress any key\r\n" +
      message(["From: A at PO", "Subject: junk around", "This line has no key"],
              [item("Text item:", "body")]) + b"stray line between messages\r\n" +
      message(["From: B at PO"], [item("Text item:", "second")]))

write(f"{M}/nft-console-in-header.ccm", message(
    ["From: A at PO", "NFT error 12 at record 4411", "*** Directory chain broken ***",
     "Subject: console output written into headers (KB Q179072)"],
    [item("Text item:", "body survives")]))

write(f"{M}/unknown-items-and-keys.ccm", message(
    ["From: A at PO", "Priority: Urgent", "X-Gateway: SMTPLINK 2.1", "Subject: unknown things kept"],
    [item("Voice Mail item: Greeting", b"RIFF....WAVE"),
     item("Text item:", "text")]))

write(f"{M}/truncated-eof.ccm",
      message(["From: A at PO", "Subject: complete"], [item("Text item:", "ok")]) +
      b"Message:\r\n500\r\nFrom: B at PO\r\nSubject: cut off\r\nContents:\r\n400\r\nFile item: BIG.ZIP 1/1/99\r\n300\r\nPK\x03\x04only")

write(f"{M}/lf-and-cr-line-ends.ccm",
      b"Message:\nFrom: A at PO\nSubject: LF only\nContents:\nText item:\nline1\nline2\n"
      b"Message:\rFrom: B at PO\rSubject: CR only\rContents:\rText item:\r2\rok\r")

write(f"{M}/ambiguous-addresses.ccm", message(
    ["From: at LONDON", "To: Babbage, Charles", "Cc: Smith, Jo at HQ, Brown, Bo",
     "Subject: name part missing (Export 8.3, KB Q249133) and ambiguous splits"], []))

nest = message(["From: A at PO", "Subject: level 11"], [item("Text item:", "deep")])
nest = nest.split(CRLF, 2)[2]
for lvl in range(10, 0, -1):
    m = message(["From: A at PO", f"Subject: level {lvl}"], [item("Message item: inner", nest)])
    nest = m.split(CRLF, 2)[2]
write(f"{M}/embedding-depth.ccm", b"Message:\r\n" + str(len(nest)).encode() + CRLF + nest)

# --- export sets (directory export + streams) -----------------------------------------------
S = f"{V}/export-set"
write(f"{S}/LONDON.DIR",
      b"Post office: LONDON\r\n\r\n"
      b"Name: Lovelace, Ada\r\nLocation: L\r\nComments: first programmer\r\nFAN: ada.lovelace\r\n\r\n"
      b"Name: Babbage, Charles\r\nLocation: L\r\n\r\n"
      b"Name: Somerville, Mary\r\nLocation: R\r\n\r\n"
      b"Name: Menabrea, Luigi\r\nLocation: l\r\nAddr: TURIN\r\n\r\n"
      b"P CAMBRIDGE\r\nComments: MSExchangeCCMC HUB1\r\n\r\n"
      b"Name: #Engines\r\nType: Bulletin board\r\n\r\n"
      b"Name: Engineers\r\nMember: Lovelace, Ada\r\nMember: Babbage, Charles\r\n\r\n"
      b"Name: Mystery Entry\r\nHobby: chess\r\n")
write(f"{S}/LOVELACE_ADA.CCM", message(["From: Babbage, Charles at LONDON", "Date: 1/4/00 16:20",
                                        "To: Lovelace, Ada at LONDON", "Subject: hello"],
                                       [item("Text item:", "Hi Ada")]))
write(f"{S}/Babbage, Charles/export.txt", b"")
write(f"{S}/ghost.ccm", message(["From: Ghost at NOWHERE", "Subject: not in the directory"],
                                [item("Text item:", "boo")]))
write(f"{S}/README.TXT", b"Notes from the operator, not an export.\r\n")

P = f"{M}/db6-post-office"
for name, size in [("CLANDATA", 512), ("MLANDATA", 1024), ("USR00001", 64), ("USR00002", 64),
                   ("CCPODOWN", 0), ("NFTerror.log", 40), ("C850SORT.GLB", 16)]:
    write(f"{P}/{name}", bytes(size))
