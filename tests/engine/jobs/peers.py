"""Real protocol peers for the channel tests: an SMTP server (aiosmtpd, with LOGIN/PLAIN and TLS from a
certificate made on the spot) and a tiny HTTP server that answers with an endless body."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "mailer", "p@ss:w0rd"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.crt", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def server_tls(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps what it accepted; ``refuse`` makes RCPT answer with that line."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: str | None = None
    logins: list[str] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        self.received.set()
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
            USER,
            PASSWORD,
        )
        if ok:
            self.logins.append(mechanism)
        return AuthResult(success=ok, handled=False)


class LocalSMTP(Controller):
    """aiosmtpd on 127.0.0.1 and a free port (the stock controller cannot be told port 0)."""

    def __init__(self, mailbox: Mailbox, **kwargs: Any):
        super().__init__(
            mailbox,
            hostname="127.0.0.1",
            port=0,
            authenticator=mailbox.authenticate,
            auth_required=True,
            **kwargs,
        )

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _Endless(BaseHTTPRequestHandler):
    """Answers GET and POST with a body that never ends (maybe announcing 2 GB), counting what it sent."""

    protocol_version = "HTTP/1.1"
    chunk = b"x" * 65536

    def do_GET(self) -> None:
        server: EndlessServer = self.server  # type: ignore[assignment]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if server.announce:
            self.send_header("Content-Length", str(2 * 1024**3))
        self.end_headers()
        try:
            while server.sent < 2 * 1024**3:
                self.wfile.write(self.chunk)
                server.sent += len(self.chunk)
        except OSError:
            pass  # the client hung up: what we wanted
        finally:
            server.done.set()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, *args: Any) -> None:
        pass


class EndlessServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, announce: bool):
        super().__init__(("127.0.0.1", 0), _Endless)
        self.announce = announce
        self.sent = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/big"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
