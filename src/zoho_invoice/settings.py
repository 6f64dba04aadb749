"""All configuration, read from the environment (prefix ``ZOHO_``), a ``.env`` file, or passed in.

The ``.env`` file is the working directory's (``ZOHO_ENV_FILE`` names another, or none when
empty); the environment wins over it. ``zoho-invoice demo`` writes its settings there, so the
CLI run in the same folder finds the demo's keys.

Secrets are ``SecretStr``: they never show in a ``repr``, a log or an error page.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ._exceptions import ConfigurationError
from ._tls import is_loopback_http

#: The scopes the API client needs, the fewest that cover its resources (docs/zoho/scopes.md).
#: A connection keeps the grant it was made with: one made before a scope was added here lacks
#: it until its user connects again (the mirror syncs the rest and names the missing scope).
DEFAULT_SCOPES: tuple[str, ...] = (
    "ZohoInvoice.settings.ALL",  # organizations (read) and items (create, update, delete)
    "ZohoInvoice.contacts.ALL",
    "ZohoInvoice.invoices.ALL",  # recurring invoices and credits applied too
    "ZohoInvoice.estimates.ALL",
    "ZohoInvoice.customerpayments.ALL",
    "ZohoInvoice.creditnotes.ALL",  # credit notes and their refunds
)

#: The environment variable naming the settings file (default ``.env``; empty: no file).
ENV_FILE_VARIABLE = "ZOHO_ENV_FILE"


def env_file() -> Path | None:
    """The settings file read after the environment: ``$ZOHO_ENV_FILE``, else ``.env``.

    Relative to the working directory; ``None`` when ``ZOHO_ENV_FILE`` is set empty.
    """
    name = os.environ.get(ENV_FILE_VARIABLE, ".env")
    return Path(name) if name else None


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """The service's settings. Every field maps to ``ZOHO_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ZOHO_", extra="ignore", frozen=True)

    client_id: str | None = None
    client_secret: SecretStr | None = None
    #: A file holding the client secret (for Docker/Kubernetes secrets); used when
    #: ``client_secret`` is not set.
    client_secret_file: Path | None = None
    redirect_uri: str | None = None
    scopes: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    data_dir: Path = Path(".zoho-invoice")
    database_url: str | None = None
    encryption_keys: SecretStr | None = None
    api_key: SecretStr | None = None
    #: The key of ``GET /metrics`` alone (Bearer, 32+ characters, not the API key); metrics
    #: are off without it.
    metrics_key: SecretStr | None = None
    datacenters: Path | None = None
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    #: Return URLs an app may ask to be sent back to after connecting: exact URLs, or
    #: origins (``https://app.example.com``) that allow any path below them.
    allowed_return_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Seconds before expiry at which a token is refreshed.
    refresh_leeway: float = 300.0
    #: Seconds a refresh may hold its connection's lock (one refresh at a time across
    #: processes): a holder that hangs alive loses it after this. A holder that dies frees it at
    #: once (the lock lives in its database session or an OS file lock), a lost host within
    #: about 11 s (TCP keep-alive); keep it above the OAuth timeout (10 s).
    refresh_lease: float = Field(default=45.0, ge=2.0, le=3600.0)
    #: Seconds after a caller last had a token that a connection still counts as in use: the
    #: worker keeps in-use connections' tokens warm and leaves idle ones to a refresh on
    #: demand. Use is recorded at a connect and at each refresh made on demand (not per call).
    in_use_window: float = Field(default=7200.0, ge=60.0)
    #: Seconds between the worker's probes of an idle connection (one refresh, to find a dead
    #: refresh token early: needs_reauth and its event). Default: once a day.
    idle_probe_interval: float = Field(default=86400.0, ge=60.0)
    #: Seconds between two syncs a connection's workflow-webhook URL starts (a burst of calls
    #: costs one sync; a triggered sync costs at least 7 list calls, so at the default at most
    #: 7 x 1,440 a day, within the sync's share of the daily quota).
    sync_webhook_debounce: float = Field(default=60.0, ge=1.0, le=86400.0)
    #: Webhook URL that receives connection events (optional; https, or http on loopback).
    webhook_url: str | None = None
    #: The Standard Webhooks signing secret, ``whsec_`` + base64 of 24-64 random bytes;
    #: required when ``webhook_url`` is set (see ``require_webhook``).
    webhook_secret: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Passed values, then the environment, then the settings file (:func:`env_file`).

        The file is looked up on every ``Settings()``, so a command run in another folder, or
        with another ``ZOHO_ENV_FILE``, reads that one.
        """
        dotenv = DotEnvSettingsSource(settings_cls, env_file=env_file())
        return init_settings, env_settings, dotenv, file_secret_settings

    @field_validator("scopes", "allowed_return_urls", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        """``database_url``, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'zoho-invoice.db').resolve()}"

    def require_client(self) -> tuple[str, SecretStr, str]:
        """The client id, secret and redirect URI, or a clear error naming what is missing."""
        missing = [
            name
            for name, value in (
                ("ZOHO_CLIENT_ID", self.client_id),
                ("ZOHO_CLIENT_SECRET (or ZOHO_CLIENT_SECRET_FILE)", self.resolved_client_secret),
                ("ZOHO_REDIRECT_URI", self.redirect_uri),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError("missing settings: " + ", ".join(missing))
        assert self.client_id and self.redirect_uri
        secret = self.resolved_client_secret
        assert secret is not None
        return self.client_id, secret, self.redirect_uri

    def require_webhook(self) -> tuple[str, SecretStr] | None:
        """``(ZOHO_WEBHOOK_URL, ZOHO_WEBHOOK_SECRET)`` once both check out; ``None`` when no
        webhook URL is set (events are then only logged).

        ``ConfigurationError`` stops the start-up instead of signing with a guessable secret or
        sending events in clear text (SECURITY 48); see ``check_webhook_url`` and
        ``check_webhook_secret``.
        """
        if not self.webhook_url:
            return None
        url = check_webhook_url(self.webhook_url)
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            raise ConfigurationError(
                "ZOHO_WEBHOOK_URL is set but ZOHO_WEBHOOK_SECRET is not set: webhooks are "
                f"always signed; {WEBHOOK_SECRET_HINT}"
            )
        check_webhook_secret(self.webhook_secret)
        return url, self.webhook_secret

    @property
    def resolved_client_secret(self) -> SecretStr | None:
        """The client secret from ``ZOHO_CLIENT_SECRET`` or the file ``ZOHO_CLIENT_SECRET_FILE``."""
        if self.client_secret is not None and self.client_secret.get_secret_value():
            return self.client_secret
        if self.client_secret_file is not None:
            try:
                text = self.client_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read ZOHO_CLIENT_SECRET_FILE {self.client_secret_file}: {exc.strerror}"
                ) from None
            return SecretStr(text) if text else None
        return None


#: Standard Webhooks: a secret of 24 to 64 random bytes, written ``whsec_`` + base64.
WEBHOOK_SECRET_BYTES = (24, 64)
WEBHOOK_SECRET_HINT = (
    "set it to `whsec_` followed by the base64 of 24 to 64 random bytes, e.g. the output of "
    "python -c \"import base64, os; print('whsec_' + base64.b64encode(os.urandom(32)).decode())\""
)


def check_webhook_url(url: str) -> str:
    """``url`` if events may be sent there: https, or plain http on a loopback IP literal.

    No user or password in it either (the URL shows in logs). The message never repeats the
    URL, for the same reason.
    """
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise ConfigurationError("ZOHO_WEBHOOK_URL is not a URL") from None
    if parts.scheme == "https":
        pass
    elif not is_loopback_http(url):
        raise ConfigurationError(
            "ZOHO_WEBHOOK_URL must be https (plain http only on a loopback IP address such as "
            "127.0.0.1 or [::1]); events name your users' connections and must not travel in "
            "clear text"
        )
    if not hostname or parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            "ZOHO_WEBHOOK_URL must be https://host[:port][/path] with no user or password in it "
            "(the signature authenticates each delivery)"
        )
    return url


def check_webhook_secret(secret: SecretStr | str) -> bytes:
    """The signing key a Standard Webhooks secret stands for, or ``ConfigurationError``.

    Only the ``whsec_`` + base64 form is accepted (padding optional, as the reference
    libraries read it), and the key must be 24 to 64 bytes: a short secret could be guessed
    from captured deliveries. The message never contains the secret.
    """
    text = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    low, high = WEBHOOK_SECRET_BYTES
    if not text.startswith("whsec_"):
        raise ConfigurationError(
            f"ZOHO_WEBHOOK_SECRET is not in Standard Webhooks form; {WEBHOOK_SECRET_HINT}"
        )
    encoded = text.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"ZOHO_WEBHOOK_SECRET: what follows `whsec_` is not base64; {WEBHOOK_SECRET_HINT}"
        ) from None
    if not low <= len(key) <= high:
        raise ConfigurationError(
            f"ZOHO_WEBHOOK_SECRET holds {len(key)} bytes; it needs {low} to {high} random bytes; "
            f"{WEBHOOK_SECRET_HINT}"
        )
    return key
