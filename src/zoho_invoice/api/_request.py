"""The public escape hatch's rules: which paths and methods ``client.request()`` sends.

``ZohoInvoice.request(method, path, ...)`` reaches any Invoice API endpoint without a model, with
the same token, budget, retries and error mapping as the resources (which go through it too).
The path is relative to ``{api_domain}/invoice/v3``; anything that could carry the token to
another host or out of the API root (a scheme, ``//``, ``..``, ``\\``, percent-escapes, a query
or fragment in the path) is refused here, before a request exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._exceptions import InvalidRequestError
from ._base_client import RequestOptions

__all__ = ["METHODS", "build_options", "check_path"]

#: The methods Zoho's Invoice API uses.
METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})

# One or more segments of letters, digits, "_", "-" and "."; each segment non-empty. Zoho's paths
# (``/invoices/123/status/sent``, ``/settings/taxgroups/9``, ``/contacts/contactpersons/5``) need
# nothing else, and this alphabet cannot spell a host, a scheme, a query or an escape.
_PATH = re.compile(r"(?:/[A-Za-z0-9_.\-]+)+/?")
#: ``GET /organizations`` (and one organization) is the only call made without an organization.
_NO_ORG = re.compile(r"/organizations(?:/[^/]+)?/?")


def check_path(path: str) -> str:
    """``path`` if it stays under the API root, else ``InvalidRequestError`` (a ``ValueError``).

    >>> check_path("/invoices/982000000567114/comments")
    '/invoices/982000000567114/comments'
    """
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise InvalidRequestError(
            "path must be relative to the Invoice API root, like '/invoices/123/comments' "
            "(no scheme, host, query, '//', '..' or escapes); pass the query as params="
        )
    if any(segment in (".", "..") for segment in path.split("/")):
        raise InvalidRequestError("path must not contain '.' or '..' segments")
    return path


def build_options(
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Mapping[str, Any] | None = None,
    idempotent: bool | None = None,
    accept: str = "application/json",
) -> RequestOptions:
    """One checked call: ``idempotent=None`` means GET, PUT and DELETE repeat, POST does not."""
    verb = method.upper() if isinstance(method, str) else ""
    if verb not in METHODS:
        raise InvalidRequestError(f"method must be one of {', '.join(sorted(METHODS))}")
    check_path(path)
    return RequestOptions(
        verb,
        path,
        params=params,
        body=json,
        idempotent=idempotent,
        needs_org=not (verb == "GET" and _NO_ORG.fullmatch(path)),
        accept=accept,
    )
