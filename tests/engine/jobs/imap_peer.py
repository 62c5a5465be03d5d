"""A small IMAP4rev1 server for the mail-in tests, on a real socket with real TLS.

It speaks just enough of RFC 3501 for imaplib: CAPABILITY, STARTTLS, LOGIN, SELECT, SEARCH UNSEEN,
FETCH (BODY.PEEK[] leaves a mail unread; RFC822 and BODY[] mark it read, as real servers do),
STORE +FLAGS (\\Seen), NOOP and LOGOUT, each also as a UID command. One folder, held in memory.
"""

from __future__ import annotations

import re
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.engine.jobs.peers import server_tls

TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\([^)]*\))|(\S+)')


@dataclass
class Stored:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


class ImapPeer:
    """``with ImapPeer(cert, key, tls="implicit") as peer: peer.add(raw)``; ``peer.port`` to connect."""

    def __init__(self, cert_file: Path, key_file: Path, user: str, password: str, tls: str = "implicit"):
        self.tls_context = server_tls(cert_file, key_file)
        self.user, self.password, self.tls = user, password, tls
        self.folder = "INBOX"
        self.mails: list[Stored] = []
        self.commands: list[str] = []
        self.lock = threading.Lock()
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                Session(peer, self.request).run()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def __enter__(self) -> ImapPeer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, raw: bytes) -> int:
        with self.lock:
            uid = len(self.mails) + 1
            self.mails.append(Stored(uid, raw))
            return uid

    def unseen(self) -> list[int]:
        with self.lock:
            return [m.uid for m in self.mails if "\\Seen" not in m.flags]


class Session:
    """One client connection."""

    def __init__(self, peer: ImapPeer, sock: socket.socket):
        self.peer = peer
        self.sock: Any = sock
        self.state = "new"

    def run(self) -> None:
        if self.peer.tls == "implicit":
            self.sock = self.peer.tls_context.wrap_socket(self.sock, server_side=True)
        reader = self.sock.makefile("rb")
        self.send(b"* OK [CAPABILITY IMAP4rev1] gongdan test peer ready")
        while True:
            line = reader.readline(65536)
            if not line:
                return
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            words = rest.split(b" ", 1)
            name = words[0].upper().decode()
            args = [a for a in _tokens(words[1] if len(words) > 1 else b"")]
            by_uid = name == "UID"
            if by_uid:
                name, args = args[0].upper().decode(), args[1:]
            self.peer.commands.append(" ".join(["UID"] * by_uid + [name, *(a.decode() for a in args)]))
            handler = getattr(self, f"c_{name.lower()}", None)
            if handler is None:
                self.send(tag + b" BAD unknown command")
                continue
            outcome = handler(tag, args, by_uid)
            if outcome == "starttls":
                self.sock = self.peer.tls_context.wrap_socket(self.sock, server_side=True)
                reader = self.sock.makefile("rb")
            elif outcome == "bye":
                self.sock.close()
                return

    def send(self, data: bytes) -> None:
        self.sock.sendall(data + b"\r\n")

    # ------------------------------------------------------------------ commands
    def c_capability(self, tag: bytes, args: list[bytes], by_uid: bool) -> None:
        extra = (
            b" STARTTLS" if self.peer.tls == "starttls" and not isinstance(self.sock, ssl.SSLSocket) else b""
        )
        self.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN" + extra)
        self.send(tag + b" OK CAPABILITY completed")

    def c_starttls(self, tag: bytes, args: list[bytes], by_uid: bool) -> str:
        self.send(tag + b" OK begin TLS negotiation now")
        return "starttls"

    def c_noop(self, tag: bytes, args: list[bytes], by_uid: bool) -> None:
        self.send(tag + b" OK NOOP completed")

    def c_login(self, tag: bytes, args: list[bytes], by_uid: bool) -> None:
        if not isinstance(self.sock, ssl.SSLSocket):
            self.send(tag + b" NO [PRIVACYREQUIRED] use TLS first")
        elif [a.decode() for a in args] == [self.peer.user, self.peer.password]:
            self.state = "auth"
            self.send(tag + b" OK LOGIN completed")
        else:
            self.send(tag + b" NO [AUTHENTICATIONFAILED] invalid credentials")

    def c_select(self, tag: bytes, args: list[bytes], by_uid: bool) -> None:
        if self.state == "new":
            self.send(tag + b" BAD log in first")
        elif args[0].decode() != self.peer.folder:
            self.send(tag + b" NO [NONEXISTENT] no such mailbox")
        else:
            self.state = "selected"
            with self.peer.lock:
                count = len(self.peer.mails)
            self.send(b"* FLAGS (\\Seen)")
            self.send(b"* %d EXISTS" % count)
            self.send(b"* 0 RECENT")
            self.send(b"* OK [UIDVALIDITY 1] UIDs valid")
            self.send(tag + b" OK [READ-WRITE] SELECT completed")

    def c_search(self, tag: bytes, args: list[bytes], by_uid: bool) -> None:
        if not self._selected(tag):
            return
        if [a.upper() for a in args] != [b"UNSEEN"]:
            self.send(tag + b" BAD only SEARCH UNSEEN is supported here")
            return
        with self.peer.lock:
            found = [
                (m.uid if by_uid else i) for i, m in enumerate(self.peer.mails, 1) if "\\Seen" not in m.flags
            ]
        self.send(b"* SEARCH" + b"".join(b" %d" % n for n in found))
        self.send(tag + b" OK SEARCH completed")

    def c_fetch(self, tag: bytes, args: list[bytes], by_uid: bool) -> None:
        if not self._selected(tag):
            return
        what = args[1].upper().strip(b"()")
        if what not in (b"BODY.PEEK[]", b"BODY[]", b"RFC822"):
            self.send(tag + b" BAD only BODY.PEEK[], BODY[] and RFC822 are supported here")
            return
        for seq, mail in self._pick(args[0], by_uid):
            if what != b"BODY.PEEK[]":
                mail.flags.add("\\Seen")
            item = b"RFC822" if what == b"RFC822" else b"BODY[]"
            self.sock.sendall(
                b"* %d FETCH (UID %d %s {%d}\r\n" % (seq, mail.uid, item, len(mail.raw)) + mail.raw
            )
            self.send(b")")
        self.send(tag + b" OK FETCH completed")

    def c_store(self, tag: bytes, args: list[bytes], by_uid: bool) -> None:
        if not self._selected(tag):
            return
        if args[1].upper() != b"+FLAGS":
            self.send(tag + b" BAD only +FLAGS is supported here")
            return
        flags = args[2].strip(b"()").decode().split()
        for seq, mail in self._pick(args[0], by_uid):
            mail.flags.update(flags)
            shown = " ".join(sorted(mail.flags)).encode()
            self.send(b"* %d FETCH (UID %d FLAGS (%s))" % (seq, mail.uid, shown))
        self.send(tag + b" OK STORE completed")

    def c_logout(self, tag: bytes, args: list[bytes], by_uid: bool) -> str:
        self.send(b"* BYE logging out")
        self.send(tag + b" OK LOGOUT completed")
        return "bye"

    def _selected(self, tag: bytes) -> bool:
        if self.state != "selected":
            self.send(tag + b" BAD select a mailbox first")
        return self.state == "selected"

    def _pick(self, which: bytes, by_uid: bool) -> list[tuple[int, Stored]]:
        wanted = {int(n) for n in which.split(b",")}
        with self.peer.lock:
            return [(i, m) for i, m in enumerate(self.peer.mails, 1) if (m.uid if by_uid else i) in wanted]


def _tokens(text: bytes) -> list[bytes]:
    out = []
    for quoted, listed, atom in TOKEN.findall(text):
        if quoted or (not listed and not atom):
            out.append(re.sub(rb"\\(.)", rb"\1", quoted))
        else:
            out.append(listed or atom)
    return out
