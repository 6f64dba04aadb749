"""Whether an HTTP client verifies TLS, and where it may skip that (SECURITY 10, 50).

One rule for the OAuth client and the Invoice API client: verification may be off only for
URLs that are plain ``http`` on a loopback IP literal (the sandbox's shape). An injected
client is checked here, once, by both.

httpx2 exposes no public "does this client verify" switch, so the transports are inspected:
an HTTP transport must carry a context that requires a certificate and checks the host name;
in-process transports (Mock, ASGI, WSGI) never open a socket, let alone TLS. Any other
transport cannot be checked and counts as not verifying.
"""

from __future__ import annotations

import ipaddress
import ssl
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError
from ._http import httpx

__all__ = ["is_loopback_http", "require_verified_tls", "tls_problem"]

_IN_PROCESS_TRANSPORTS = (httpx.MockTransport, httpx.ASGITransport, httpx.WSGITransport)
_HTTP_TRANSPORTS = (httpx.HTTPTransport, httpx.AsyncHTTPTransport)


def is_loopback_http(url: str) -> bool:
    """True for ``http://`` on a loopback IP literal (127.0.0.0/8, ``[::1]``).

    A name such as ``localhost`` does not count: it is whatever the resolver says it is.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _verifies(context: object) -> bool:
    return (
        isinstance(context, ssl.SSLContext)
        and context.verify_mode == ssl.CERT_REQUIRED
        and context.check_hostname
    )


def tls_problem(http: object) -> str | None:
    """Why ``http`` could reach a host without checking its certificate; ``None`` if it cannot.

    Every transport the client may route through is looked at: the default one and each
    mount (proxies included).
    """
    mounts = getattr(http, "_mounts", {}) or {}
    for transport in (getattr(http, "_transport", None), *mounts.values()):
        if transport is None or isinstance(transport, _IN_PROCESS_TRANSPORTS):
            continue
        if isinstance(transport, _HTTP_TRANSPORTS):
            if _verifies(getattr(getattr(transport, "_pool", None), "_ssl_context", None)):
                continue
            return "does not verify TLS certificates"
        return (
            f"uses a transport ({type(transport).__name__}) whose TLS verification cannot be "
            "checked"
        )
    return None


def require_verified_tls(http: object, *, user: str, where: str) -> None:
    """``ConfigurationError`` unless ``http`` verifies TLS (or never opens a socket).

    ``user`` names who was given the client ("the OAuth client"), ``where`` the hosts that
    need verification (for the message).
    """
    problem = tls_problem(http)
    if problem is not None:
        raise ConfigurationError(
            f"the HTTP client given to {user} {problem}; {where} is only reached with TLS "
            "verification on (it may be off only where every URL is plain http on a loopback "
            "IP address, such as the sandbox's)"
        )
