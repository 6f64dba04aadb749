"""Log-safe rendering of text that may hold secrets (SECURITY 38).

``redact(text)`` masks what looks like a Zoho token (``1000.<hex>.<hex>``), the values of
``code=``, ``state=``, ``code_verifier=``, ``client_secret=``, ``refresh_token=``,
``access_token=`` and ``token=`` (in query strings, form bodies, JSON and Python reprs), the
credentials of ``Authorization`` headers, and escapes CR/LF and other control characters so a
value from outside cannot forge a log line.

``redact("revoke?token=1000.ab12.cd34")`` gives ``"revoke?token=[redacted]"``, and a line
break inside a value comes out as the two characters ``\\n``.

``RedactingFilter`` applies it to every log record a handler sees::

    handler.addFilter(RedactingFilter())

and ``install_redaction("uvicorn", "httpx2")`` to every record of those loggers and their
children, wherever they end up.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MASK",
    "RedactingFilter",
    "install_redacting_filter",
    "install_redaction",
    "redact",
    "redact_record",
]

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
# Secrets that ride in a path: the connect session token (GET /connect/{session_token}) and a
# connection's workflow-webhook token (POST /zoho/webhooks/{token}, the mirror's trigger URL).
_CONNECT_PATH = re.compile(r"(/connect/|/zoho/webhooks/)([A-Za-z0-9_\-]{16,})")
# A Standard Webhooks signing secret (ZOHO_WEBHOOK_SECRET).
_WEBHOOK_SECRET = re.compile(r"\bwhsec_(?!\[redacted\])[A-Za-z0-9+/=_\-]+")

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
    out = _WEBHOOK_SECRET.sub("whsec_" + MASK, out)
    if escape_newlines:
        out = _CONTROL.sub(_escape_control, out)
    return out


def _redact_arg(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value  # a number must stay one: a "%d" placeholder needs it
    text = str(value)
    safe = redact(text)
    # An object that renders a secret (an httpx URL with ?token=) is replaced by its safe text.
    return value if safe == text else safe


def redact_record(record: logging.LogRecord) -> None:
    """Redact ``record`` in place; its ``args`` stay a tuple (or mapping) of the same shape.

    Formatters that unpack ``args`` (uvicorn's access log) keep working: each argument is
    redacted on its own. Only when the format string itself carries a secret is the whole
    message redacted and the arguments dropped.
    """
    if not getattr(record, "_zoho_redacted", False):
        record._zoho_redacted = True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            record.msg = redact(f"{record.msg!r} % {record.args!r}")
            record.args = ()
        else:
            if redact(message) != message:
                _redact_message(record, message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, escape_newlines=False)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, escape_newlines=False)


def _redact_message(record: logging.LogRecord, message: str) -> None:
    args = record.args
    if isinstance(args, tuple) and args:
        record.args = tuple(_redact_arg(a) for a in args)
    elif isinstance(args, Mapping) and args:
        record.args = {k: _redact_arg(v) for k, v in args.items()}
    else:
        record.msg = redact(message)
        record.args = ()
        return
    try:
        shown = record.getMessage()
    except Exception:
        shown = None
    if shown is None or redact(shown) != shown:
        # The format string itself holds a secret (or no longer formats): give up its shape.
        record.msg = redact(message)
        record.args = ()


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record it sees; it never drops one.

    Attach it to handlers (it then sees records from every logger) or to a logger (only that
    logger's own records: not its children's). ``install_redaction`` covers whole trees.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install_redacting_filter(logger: logging.Logger | str) -> None:
    """Add one ``RedactingFilter`` to ``logger`` (idempotent)."""
    target = logging.getLogger(logger) if isinstance(logger, str) else logger
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())


_covered: set[str] = set()
_install_lock = threading.Lock()
_factory_installed = False


def _is_covered(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in _covered)


def install_redaction(*logger_names: str) -> None:
    """Redact every record of these loggers and of all their children, whatever handlers,
    formatters or ``dictConfig`` (uvicorn's) are set up later (idempotent).

    Records are redacted as they are made (a log-record factory wraps the current one), so a
    child such as ``httpcore2.http11`` is covered by ``"httpcore2"``.
    """
    global _factory_installed
    with _install_lock:
        _covered.update(logger_names)
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _is_covered(record.name):
                redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True
