"""Log-safe rendering of text that may hold secrets (SECURITY 38).

``redact(text)`` masks what looks like a Zoho token (``1000.<hex>.<hex>``), the values of
``code=``, ``state=``, ``code_verifier=``, ``client_secret=``, ``refresh_token=``,
``access_token=`` and ``token=`` (in query strings, form bodies, JSON and Python reprs), the
credentials of ``Authorization`` headers, and escapes CR/LF and other control characters so a
value from outside cannot forge a log line.

``redact("revoke?token=1000.ab12.cd34")`` gives ``"revoke?token=[redacted]"``, and a line
break inside a value comes out as the two characters ``\\n``.

``RedactingFilter`` applies it to every log record::

    handler.addFilter(RedactingFilter())
"""

from __future__ import annotations

import logging
import re

__all__ = ["MASK", "RedactingFilter", "install_redacting_filter", "redact"]

MASK = "[redacted]"

_KEYS = (
    "access_token",
    "refresh_token",
    "client_secret",
    "code_verifier",
    "session_token",
    "token",
    "state",
    "code",
)
_KEY_ALTERNATION = "|".join(_KEYS)

# A Zoho OAuth token: "1000." then two dot-separated hex parts.
_ZOHO_TOKEN = re.compile(r"\b1000\.[0-9a-fA-F]+\.[0-9a-fA-F]+\b")
# key=value in a query string, a form body or a log message ("error_code=" is not "code=").
_KEY_EQUALS = re.compile(
    rf"(?<![A-Za-z0-9_\-])({_KEY_ALTERNATION})(=)([\"']?)(?!\[redacted\])([^&\s\"'<>;,)\]}}\\]+)",
    re.IGNORECASE,
)
# "key": "value" in JSON, 'key': 'value' in a Python repr.
_KEY_QUOTED = re.compile(
    rf"([\"'])({_KEY_ALTERNATION})\1(\s*[:=]\s*)([\"'])(.*?)(\4)",
    re.IGNORECASE | re.DOTALL,
)
# Authorization headers and bare credential schemes.
_AUTH_HEADER = re.compile(
    r"(authorization[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(bearer|zoho-oauthtoken|basic|token)\s+)?([^\s\"',;\\]+)",
    re.IGNORECASE,
)
_AUTH_SCHEME = re.compile(r"\b(bearer|zoho-oauthtoken)(\s+)(?!\[redacted\])([^\s\"',;\\]+)", re.I)
# The connect session token rides in the path of GET /connect/{session_token}.
_CONNECT_PATH = re.compile(r"(/connect/)([A-Za-z0-9_\-]{16,})")

# CR/LF, the other C0 controls but tab, DEL, and Unicode's line breaks.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_NAMED_ESCAPES = {"\r": "\\r", "\n": "\\n"}


def _escape_control(match: re.Match[str]) -> str:
    char = match.group(0)
    return _NAMED_ESCAPES.get(char) or f"\\x{ord(char):02x}"


def _mask_auth_header(match: re.Match[str]) -> str:
    scheme = match.group(2)
    return match.group(1) + (f"{scheme} " if scheme else "") + MASK


def redact(text: object, *, escape_newlines: bool = True) -> str:
    """``text`` as a string with secrets masked and control characters escaped.

    ``escape_newlines=False`` keeps line breaks (for tracebacks we wrote ourselves).
    """
    out = text if isinstance(text, str) else str(text)
    out = _KEY_QUOTED.sub(lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4]}{MASK}{m[6]}", out)
    out = _KEY_EQUALS.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{MASK}", out)
    out = _AUTH_HEADER.sub(_mask_auth_header, out)
    out = _AUTH_SCHEME.sub(lambda m: f"{m[1]}{m[2]}{MASK}", out)
    out = _ZOHO_TOKEN.sub("1000." + MASK, out)
    out = _CONNECT_PATH.sub(lambda m: m[1] + MASK, out)
    if escape_newlines:
        out = _CONTROL.sub(_escape_control, out)
    return out


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record it sees; it never drops one.

    Attach it to handlers (it then sees records from every logger) or to a logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, escape_newlines=False)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, escape_newlines=False)
        return True


def install_redacting_filter(logger: logging.Logger | str) -> None:
    """Add one ``RedactingFilter`` to ``logger`` (idempotent)."""
    target = logging.getLogger(logger) if isinstance(logger, str) else logger
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())
