#!/usr/bin/env python3
"""Writes the hand-made IFF corpus sets (corpus/iff/valid/*, corpus/iff/malformed/*).

Every file is written out literally below, line by line, following exchange-iff.md; the script
only computes the byte offsets of secondary sections so that the `#FILE.SEC(offset)` pointers
are exact (or, in the malformed sets, deliberately wrong). Run from any directory:

    python3 corpus/iff/make_corpus.py

then regenerate expected.json with `MAILMIG_UPDATE_EXPECTED=1 cargo test -p mailmig-iff --test corpus`.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
TITLE = b"Type,Length,Encoding,Islast,Name,Position,Format\r\n"
MM_HEADER = "Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,Priority,Unread,Unsent,Body"
PAB_HEADER = ("Obj-class,Display-Name,Email-Address,First,Last,Address,City,State,Zip,Country,Title,"
              "Company,Department,Office,Assistant,Bus-Num,Bus2-Num,Assist-Num,Fax-Num,Home-Num,"
              "Home2-Num,Mobile-Num,Pager-Num,Note")
DIR_HEADER = ("Obj-class,Mode,Common-Name,Display-Name,Last Name,First Name,"
              "Secondary-Proxy-Addresses,Home-Server")


class Sec:
    """A secondary file under construction: title line, then sections."""

    def __init__(self, enc="cp1252", eol=b"\r\n"):
        self.data = bytearray(TITLE)
        self.enc = enc

    def add(self, typ, data, last, name="", pos="", fmt="", length=None):
        if isinstance(data, str):
            data = data.encode(self.enc)
        off = len(self.data)
        n = len(data) if length is None else length
        line = f"{typ},{n},,{'TRUE' if last else 'FALSE'},{name},{pos},{fmt}\r\n"
        self.data += line.encode(self.enc) + data + b"\r\n"
        return off


def write(set_dir, name, content, enc="cp1252", eol="\r\n"):
    os.makedirs(set_dir, exist_ok=True)
    if isinstance(content, list):
        content = "".join(line + eol for line in content).encode(enc)
    with open(os.path.join(set_dir, name), "wb") as f:
        f.write(content)


def features():
    d = os.path.join(HERE, "valid", "features")
    s = Sec()
    mac = bytes([0, 8]) + b"Note.txt".ljust(63, b"\0") + b"TEXTttxt" + bytes(54)
    o1 = s.add("Body", "Dear Jane,\r\nsee the attached files.\r\n", False)
    s.add("Attachment", mac, False, "Note.txt", "12", "Macbinary")
    s.add("Document", "Free document text\r\n", True, "\"memo, v2.doc\"", "", "None")
    o2 = s.add("Body", "For your information.", True)
    o3 = s.add("Other", "Multi-line\r\nsubject", True)
    o4 = s.add("Body", "", False)
    s.add("Schedule", "opaque schedule data", True)
    o5 = s.add("Body", "Short", True)
    o6 = s.add("Body", "Hello from a user without a DIRECTORY row.\r\n", True)
    o7 = s.add("Body", "Welcome to the board.\r\n", True)
    write(d, "DATA.SEC", bytes(s.data))
    write(d, "FEATURES.PKL", [
        "! CodePage", "1252", "", "DIRECTORY.PRI", "USER1.PRI", "PUBLIC.PRI", "DATA.SEC",
    ])
    write(d, "DIRECTORY.PRI", [
        "! DIRECTORY: backslash escapes, multi-values with doubled quotes, a remote recipient",
        "DIRECTORY",
        DIR_HEADER,
        'mailbox,create,JDoe,"Jane \\\\ Doe",Doe,Jane,"MIGRATE:PROFS:SANFRN/JDOE;SMTP:jane@example.com;""X400:c=US;a= ;p=Org;s=Doe""",~Server',
        "mailbox,create,NoMail,No Mail User,User,No,MIGRATE:CCMAIL:NoMail at HQ,SRV01",
        'remote,create,Ext1,"External, One",One,External,"SMTP:one@elsewhere.example",',
        'mailbox,create,Multi,"Line\\rTwo",,,MIGRATE:CCMAIL:Multi at HQ,~Server',
    ])
    write(d, "USER1.PRI", [
        "! Jane Doe: PAB owner in the migrate: form, continuation lines, pointers in any column",
        "PAB,migrate:PROFS:SANFRN/JDOE",
        "Obj-class,Display-Name,Email-\\\\",
        PAB_HEADER[len("Obj-class,Display-Name,Email-"):],
        "entry,Bob Smith,\"SMTP:bob@example.com\",Bob,Smith,1 Main St,Springfield,,,,,,,,,,,,,,,,,Met at the conference",
        "entry,No Address,,,,,,,,,,,,,,,,,,,,,,",
        "entry,Placeholder,USER: Placeholder,,,,,,,,,,,,,,,,,,,,,",
        'dl,Team,Bob Smith;"Smith; Jr";No Address,,,,,,,,,,,,,,,,,,,,,Team list',
        "",
        "MAILMESSAGE,PROFS:SANFRN/JDOE",
        MM_HEADER,
        f'Inbox,Bob Smith[SMTP:bob@example.com],"Jane Doe[PROFS:SANFRN/JDOE];""Smith; Jr[SMTP:jr@example.com]""",,,Hello,19990101120000,19990101120500,1,TRUE,,#DATA.SEC({o1})',
        f"Filed Mail\\FYI,Gamers [SMTP:gamers@example.com],Jane Doe,,,FYI,19990230000000,,,,,#DATA.SEC({o2})",
        f"Sent Items,Jane Doe,Bob Smith,,,#DATA.SEC({o3}),19990102000000,19990102000000,-1,FALSE,TRUE,#data.sec({o4})",
        "Inbox,Jane Doe,Bob Smith,,,Split sub\\\\",
        f"ject,,,,,,#DATA.SEC({o5})",
        "Deleted Items,Jane Doe,,,,Old,,,0,FALSE,FALSE,",
        "",
        "MAILMESSAGE,CCMAIL:Stranger at HQ",
        MM_HEADER,
        f"Inbox,Stranger,Jane Doe,,,Hi from nowhere,,,,,,#DATA.SEC({o6})",
    ])
    write(d, "PUBLIC.PRI", [
        "MAILMESSAGE,PublicMessages",
        MM_HEADER,
        f"Bulletin Boards\\General,Jane Doe,,,,Welcome,19980101000000,,,,,#DATA.SEC({o7})",
    ])
    write(d, "README", "Valid: escapes, doubled quotes, ; multi-values, continuations, comments, "
          "remote recipient, PAB with entry/dl/USER: placeholder, users without MAILMESSAGE, "
          "MAILMESSAGE without DIRECTORY, PublicMessages, special folders, invalid date, "
          "pointer in Subject (Other section), MacBinary, Document and Schedule sections.\n".encode())


def cp850_lf():
    d = os.path.join(HERE, "valid", "cp850-lf")
    s = Sec(enc="cp850")
    o1 = s.add("Body", "Grüße aus Zürich\n", True)
    write(d, "OLDMAC.PKL", ["850", "", "MAIL.PRI", "MAIL.SEC"], eol="\n")
    write(d, "MAIL.SEC", bytes(s.data))
    write(d, "MAIL.PRI", [
        "MAILMESSAGE,PublicMessage",
        MM_HEADER,
        f"Inbox,Jürgen Müller[SMTP:jm@example.com],,,,Grüße,20000229235959,,,,,#MAIL.SEC({o1})",
    ], enc="cp850", eol="\n")
    write(d, "README", b"Valid with warnings: code page 850 text, LF-only line ends in the packing list "
          b"and the primary file (accepted, warned), the SDK's PublicMessage spelling.\n")


def small_set(name, rows_fn, sec_fn=None, pkl_lines=None, readme=""):
    """One user, one primary, one secondary; rows_fn(offsets) gives the MAILMESSAGE rows."""
    d = os.path.join(HERE, "malformed", name)
    s = Sec()
    offs = [s.add("Body", f"Body of message {i}.\r\n", True) for i in (1, 2, 3)]
    if sec_fn:
        extra = sec_fn(s)
        offs.append(extra)
    write(d, "SET.PKL", pkl_lines or ["1252", "", "DIRECTORY.PRI", "USER.PRI", "USER.SEC"])
    write(d, "USER.SEC", bytes(s.data))
    write(d, "DIRECTORY.PRI", [
        "DIRECTORY", DIR_HEADER,
        "mailbox,create,AUser,A User,User,A,MIGRATE:CCMAIL:A User at PO,~Server",
    ])
    write(d, "USER.PRI", ["MAILMESSAGE,CCMAIL:A User at PO", MM_HEADER] + rows_fn(offs))
    write(d, "README", (readme + "\n").encode())


def row(subject, ptr):
    return f"Inbox,A User,A User,,,{subject},20010101000000,20010101000000,,,,{ptr}"


def malformed():
    small_set("bad-pointer",
              lambda o: [row("one", f"#USER.SEC({o[0]})"), row("two", f"#USER.SEC({o[1] + 3})"),
                         row("three", f"#USER.SEC({o[2]})")],
              readme="Malformed: message two points 3 bytes into a section line (not a section header); strict mode skips it, salvage resynchronises.")
    small_set("length-past-eof",
              lambda o: [row("one", f"#USER.SEC({o[0]})"), row("two", f"#USER.SEC({o[3]})"),
                         row("three", f"#USER.SEC({o[2]})")],
              sec_fn=lambda s: s.add("Body", "short", True, length=9999),
              readme="Malformed: message two's section declares Length 9999, past the end of the file.")
    small_set("missing-secondary",
              lambda o: [row("one", f"#USER.SEC({o[0]})"), row("two", "#MISSING.SEC(50)"),
                         row("three", f"#USER.SEC({o[2]})")],
              readme="Malformed: message two points into MISSING.SEC, which does not exist.")
    small_set("unterminated-quote",
              lambda o: [row("one", f"#USER.SEC({o[0]})"),
                         f'Inbox,A User,A User,,,"Unclosed subject,20010101000000,,,,,#USER.SEC({o[1]})',
                         row("three", f"#USER.SEC({o[2]})")],
              readme="Malformed: message two's Subject opens a quote that is never closed (KB Q154099, Event 27).")
    small_set("stray-quote",
              lambda o: [row("one", f"#USER.SEC({o[0]})"),
                         f'Inbox,A User,A User,,,"Quoted"tail,20010101000000,,,,,#USER.SEC({o[1]})',
                         row("three", f"#USER.SEC({o[2]})")],
              readme="Malformed: characters after a closing quote in message two (Event 27 \"characters found after end doublequote\").")
    small_set("column-count",
              lambda o: [row("one", f"#USER.SEC({o[0]})"),
                         f"Inbox,A User,A User,,,two,20010101000000,,,,#USER.SEC({o[1]})",
                         row("three", f"#USER.SEC({o[2]})")],
              readme="Malformed: message two has 11 fields, the header 12.")

    def looping(s):
        # A chain that never says Islast=TRUE: every section says FALSE up to the end of file.
        first = s.add("Body", "chain start", False)
        for i in range(20):
            s.add("Other", f"link {i}", False)
        return first
    small_set("unterminated-chain",
              lambda o: [row("one", f"#USER.SEC({o[0]})"), row("two", f"#USER.SEC({o[3]})"),
                         row("three", f"#USER.SEC({o[2]})")],
              sec_fn=looping,
              readme="Malformed: message two's chain never ends (Islast=FALSE to end of file, KB Q166543); read bounded, warned, not looped.")
    d = os.path.join(HERE, "malformed", "relined-secondary")
    small_set("relined-secondary",
              lambda o: [row("one", f"#USER.SEC({o[0]})"), row("two", f"#USER.SEC({o[1]})"),
                         row("three", f"#USER.SEC({o[2]})")],
              readme="Malformed: USER.SEC was re-line-ended in transit (CR LF -> LF), so every pointer and Length is off; strict mode skips all three messages, salvage restores CR LF and reads them.")
    with open(os.path.join(d, "USER.SEC"), "rb") as f:
        relined = f.read().replace(b"\r\n", b"\n")
    with open(os.path.join(d, "USER.SEC"), "wb") as f:
        f.write(relined)
    small_set("no-code-page",
              lambda o: [row("one", f"#USER.SEC({o[0]})")],
              pkl_lines=["DIRECTORY.PRI", "USER.PRI", "USER.SEC"],
              readme="Malformed: the packing list has no code-page line; there is no default (exchange-iff.md section 2), so the set is refused.")


def london():
    d = os.path.join(HERE, "valid", "london")
    s = Sec()
    o1 = s.add("Body", "Charles,\r\n\r\nThe draft of Note G is attached. The table of\r\nBernoulli numbers starts on page 3.\r\n\r\nAda\r\n", False)
    s.add("Attachment", "B0 = 1\r\nB1 = -1/2\r\nB2 = 1/6\r\n", True, "NOTE_G.TXT", "103", "None")
    o2 = s.add("Body", "Mary,\r\n\r\nThank you for the introduction to Mr Babbage.\r\n", True)
    assert (o1, o2, len(s.data)) == (50, 247, 323)
    write(d, "00000001.SEC", bytes(s.data))
    write(d, "LONDON.PKL", ["1252", "", "DIRECTORY.PRI", "00000001.PRI", "00000002.PRI", "00000001.SEC"])
    write(d, "DIRECTORY.PRI", [
        "DIRECTORY", DIR_HEADER,
        'mailbox,create,ALovelace,Ada Lovelace,Lovelace,Ada,"MIGRATE:CCMAIL:Lovelace, Ada at LONDON",~Server',
        'mailbox,create,CBabbage,Charles Babbage,Babbage,Charles,"MIGRATE:CCMAIL:Babbage, Charles at LONDON",~Server',
    ])
    write(d, "00000001.PRI", [
        "! mailmig example: mailbox of Ada Lovelace",
        'PAB,"CCMAIL:Lovelace, Ada at LONDON"',
        PAB_HEADER,
        'entry,Mary Somerville,"CCMAIL:Somerville, Mary at CAMBRIDGE",Mary,Somerville,,,,,,,,,,,,,,,,,,,',
        "dl,Engine Friends,Mary Somerville;Charles Babbage,,,,,,,,,,,,,,,,,,,,,Correspondents on the Engine",
        "",
        'MAILMESSAGE,"CCMAIL:Lovelace, Ada at LONDON"',
        MM_HEADER,
        f'Sent Items,Ada Lovelace,"Charles Babbage[CCMAIL:Babbage, Charles at LONDON]",,,Note G draft,19990314090500,19990314090500,,,,#00000001.SEC({o1})',
        f'"Correspondence\\Somerville",Ada Lovelace,Mary Somerville,,,"Thanks, and a question",19990316101500,19990316101500,,,,#00000001.SEC({o2})',
    ])
    write(d, "00000002.PRI", ['MAILMESSAGE,"CCMAIL:Babbage, Charles at LONDON"', MM_HEADER])
    write(d, "README", b"Valid: the worked example of exchange-iff.md section 13, byte for byte (Charles Babbage has no mail and still has a MAILMESSAGE section).\n")


london()
features()
cp850_lf()
malformed()
