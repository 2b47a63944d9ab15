"""Deployment settings from KANGLU_* environment variables, with embedded defaults.

Secrets that are not given (the Flask/state key, the encryption keys) are generated once and
kept in the data folder with mode 0600, so the embedded default survives restarts.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import attrs

from kanglu.adapters.crypto import FernetSecretBox

DEFAULT_TINY_API_URL = "https://api.tiny.com.br/public-api/v3"
DEFAULT_TINY_AUTH_URL = "https://accounts.tiny.com.br/realms/tiny/protocol/openid-connect"
CALLBACK_PATH = "/integrations/tiny/callback"


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


def _read_or_create(path: Path, make: callable) -> str:  # type: ignore[valid-type]
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    private_folder(path.parent)
    value = make()
    # Created with 0600 from the start: never world-readable, not even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def private_folder(path: Path) -> None:
    """The data folder (secrets, the embedded database) is created 0700: other local users
    cannot even list it. An existing folder is left as its owner set it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; 0700 needs no filtering


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= 600:
        raise SettingsError(f"{name} must be more than 0 and at most 600 seconds, got {value}")
    return value


def _smtp_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("smtp://", "smtps://")):
        raise SettingsError("KANGLU_SMTP_URL must be smtp://[user:pass@]host:port or smtps://…")
    return value


@attrs.frozen(repr=False)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    encryption_keys: tuple[str, ...]
    public_url: str = "http://127.0.0.1:8000"
    tiny_api_url: str = DEFAULT_TINY_API_URL
    tiny_auth_url: str = DEFAULT_TINY_AUTH_URL
    poll_interval: int = 120
    backfill_days: int = 30
    tracking_url: str | None = None
    renewal_margin: int = 600
    log_format: str = "console"
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    db_pool_size: int = 20
    job_lease_seconds: int = 300
    http_timeout: float = 20.0
    # How long what was read of an account's notas is trusted: a tracking code added to a nota
    # already read (and not to the order) is found within this time.
    invoice_recheck: int = 3600
    encryption_keys_file: Path | None = None
    # Reverse proxies before the web app whose X-Forwarded-For / -Proto are trusted (ProxyFix).
    proxy_hops: int = 0
    # Merchant alerts: unset, no e-mail is sent (the demo prints them instead: console_mail).
    smtp_url: str | None = None
    mail_from: str = "Kanglu <nao-responda@localhost>"
    console_mail: bool = False
    # Token calls wait longer than API calls: a renewal given up after Tiny carried it out
    # loses the rotated refresh token. A stopping worker waits this long (plus the write's
    # retries) for a renewal under way, after `stop_grace` for the rest of its jobs.
    token_timeout: float = 60.0
    stop_grace: float = 8.0

    def __repr__(self) -> str:  # secrets stay out of tracebacks and logs
        return f"Settings(data_dir={str(self.data_dir)!r}, database_url={self.safe_database_url!r}, ...)"

    @property
    def redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + CALLBACK_PATH

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def safe_database_url(self) -> str:
        """The URL without its password, for logs."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.database_url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return self.database_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("KANGLU_DATA_DIR") or "./var").resolve()
        database_url = env.get("KANGLU_DATABASE_URL") or f"sqlite:///{data_dir / 'kanglu.sqlite3'}"
        if database_url.startswith("sqlite"):
            private_folder(data_dir)
        secret_key = env.get("KANGLU_SECRET_KEY") or _read_or_create(
            data_dir / "secret_key", lambda: secrets.token_urlsafe(48)
        )
        keys_file = None
        raw_keys = env.get("KANGLU_ENCRYPTION_KEYS")
        if not raw_keys:
            keys_file = data_dir / "encryption_keys"
            raw_keys = _read_or_create(keys_file, FernetSecretBox.generate_key)
        keys = tuple(k.strip() for k in raw_keys.replace("\n", ",").split(",") if k.strip())
        try:
            FernetSecretBox(keys)
        except ValueError as exc:
            raise SettingsError(f"KANGLU_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from None
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=secret_key,
            encryption_keys=keys,
            public_url=(env.get("KANGLU_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            tiny_api_url=(env.get("KANGLU_TINY_API_URL") or DEFAULT_TINY_API_URL).rstrip("/"),
            tiny_auth_url=(env.get("KANGLU_TINY_AUTH_URL") or DEFAULT_TINY_AUTH_URL).rstrip("/"),
            poll_interval=_int(env, "KANGLU_POLL_INTERVAL", 120),
            backfill_days=_int(env, "KANGLU_BACKFILL_DAYS", 30, minimum=0),
            tracking_url=env.get("KANGLU_TRACKING_URL") or None,
            smtp_url=_smtp_url(env.get("KANGLU_SMTP_URL") or None),
            mail_from=env.get("KANGLU_MAIL_FROM") or "Kanglu <nao-responda@localhost>",
            renewal_margin=_int(env, "KANGLU_RENEWAL_MARGIN", 600),
            log_format=env.get("KANGLU_LOG_FORMAT") or "console",
            metrics_port=_int(env, "KANGLU_METRICS_PORT", 0, minimum=0) or None,
            metrics_host=env.get("KANGLU_METRICS_HOST") or "127.0.0.1",
            db_pool_size=_int(env, "KANGLU_DB_POOL_SIZE", 20),
            job_lease_seconds=_int(env, "KANGLU_JOB_LEASE_SECONDS", 300, minimum=5),
            http_timeout=_float(env, "KANGLU_HTTP_TIMEOUT", 20.0),
            invoice_recheck=_int(env, "KANGLU_INVOICE_RECHECK", 3600, minimum=0),
            encryption_keys_file=keys_file,
            proxy_hops=_int(env, "KANGLU_PROXY_HOPS", 0, minimum=0),
            token_timeout=_float(env, "KANGLU_TOKEN_TIMEOUT", 60.0),
            stop_grace=_float(env, "KANGLU_STOP_GRACE", 8.0),
        )
