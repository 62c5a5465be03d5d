"""The guard of every outbound HTTP call: no server-side request forgery, no endless answers.

An app definition names URLs (webhooks, ``call`` actions) and an admin names robots and gateways;
none of them may make the server reach into its own network. Each host is resolved and every
address checked: loopback, private, link-local (169.254.0.0/16, the cloud metadata service),
multicast, reserved and unspecified addresses — IPv4, IPv6 and IPv4 inside IPv6 — are refused
unless ``GONGDAN_OUTBOUND_ALLOW`` lists the host or a network holding the address. The check runs
before the request and again when the socket connects (a name that resolves differently the
second time cannot slip through). Redirects are followed by hand, each target checked; answers
are read up to a size limit within one overall deadline.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

import httpcore
import httpx

import engine.jobs.channel_messages  # noqa: F401  (registers the channels' messages)
from engine.config import load_settings, redact
from engine.i18n import Message, t

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The most of an answer read; a longer one is refused without reading the rest.
MAX_ANSWER_BYTES = 1_000_000
MAX_REDIRECTS = 3
DEFAULT_TIMEOUT_S = 10.0
#: How much of a refusing answer is kept in an error (and so in ``outbox.last_error``).
ANSWER_EXCERPT = 200
#: 4xx answers that mean "try again later" rather than "this request will never work".
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DeliveryError(Exception):
    """A delivery that did not happen; ``permanent`` ones are not retried (the row goes dead).

    The reason is kept with every URL in it masked (tokens, keys, passwords), because it ends up
    in ``outbox.last_error``, in logs and in the admin's dead-letter list.
    """

    def __init__(
        self,
        reason: str,
        permanent: bool = False,
        code: str | None = None,
        params: dict[str, Any] | None = None,
    ):
        reason = redact(reason)
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        #: The message code and (masked) parameters the reason was worded from, when it was: what is
        #: stored, so each reader sees the error in their own language (see engine/jobs/outbox.py).
        self.code = code
        self.params = {k: _masked(v) for k, v in (params or {}).items()}

    @classmethod
    def of(cls, code: str, permanent: bool = False, /, **params: Any) -> DeliveryError:
        """A refusal worded by the message ``code``; its ``reason`` is in the server's language
        (GONGDAN_LANG) for logs, while the code and parameters are kept for every other reader."""
        return cls(t(code, None, **params), permanent, code, params)

    def scrubbed(self, clean: Callable[[str], str]) -> DeliveryError:
        """The same error with ``clean`` (text → text) applied to its reason and parameters."""
        params = {k: _masked(v, clean) for k, v in self.params.items()}
        return DeliveryError(clean(self.reason), self.permanent, self.code, params)


def _masked(value: Any, clean: Callable[[str], str] = redact) -> Any:
    """A message parameter as kept with an error: numbers as they are, a message inside the message
    with its own parameters masked, anything else as text with its URLs masked."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Message):
        return Message(value.code, {k: _masked(v, clean) for k, v in value.params.items()})
    return clean(str(value))


def http_failure(status: int, body: bytes) -> DeliveryError:
    """The error for a non-2xx answer: permanent for 4xx except the try-later ones."""
    text = body.decode("utf-8", "replace")[:ANSWER_EXCERPT]
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    return DeliveryError(f"HTTP {status}: {text}", permanent=permanent)


# ----------------------------------------------------------------------------- addresses
@dataclass(frozen=True)
class OutboundPolicy:
    """What the admin allowed beyond public addresses: host names (``*.corp.cn``) and networks."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> OutboundPolicy:
        hosts, suffixes, networks = set(), [], []
        for entry in entries:
            entry = entry.strip().lower().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if entry.startswith("*."):
                    suffixes.append(entry[1:])
                else:
                    hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(suffixes), tuple(networks))

    @classmethod
    def current(cls) -> OutboundPolicy:
        return _policy(load_settings().outbound_allow)

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or any(host.endswith(s) for s in self.suffixes)

    def allows_address(self, ip: IPAddress) -> bool:
        return any(ip.version == n.version and ip in n for n in self.networks)


@cache
def _policy(entries: tuple[str, ...]) -> OutboundPolicy:
    return OutboundPolicy.parse(entries)


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses hidden in an IPv6 one: mapped (::ffff:a.b.c.d), 6to4, Teredo and NAT64."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def address_problem(ip: IPAddress) -> str | None:
    """Why the server must not connect to ``ip`` (a kind of address), or None for a public one."""
    for candidate in (*_embedded_ipv4(ip), ip):  # the IPv4 inside first: it says more
        for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
            if getattr(candidate, f"is_{kind}"):
                return kind
        if not candidate.is_global:
            return "reserved"
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryError.of("channel.host_unknown", False, host=host, reason=str(exc)) from None
    found: dict[IPAddress, None] = {}
    for family, *_, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            found[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(found)


def permitted_addresses(host: str, port: int, policy: OutboundPolicy | None = None) -> list[IPAddress]:
    """The addresses of ``host`` the server may connect to (only those are ever used); a permanent
    DeliveryError naming a refused address when there is none."""
    policy = policy or OutboundPolicy.current()
    addresses = _resolve(host, port)
    if not addresses:
        raise DeliveryError.of("channel.host_unknown", False, host=host, reason="no address")
    if policy.allows_host(host):
        return addresses
    problems = {ip: address_problem(ip) for ip in addresses}
    permitted = [ip for ip, problem in problems.items() if not problem or policy.allows_address(ip)]
    if not permitted:
        ip, problem = next(iter(problems.items()))
        raise DeliveryError.of(
            "channel.address_refused",
            True,
            host=host,
            address=str(ip),
            kind=Message(f"channel.kind.{problem}", {}),
        )
    return permitted


def check_outbound_url(url: str) -> None:
    """Refuse (DeliveryError, permanent) a URL the server must not call: not http(s), no host,
    or a host with a private/loopback/link-local/… address the allow-list does not permit."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise DeliveryError.of("channel.bad_url", True, url=url, reason=str(exc)) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise DeliveryError.of("channel.bad_url", True, url=url, reason="http:// or https:// with a host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    permitted_addresses(parsed.host, port)


# ----------------------------------------------------------------------------- the client
class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the policy permits — checked at connect time, on the address used."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for ip in permitted_addresses(host, port):
            try:
                return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # httpx has no public switch for the network backend; its connection pool takes one.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),  # SSL_CERT_FILE/SSL_CERT_DIR are honoured
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(),
        )


@cache
def _client() -> httpx.Client:
    """One client for every outbound call: keep-alive, one TLS context, no proxies from the environment."""
    return httpx.Client(transport=_GuardedTransport(), follow_redirects=False, trust_env=False)


class OutboundResponse(NamedTuple):
    """A finished answer: its status and the (size-limited) body; unpacks as ``status, body``."""

    status: int
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _next_request(request: httpx.Request, status: int, location: str) -> httpx.Request:
    """The request a redirect asks for: 303 (and 301/302 of a POST) become a GET without a body."""
    url = request.url.join(location)
    method = request.method
    headers = httpx.Headers(request.headers)
    headers.pop("Host", None)
    content: bytes | None = request.content
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, content = "GET", None
        for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
            headers.pop(name, None)
    if url.host != request.url.host or url.scheme != request.url.scheme:
        headers.pop("Authorization", None)
        headers.pop("Cookie", None)
    return _client().build_request(
        method, url, headers=headers, content=content, extensions=request.extensions
    )


def _read(answer: httpx.Response, max_bytes: int, deadline: float, url: str) -> bytes:
    declared = answer.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DeliveryError.of("channel.answer_too_large", True, url=url, limit=max_bytes)
    body = bytearray()
    for chunk in answer.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise DeliveryError.of("channel.answer_too_large", True, url=url, limit=max_bytes)
        if time.monotonic() > deadline:
            raise DeliveryError.of("channel.timeout", False, url=url)
    return bytes(body)


def safe_http_request(
    method: str,
    url: str,
    *,
    max_redirects: int = MAX_REDIRECTS,
    max_bytes: int = MAX_ANSWER_BYTES,
    timeout: float = DEFAULT_TIMEOUT_S,
    **kw: Any,
) -> OutboundResponse:
    """Make one guarded HTTP request (``kw`` as for ``httpx.Client.build_request``: params, json,
    content, headers). Redirects are followed up to ``max_redirects`` (0: a 3xx is the answer), every
    target checked; the answer is read up to ``max_bytes`` within ``timeout`` seconds overall.

    Raises DeliveryError: permanent for a refused address, a bad URL, too many redirects or an
    oversized answer; temporary for timeouts and network errors. Any HTTP status is returned.
    """
    deadline = time.monotonic() + timeout
    client = _client()
    check_outbound_url(url)
    try:
        request = client.build_request(method, url, timeout=timeout, **kw)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, TypeError, ValueError) as exc:
        raise DeliveryError.of("channel.bad_url", True, url=url, reason=str(exc)) from None
    for hop in range(max_redirects + 1):
        try:
            answer = client.send(request, stream=True)
            try:
                location = answer.headers.get("Location")
                if answer.status_code in REDIRECTS and location and hop < max_redirects:
                    request = _next_request(request, answer.status_code, location)
                    check_outbound_url(str(request.url))
                    continue
                if answer.status_code in REDIRECTS and location and max_redirects:
                    raise DeliveryError.of("channel.too_many_redirects", True, url=url, limit=max_redirects)
                return OutboundResponse(answer.status_code, _read(answer, max_bytes, deadline, url))
            finally:
                answer.close()
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise DeliveryError.of("channel.bad_url", True, url=url, reason=str(exc)) from None
        except httpx.HTTPError as exc:  # timeouts and network errors, named as httpx names them
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:ANSWER_EXCERPT]) from None
    raise AssertionError("unreachable")  # pragma: no cover


class _RedactingFilter(logging.Filter):
    """httpx logs every request line with its full URL (robot tokens in the query): mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(a if isinstance(a, int | float) else redact(str(a)) for a in record.args)
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_RedactingFilter())
