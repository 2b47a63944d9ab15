"""Sandbox state: many Tiny accounts, each with its application, dataset, limits, faults, counters."""

from __future__ import annotations

import random
import secrets
import string
import threading
from collections import Counter
from typing import Any

import attrs

from kanglu.sandbox.clock import SandboxClock
from kanglu.sandbox.dataset import Dataset
from kanglu.sandbox.limits import DEFAULT_BURST, DEFAULT_PLAN, PLANS, Faults, RateLimiter

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/integrations/tiny/callback"
# The read permissions of a Tiny application, by module; a module whose permission is off
# answers 403, as Tiny does for an application created without that box ticked.
PERMISSIONS = ("pedidos", "notas_fiscais", "formas_envio", "info_conta")
_SECRET_ALPHABET = string.ascii_letters + string.digits
UPDATE_FILTERS = ("since_day", "day_only", "since_moment")
UPDATE_FILTER_TIME_REACTIONS = ("ignore", "reject")


@attrs.define
class AccountSettings:
    """What a Tiny account and its application are configured with; changeable at run time."""

    redirect_uri: str = DEFAULT_REDIRECT_URI
    app_name: str = "Kanglu"
    access_lifetime: int = 14_400
    refresh_lifetime: int = 86_400
    code_lifetime: int = 60
    rate_limit: int = DEFAULT_PLAN  # reads per minute (Tiny's plans: 30, 60, 120, 140); 0 = unlimited
    burst: int = DEFAULT_BURST  # calls per second on top; 0 = none
    headers_missing_rate: float = 0.0  # share of answers without the X-RateLimit-* headers
    # What dataAtualizacao matches, which Tiny does not document (TINY_API.md): changed on or after
    # that day ("since_day"), on that day only ("day_only"), or on or after that moment
    # ("since_moment", a bare date being its midnight). Under the two day meanings a time part is
    # ignored or refused with a 400 (`update_filter_time`).
    update_filter: str = "since_day"
    update_filter_time: str = "ignore"
    reuse_revokes_session: bool = True  # a spent refresh token presented again logs the account out
    simulate: bool = False  # orders arrive and move on their own (the sandbox's activity, when it runs)

    FIELDS = ("redirect_uri", "app_name", "access_lifetime", "refresh_lifetime", "code_lifetime", "rate_limit",
              "burst", "headers_missing_rate", "update_filter", "update_filter_time", "reuse_revokes_session", "simulate")
    CHOICES = {"update_filter": UPDATE_FILTERS, "update_filter_time": UPDATE_FILTER_TIME_REACTIONS}

    def update(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key == "plan":  # one of Tiny's plans by its reads per minute: sets rate_limit
                if isinstance(value, bool) or value not in PLANS:
                    raise ValueError(f"invalid value for plan: {value!r} (one of {', '.join(map(str, PLANS))})")
                self.rate_limit = int(value)
                continue
            if key == "date_filter_ignores_time":  # the older switch, still in saved state files
                self.update({"update_filter": "since_day" if value else "since_moment", "update_filter_time": "ignore"})
                continue
            if key not in self.FIELDS:
                raise ValueError(f"unknown field: {key}")
            current = getattr(self, key)
            try:
                if isinstance(current, bool):
                    if not isinstance(value, bool):
                        raise ValueError
                    setattr(self, key, value)
                elif isinstance(current, str):
                    if not isinstance(value, str) or not value or value not in self.CHOICES.get(key, (value,)):
                        raise ValueError
                    setattr(self, key, value)
                elif isinstance(current, float):
                    rate = float(value)
                    if not 0.0 <= rate <= 1.0:
                        raise ValueError
                    setattr(self, key, rate)
                else:
                    number = int(value)
                    if number < 0 or isinstance(value, bool):
                        raise ValueError
                    setattr(self, key, number)
            except (TypeError, ValueError):
                raise ValueError(f"invalid value for {key}: {value!r}") from None

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.FIELDS}


class Counters:
    """Call counters keyed by (kind, name, detail); summed over accounts for the global view."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, kind: str, name: str, detail: str = "") -> None:
        with self._lock:
            self._counts[(kind, name, detail)] += 1

    def get(self, kind: str, name: str, detail: str = "") -> int:
        with self._lock:
            return self._counts[(kind, name, detail)]

    def snapshot(self) -> Counter[tuple[str, str, str]]:
        with self._lock:
            return Counter(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def counters_json(counts: Counter[tuple[str, str, str]]) -> dict[str, Any]:
    """{"api": {endpoint: {"total", "by_status"}}, "by_status": {...}, "oauth": {...}, "total": n}."""
    api: dict[str, dict[str, Any]] = {}
    by_status: Counter[str] = Counter()
    oauth: dict[str, Any] = {}
    for (kind, name, detail), n in sorted(counts.items()):
        if kind == "api":
            entry = api.setdefault(name, {"total": 0, "by_status": {}})
            entry["total"] += n
            entry["by_status"][detail] = entry["by_status"].get(detail, 0) + n
            by_status[detail] += n
        elif kind == "oauth":
            if detail:
                oauth.setdefault(name, {})[detail] = n
            else:
                oauth[name] = n
    return {"total": sum(by_status.values()), "api": api, "by_status": dict(by_status), "oauth": oauth}


CLIENT_ID_PREFIX = "tiny-api-"


def new_client_id(now: float) -> str:
    """Tiny's shape: tiny-api-<40 hex>-<unix time>."""
    return f"{CLIENT_ID_PREFIX}{secrets.token_hex(20)}-{int(now)}"


def new_client_secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(32))


class Account:
    """One Tiny account with its private application. Its lock guards dataset, limiter and faults."""

    def __init__(self, account_id: str, client_id: str, client_secret: str, settings: AccountSettings,
                 dataset: Dataset, api_faults: Faults, token_faults: Faults, seed: int) -> None:
        self.id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.settings = settings
        self.dataset = dataset
        self.seed = seed
        self.invite_id = secrets.token_urlsafe(12)
        self.lock = threading.RLock()
        self.limiter = RateLimiter(settings.rate_limit, settings.burst)
        self.faults = {"api": api_faults, "token": token_faults}
        self._fault_rng: random.Random | None = None
        self._activity_rng: random.Random | None = None
        self.counters = Counters()
        self.generation = 0  # bumped to revoke every token issued before
        self.permissions = dict.fromkeys(PERMISSIONS, True)  # the application's read permissions

    @property
    def fault_rng(self) -> random.Random:
        """Seeded dice for fault rates, made on first use (thousands of idle accounts need none)."""
        if self._fault_rng is None:
            self._fault_rng = random.Random(f"kanglu-sandbox-faults:{self.seed}")
        return self._fault_rng

    @property
    def activity_rng(self) -> random.Random:
        """Seeded dice of the simulated activity, apart from the dataset's so ticks replay exactly."""
        if self._activity_rng is None:
            self._activity_rng = random.Random(f"kanglu-sandbox-activity:{self.seed}")
        return self._activity_rng

    @property
    def name(self) -> str:
        return self.dataset.company.fantasia

    def set_permissions(self, changes: dict[str, Any]) -> None:
        """Tick or untick read permissions of the application ({"notas_fiscais": false})."""
        for module, allowed in changes.items():
            if module not in PERMISSIONS:
                raise ValueError(f"unknown permission: {module} (one of {', '.join(PERMISSIONS)})")
            if not isinstance(allowed, bool):
                raise ValueError(f"invalid value for {module}: {allowed!r}")
        with self.lock:
            self.permissions.update(changes)

    def allows(self, module: str) -> bool:
        return self.permissions.get(module, True)

    def apply_limits(self) -> None:
        with self.lock:
            self.limiter.per_minute = self.settings.rate_limit
            self.limiter.burst = self.settings.burst

    # ---- state file (counters and the rate window are not kept: they describe one run) ----------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "id": self.id, "client_id": self.client_id, "client_secret": self.client_secret, "seed": self.seed,
                "invite_id": self.invite_id, "generation": self.generation, "settings": self.settings.as_json(),
                "permissions": dict(self.permissions),
                "faults": {scope: f.as_json() for scope, f in self.faults.items()},
                "activity_rng": None if self._activity_rng is None else self._activity_rng.getstate(),
                "dataset": self.dataset.snapshot(),
            }

    @classmethod
    def restore(cls, data: dict[str, Any], defaults: AccountSettings) -> Account:
        settings = attrs.evolve(defaults)
        settings.update(data["settings"])
        faults = {}
        for scope in ("api", "token"):
            faults[scope] = Faults()
            faults[scope].update(data["faults"][scope])
        account = cls(data["id"], data["client_id"], data["client_secret"], settings,
                      Dataset.restore(data["dataset"]), faults["api"], faults["token"], data["seed"])
        account.invite_id = data["invite_id"]
        account.generation = data["generation"]
        account.set_permissions(data.get("permissions", {}))  # files saved before permissions: all on
        if data["activity_rng"] is not None:
            version, internal, gauss = data["activity_rng"]
            account.activity_rng.setstate((version, tuple(internal), gauss))
        return account


class SandboxState:
    """Every account of the sandbox process, plus the OAuth server's codes and tokens."""

    def __init__(self, clock: SandboxClock | None = None, defaults: AccountSettings | None = None,
                 api_faults: Faults | None = None, token_faults: Faults | None = None) -> None:
        self.clock = clock or SandboxClock()
        self.defaults = defaults or AccountSettings()
        self.default_faults = {"api": api_faults or Faults(), "token": token_faults or Faults()}
        self.base_url = "http://127.0.0.1"
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.by_client_id: dict[str, Account] = {}
        self.by_invite: dict[str, Account] = {}
        self.unattributed = Counters()
        self._next_number = 1  # names conta-N and seeds accounts created without one

    # ---- URLs (the server sets base_url once it has its port) ------------------------------
    @property
    def api_url(self) -> str:
        return f"{self.base_url}/public-api/v3"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/realms/tiny/protocol/openid-connect"

    def invite_link(self, account: Account) -> str:
        return f"{self.base_url}/convite/{account.invite_id}"

    # ---- accounts -----------------------------------------------------------------------
    def create_account(self, *, orders: int = 100, seed: int | None = None, account_id: str | None = None,
                       client_id: str | None = None, client_secret: str | None = None,
                       malformed_rate: float = 0.0, alphanumeric_cnpj: bool | None = None,
                       creation_with_time: bool | None = None,
                       settings: dict[str, Any] | None = None, faults: dict[str, Any] | None = None,
                       token_faults: dict[str, Any] | None = None,
                       permissions: dict[str, Any] | None = None) -> Account:
        """Build an account (outside the registry lock: datasets take a moment) and register it."""
        if not 0.0 <= float(malformed_rate) <= 1.0 or int(orders) < 0:
            raise ValueError("malformed_rate must be within 0..1 and orders not negative")
        if client_id is not None and not str(client_id).startswith(CLIENT_ID_PREFIX):
            # Tiny issues no other shape, and Kanglu refuses any other: a sandbox account with
            # one could never be connected.
            raise ValueError(f"client_id must be shaped like Tiny's: {CLIENT_ID_PREFIX}<40 hex>-<unix time>")
        with self.lock:
            number = self._next_number
            self._next_number += 1
        if seed is None:
            seed = number
        account_settings = attrs.evolve(self.defaults)
        if settings:
            account_settings.update(settings)
        api_faults = self.default_faults["api"].copy()
        if faults:
            api_faults.update(faults)
        tok_faults = self.default_faults["token"].copy()
        if token_faults:
            tok_faults.update(token_faults)
        now = self.clock.now()
        dataset = Dataset(seed, orders, now, malformed_rate, alphanumeric_cnpj, creation_with_time)
        account = Account(
            account_id=account_id or ("default" if number == 1 else f"conta-{number}"),
            client_id=client_id or new_client_id(now),
            client_secret=client_secret or new_client_secret(),
            settings=account_settings,
            dataset=dataset,
            api_faults=api_faults,
            token_faults=tok_faults,
            seed=seed,
        )
        if permissions:
            account.set_permissions(permissions)
        self._register(account)
        return account

    def _register(self, account: Account) -> None:
        with self.lock:
            if account.id in self.accounts:
                raise ValueError(f"an account with id {account.id} already exists")
            if account.client_id in self.by_client_id:
                raise ValueError("an account with this client_id already exists")
            self.accounts[account.id] = account
            self.by_client_id[account.client_id] = account
            self.by_invite[account.invite_id] = account

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            next_number = self._next_number
        return {"next_number": next_number, "accounts": [a.snapshot() for a in self.all_accounts()]}

    def restore(self, data: dict[str, Any]) -> None:
        """Bring back the saved accounts, with their ids, credentials, settings, faults and datasets."""
        for saved in data["accounts"]:
            self._register(Account.restore(saved, self.defaults))
        with self.lock:
            self._next_number = max(self._next_number, data["next_number"])

    def account(self, key: str) -> Account | None:
        """By account id or by client_id."""
        with self.lock:
            return self.accounts.get(key) or self.by_client_id.get(key)

    def all_accounts(self) -> list[Account]:
        with self.lock:
            return list(self.accounts.values())

    def credentials(self, account: Account) -> dict[str, Any]:
        return {
            "account_id": account.id,
            "client_id": account.client_id,
            "client_secret": account.client_secret,
            "api_url": self.api_url,
            "auth_url": self.auth_url,
            "redirect_uri": account.settings.redirect_uri,
            "invite_link": self.invite_link(account),
            "account_name": account.name,
        }

    # ---- counters -------------------------------------------------------------------------
    def global_counts(self) -> Counter[tuple[str, str, str]]:
        total = self.unattributed.snapshot()
        for account in self.all_accounts():
            total.update(account.counters.snapshot())
        return total

    def reset_counters(self) -> None:
        self.unattributed.reset()
        for account in self.all_accounts():
            account.counters.reset()
