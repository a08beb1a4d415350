"""Posting an alert to a webhook, safely: the URL is the user's, the network is ours.

A webhook URL is chosen by any Contributor, so sending to it is a request our server makes on
their behalf (SSRF). Each delivery therefore:

1. accepts only http:// and https:// URLs with a host name and no credentials in them;
2. resolves the host once and refuses it if any address is not a public one (loopback, private,
   link-local — the cloud metadata service at 169.254.169.254 —, multicast, reserved, and the
   IPv4 address inside IPv4-mapped, NAT64 and 6to4 IPv6 addresses); an operator may allow
   private and loopback targets (STUDIO_ALERTS_ALLOW_PRIVATE_WEBHOOKS), never link-local,
   multicast or unspecified ones;
3. connects to the address it checked (a second look-up could answer otherwise: DNS rebinding),
   sending the URL's host name as Host and, for HTTPS, as the name the certificate must carry;
4. follows no redirect, waits at most STUDIO_ALERTS_WEBHOOK_TIMEOUT_SECONDS per step and three
   times that in all, and keeps only a short status of the answer ("HTTP 200"), never its body.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from django.conf import settings

from tracking.errors import InvalidParameterValue

MAX_URL_LENGTH = 2000
USER_AGENT = "Studio-Alerts/1"
# Read this much of an answer at most, then hang up: the status is what we keep.
MAX_ANSWER_BYTES = 1024
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# A delivery takes at most this many timeouts in all (connecting, sending, a slow answer).
TOTAL_STEPS = 3


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: str  # "HTTP 200", "timed out after 5 s", "refused: ..."
    retry: bool = False  # worth trying again later (a timeout, a 5xx, a 429)


class Refused(Exception):
    """The URL or its address may not be posted to."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str) -> Target:
    """The URL's parts, or Refused saying what is wrong with it (no network use)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise Refused(f"a webhook URL is 1 to {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise Refused("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Refused(f"not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("only http:// and https:// webhooks are allowed")
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("credentials in the URL are not allowed (put a token in the path)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default_port = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default_port, path)


def address_refusal(
    address: str,
    *,
    allow_private: bool | None = None,
    allowed_by: str = "STUDIO_ALERTS_ALLOW_PRIVATE_WEBHOOKS",
) -> str:
    """Why posting to this IP address is refused, or "" when it is allowed (private and loopback
    ones too when `allow_private`, by default the alerts' setting, says so)."""
    if allow_private is None:
        allow_private = settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(str(embedded), allow_private=allow_private, allowed_by=allowed_by)
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return f"{ip} is a link-local, multicast or unspecified address"
    if ip.is_global:
        return ""
    if allow_private and (ip.is_private or ip.is_loopback):
        return ""
    return f"{ip} is not a public address ({allowed_by} allows private ones)"


def check_url(url: str) -> str:
    """The URL, stripped, if a rule may keep it; INVALID_PARAMETER_VALUE otherwise. A host given as
    an address is checked now; a name is resolved, and checked, at each delivery."""
    url = (url or "").strip()
    try:
        target = parse_url(url)
        try:
            literal = ipaddress.ip_address(target.host)
        except ValueError:
            literal = None
        if literal is not None and (why := address_refusal(str(literal))):
            raise Refused(why)
    except Refused as refused:
        raise InvalidParameterValue(f"The webhook URL is refused: {refused}.") from None
    return url


def masked(url: str) -> str:
    """The URL as a Reader sees it: scheme and host only (its path often holds a token)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "…"
    return f"{parts.scheme}://{host}/…"


def _resolve(target: Target) -> str:
    """The one address to connect to; Refused if the name resolves to any refused address."""
    try:
        found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(f"cannot resolve {target.host}: {error}") from None
    addresses = [info[4][0] for info in found]
    if not addresses:
        raise Refused(f"cannot resolve {target.host}")
    for address in addresses:
        if why := address_refusal(address):
            raise Refused(why)
    return addresses[0]


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post_json(url: str, payload: dict) -> Outcome:
    """POSTs the payload as JSON; what happened, as an Outcome (never raises for the network)."""
    timeout = settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS
    try:
        target = parse_url(url)
        address = _resolve(target)
    except Refused as refused:
        return Outcome(False, f"refused: {refused}"[:300])
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = kind(target.host, target.port, address=address, timeout=timeout)
    # Each step waits at most `timeout`; a server that answers a byte at a time is cut off here.
    cut = threading.Event()
    deadline = threading.Timer(timeout * TOTAL_STEPS, _cut, args=(connection, cut))
    deadline.start()
    try:
        connection.request(
            "POST",
            target.path,
            body=orjson.dumps(payload),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        answer = connection.getresponse()
        answer.read(MAX_ANSWER_BYTES)
        status = answer.status
    except TimeoutError:
        return Outcome(False, f"timed out after {timeout:g} s", retry=True)
    except ssl.SSLError as error:
        return Outcome(False, f"TLS error: {error.reason or error}"[:300], retry=False)
    except (OSError, http.client.HTTPException) as error:
        status, failure = 0, f"connection failed: {type(error).__name__} {error}"[:300]
    finally:
        deadline.cancel()
        connection.close()
    if cut.is_set():  # cut off half-way: what was read, if anything, is not an answer
        return Outcome(False, f"took longer than {timeout * TOTAL_STEPS:g} s in all", retry=True)
    if not status:
        return Outcome(False, failure, retry=True)
    if 200 <= status < 300:
        return Outcome(True, f"HTTP {status}")
    if 300 <= status < 400:
        return Outcome(False, f"HTTP {status}: redirects are not followed")
    return Outcome(False, f"HTTP {status}", retry=status >= 500 or status in (408, 429))
