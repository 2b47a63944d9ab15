"""Deployment settings: one declarative definition of every KANGLU_* variable, parsed purely.

Each field of `Settings` names its variable, its default and how its text is read; nothing else
lists them. Parsing reads the environment mapping and nothing more: the data folder and the
secrets generated into it when not given (the Flask/state key, the encryption keys) are the
business of `bootstrap.prepare_data_folder`, which every process runs at start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

import attrs

CALLBACK_PATH = "/integrations/tiny/callback"
ENV: Final = "kanglu_env"  # field metadata: the variable a setting is read from
PARSE: Final = "kanglu_parse"  # field metadata: (variable, text) -> value

TrackingBackend = Literal["builtin", "http"]
MailBackend = Literal["smtp", "console", "none"]


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


# -- how a variable's text becomes a value (each raises SettingsError naming the variable) ----

Parser = Callable[[str, str], Any]


def text(name: str, raw: str) -> str:
    return raw


def url(name: str, raw: str) -> str:
    return raw.rstrip("/")


def folder(name: str, raw: str) -> Path:
    return Path(os.path.abspath(raw))


def whole_number(minimum: int) -> Parser:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


def optional_port(name: str, raw: str) -> int | None:
    return whole_number(0)(name, raw) or None  # 0 = not served


def seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= 600:
        raise SettingsError(f"{name} must be more than 0 and at most 600 seconds, got {value}")
    return value


def smtp_url(name: str, raw: str) -> str:
    if not raw.startswith(("smtp://", "smtps://")):
        raise SettingsError(f"{name} must be smtp://[user:pass@]host:port or smtps://…")
    return raw


def key_list(name: str, raw: str) -> tuple[str, ...]:
    """Comma- (or line-) separated, newest first."""
    keys = tuple(k.strip() for k in raw.replace("\n", ",").split(",") if k.strip())
    if not keys:
        raise SettingsError(f"{name} holds no key")
    return keys


def setting(env: str, default: Any, parse: Parser = text) -> Any:
    """A field read from the variable `env` with `parse`; `default` when unset or empty (an
    attrs.Factory default may be computed from the fields before it)."""
    return attrs.field(default=default, metadata={ENV: env, PARSE: parse})


def _default_data_dir() -> Path:
    return Path(os.path.abspath("var"))


def _default_database_url(settings: Settings) -> str:
    return f"sqlite:///{settings.data_dir / 'kanglu.sqlite3'}"


@attrs.frozen(repr=False)
class Settings:
    data_dir: Path = setting("KANGLU_DATA_DIR", attrs.Factory(_default_data_dir), folder)
    database_url: str = setting("KANGLU_DATABASE_URL", attrs.Factory(_default_database_url, takes_self=True))
    # None / empty: generated once and kept in the data folder (bootstrap.prepare_data_folder).
    secret_key: str | None = setting("KANGLU_SECRET_KEY", None)
    encryption_keys: tuple[str, ...] = setting("KANGLU_ENCRYPTION_KEYS", (), key_list)
    public_url: str = setting("KANGLU_PUBLIC_URL", "http://127.0.0.1:8000", url)
    tiny_api_url: str = setting("KANGLU_TINY_API_URL", "https://api.tiny.com.br/public-api/v3", url)
    tiny_auth_url: str = setting(
        "KANGLU_TINY_AUTH_URL", "https://accounts.tiny.com.br/realms/tiny/protocol/openid-connect", url
    )
    poll_interval: int = setting("KANGLU_POLL_INTERVAL", 120, whole_number(1))
    backfill_days: int = setting("KANGLU_BACKFILL_DAYS", 30, whole_number(0))
    tracking_url: str | None = setting("KANGLU_TRACKING_URL", None)
    # Merchant alerts: unset, no e-mail is sent (the demo prints them instead: console_mail).
    smtp_url: str | None = setting("KANGLU_SMTP_URL", None, smtp_url)
    mail_from: str = setting("KANGLU_MAIL_FROM", "Kanglu <nao-responda@localhost>")
    renewal_margin: int = setting("KANGLU_RENEWAL_MARGIN", 600, whole_number(1))
    log_format: str = setting("KANGLU_LOG_FORMAT", "console")
    metrics_port: int | None = setting("KANGLU_METRICS_PORT", None, optional_port)
    metrics_host: str = setting("KANGLU_METRICS_HOST", "127.0.0.1")
    db_pool_size: int = setting("KANGLU_DB_POOL_SIZE", 20, whole_number(1))
    job_lease_seconds: int = setting("KANGLU_JOB_LEASE_SECONDS", 300, whole_number(5))
    http_timeout: float = setting("KANGLU_HTTP_TIMEOUT", 20.0, seconds)
    # The least time between two calls of one Tiny account while its minute's budget is ample:
    # Tiny's per-second bucket, 4 calls a second on a real account. Lower only against a Tiny
    # without that bucket (a double in tests); a bucket met anyway is learnt from its 429.
    tiny_call_interval: float = setting("KANGLU_TINY_CALL_INTERVAL", 0.25, seconds)
    # How long what was read of an account's notas is trusted: a tracking code added to a nota
    # already read (and not to the order) is found within this time.
    invoice_recheck: int = setting("KANGLU_INVOICE_RECHECK", 3600, whole_number(0))
    # Reverse proxies before the web app whose X-Forwarded-For / -Proto are trusted (ProxyFix).
    proxy_hops: int = setting("KANGLU_PROXY_HOPS", 0, whole_number(0))
    # Token calls wait longer than API calls: a renewal given up after Tiny carried it out
    # loses the rotated refresh token. A stopping worker waits this long (plus the write's
    # retries) for a renewal under way, after `stop_grace` for the rest of its jobs.
    token_timeout: float = setting("KANGLU_TOKEN_TIMEOUT", 60.0, seconds)
    stop_grace: float = setting("KANGLU_STOP_GRACE", 8.0, seconds)
    # Not read from the environment: set by the bootstrap (the generated keys' file) and by
    # `kanglu demo` (alert e-mails printed on its console).
    encryption_keys_file: Path | None = None
    console_mail: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the variables say, defaults for the rest. Pure: reads `env` only."""
        env = os.environ if env is None else env
        given: dict[str, Any] = {}
        for field in attrs.fields(cls):
            name = field.metadata.get(ENV)
            raw = env.get(name) if name else None
            if raw:  # unset and empty alike mean the default
                given[field.name] = field.metadata[PARSE](name, raw)
        return cls(**given)

    def __repr__(self) -> str:  # secrets stay out of tracebacks and logs
        return f"Settings(data_dir={str(self.data_dir)!r}, database_url={self.safe_database_url!r}, ...)"

    @property
    def redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + CALLBACK_PATH

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def tracking_backend(self) -> TrackingBackend:
        """KANGLU_TRACKING_URL unset: the shipments stay in Kanglu's database (built-in)."""
        return "http" if self.tracking_url else "builtin"

    @property
    def mail_backend(self) -> MailBackend:
        """KANGLU_SMTP_URL unset: no e-mail (the demo prints them on the console instead)."""
        if self.smtp_url:
            return "smtp"
        return "console" if self.console_mail else "none"

    @property
    def token_journal_dir(self) -> Path:
        return self.data_dir / "token-journal"

    @property
    def auth_host(self) -> str | None:
        """The host of KANGLU_TINY_AUTH_URL: invite links on it are accepted (the sandbox)."""
        return urlsplit(self.tiny_auth_url).hostname

    @property
    def safe_database_url(self) -> str:
        """The URL without its password, for logs."""
        parts = urlsplit(self.database_url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return self.database_url


def variables() -> dict[str, str]:
    """Every variable Settings reads, by field name (the README's table lists the same)."""
    return {f.name: f.metadata[ENV] for f in attrs.fields(Settings) if ENV in f.metadata}
