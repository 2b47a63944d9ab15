"""The composition root: the only module that knows every class.

Grouped as cosmicpython and python-dependency-injector's examples do: `Core` (settings,
clock, secrets), `Adapters` (database, ERP, tracking) and `UseCases`. Nothing is built at
import time: providers build on first use.
"""

from __future__ import annotations

import http.cookiejar
import random
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from dependency_injector import containers, providers
from sqlalchemy.engine import Engine

from kanglu import __version__
from kanglu.adapters.alerts.mail import ConsoleMailer, SmtpMailer
from kanglu.adapters.alerts.webhook import HttpWebhookClient
from kanglu.adapters.sql.builtin_tracking import BuiltinTrackingService
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.invoice_checks import SqlInvoiceChecks
from kanglu.adapters.sql.queries import SqlCustomerQueries, SqlMerchantQueries, SqlOrderQueries
from kanglu.adapters.sql.sync_queries import SqlSyncQueries
from kanglu.adapters.sql.poll_progress import SqlPollProgress
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.adapters.sql.web_access import SqlLoginAttempts, SqlWebSessions
from kanglu.adapters.tiny.gateway import TinyGateway
from kanglu.adapters.tiny.http import CallStats
from kanglu.adapters.tiny.oauth import TinyOAuth
from kanglu.adapters.token_journal import FileTokenJournal
from kanglu.adapters.tracking.http import HttpTrackingService

from kanglu.adapters.clock import SystemClock
from kanglu.adapters.crypto import FernetSecretBox, HmacStateSigner
from kanglu.adapters.passwords import Argon2PasswordHasher
from kanglu.application.alerts import AlertDelivery
from kanglu.application.commands import RefreshTokenCommand
from kanglu.application.scheduling import EnsureJobs, JobHandlers
from kanglu.application.tokens import ConnectionTokens, TokenKeeper
from kanglu.application.use_cases.connect_erp import BeginConnectErp, CompleteConnectErp
from kanglu.application.use_cases.create_merchant import CreateMerchant
from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequests
from kanglu.application.use_cases.disconnect_erp import DisconnectErp
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.application.use_cases.manage_account import ChangePassword, RotateApiKey
from kanglu.application.use_cases.map_shipping_service import MapShippingService
from kanglu.application.use_cases.map_shipping_service import MapShippingService, RemoveCarrierMapping
from kanglu.application.use_cases.merchant_sync import PurgeEvents, RequestSync, SaveNotificationSettings
from kanglu.application.use_cases.poll_orders import PollOrdersByStatus
from kanglu.application.use_cases.refresh_token import RefreshToken
from kanglu.application.use_cases.revoke_tokens import RevokeTokens
from kanglu.application.use_cases.retry_import_failure import PurgeResolvedFailures, RetryImportFailure
from kanglu.application.use_cases.save_erp_credentials import SaveErpCredentials
from kanglu.application.use_cases.update_status_mapping import UpdateStatusMapping
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.entrypoints.metrics import WorkerMetrics
from kanglu.entrypoints.settings import Settings


def _host_of(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname


class Core(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    secret_box = providers.Singleton(FernetSecretBox, keys=settings.provided.encryption_keys)
    state_signer = providers.Singleton(HmacStateSigner, secret_key=settings.provided.secret_key)
    passwords = providers.Singleton(Argon2PasswordHasher)
    carriers = providers.Object(DEFAULT_REGISTRY)
    renewal_margin = providers.Callable(lambda s: timedelta(seconds=s.renewal_margin), settings)
    poll_interval = providers.Callable(lambda s: timedelta(seconds=s.poll_interval), settings)
    backfill = providers.Callable(lambda s: timedelta(days=s.backfill_days), settings)
    redirect_uri = providers.Callable(lambda s: s.redirect_uri, settings)
    auth_host = providers.Callable(lambda s: _host_of(s.tiny_auth_url), settings)
    # Set when the process is asked to stop: a poll ends between two pages, progress kept.
    stop_event = providers.Singleton(threading.Event)
    # Tokens issued but not yet stored, and the renewals under way: one per process.
    token_keeper = providers.Singleton(TokenKeeper)
    metrics = providers.Singleton(WorkerMetrics)


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing. The client is shared by every merchant's calls: a cookie
    Tiny (or a load balancer before it) sets on one merchant's answer must not travel with
    another merchant's requests. Kanglu's calls need no cookie (a bearer token says who calls),
    and skipping the jar's parsing saves CPU on every call."""

    def extract_cookies(self, response: object, request: object) -> None:
        return None

    def add_cookie_header(self, request: object) -> None:
        return None


_Closable = TypeVar("_Closable", httpx.Client, httpx.HTTPTransport)
_OUTGOING_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)


def outgoing_timeout(seconds: float) -> httpx.Timeout:
    """Short timeouts: a stuck Tiny cannot hold a worker thread long."""
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


def new_http_client(timeout: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The outgoing client: pooled, short timeouts, no cookies."""
    return httpx.Client(
        timeout=outgoing_timeout(timeout),
        limits=_OUTGOING_LIMITS,
        headers={"User-Agent": f"kanglu-erp/{__version__}"},
        cookies=_NoCookies(),
        transport=transport,
    )


def _closed_at_shutdown(resource: _Closable) -> Iterator[_Closable]:
    """A Resource provider's body: `resource`, closed when the container shuts down."""
    try:
        yield resource
    finally:
        resource.close()


def new_api_transport(api_url: str) -> httpx.HTTPTransport:
    """The connection pool of Tiny's API calls, which the gateway sends to directly (see
    adapters/tiny/http.py). Through the proxy of HTTPS_PROXY / HTTP_PROXY unless NO_PROXY
    exempts Tiny's host, as an httpx.Client would."""
    url = urllib.parse.urlsplit(api_url)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and urllib.request.proxy_bypass(url.hostname or ""):
        proxy = None
    return httpx.HTTPTransport(limits=_OUTGOING_LIMITS, proxy=proxy)


def _engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url, **_pool_options(settings))
    try:
        yield engine
    finally:
        engine.dispose()


def _pool_options(settings: Settings) -> dict[str, int]:
    # Worker threads each hold a session briefly: the pool must not be the bottleneck.
    return {} if settings.is_sqlite else {"pool_size": settings.db_pool_size, "max_overflow": settings.db_pool_size}


def _tracking(settings: Settings, engine: Engine, clock: Any, client: httpx.Client, carriers: Any) -> Any:
    """KANGLU_TRACKING_URL unset: the shipments stay in Kanglu's database (built-in)."""
    if settings.tracking_url:
        return HttpTrackingService(client=client, url=settings.tracking_url, carriers=carriers)
    return BuiltinTrackingService(engine=engine, clock=clock)


def _mailer(settings: Settings) -> Any:
    """KANGLU_SMTP_URL unset: no e-mail (the demo prints them on the console instead)."""
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from)
    if settings.console_mail:
        return ConsoleMailer(settings.mail_from)
    return None


class Adapters(containers.DeclarativeContainer):
    """The outside world. Tests override any of these with fakes."""

    core = providers.DependenciesContainer()
    engine = providers.Resource(_engine, settings=core.settings)
    uow = providers.Singleton(SqlUnitOfWorkFactory, engine=engine)
    poll_progress = providers.Singleton(SqlPollProgress, engine=engine)
    # One client for Tiny's OAuth and the tracking service.
    http_client = providers.Resource(
        _closed_at_shutdown, providers.Factory(new_http_client, timeout=core.settings.provided.http_timeout)
    )
    call_stats = providers.Singleton(CallStats, on_call=core.metrics.provided.on_api_call)
    oauth = providers.Singleton(
        TinyOAuth, client=http_client, auth_url=core.settings.provided.tiny_auth_url, stats=call_stats,
        timeout=providers.Callable(lambda s: httpx.Timeout(s.token_timeout, connect=min(s.token_timeout, 5.0)),
                                   core.settings),
    )
    api_transport = providers.Resource(
        _closed_at_shutdown, providers.Factory(new_api_transport, api_url=core.settings.provided.tiny_api_url)
    )
    gateway = providers.Singleton(
        TinyGateway, transport=api_transport, api_url=core.settings.provided.tiny_api_url, stats=call_stats,
        timeout=providers.Callable(outgoing_timeout, core.settings.provided.http_timeout),
        invoice_checks=providers.Singleton(SqlInvoiceChecks, engine=engine),
        invoice_reread_after=core.settings.provided.invoice_recheck,
    )
    tracking = providers.Singleton(
        _tracking, settings=core.settings, engine=engine, clock=core.clock, client=http_client, carriers=core.carriers
    )
    mailer = providers.Singleton(_mailer, settings=core.settings)
    webhooks = providers.Resource(_closed_at_shutdown, providers.Factory(HttpWebhookClient))
    # Tokens Tiny issued, until the database has them (a worker that dies in between).
    token_journal = providers.Singleton(
        FileTokenJournal, directory=providers.Callable(lambda s: s.data_dir / "token-journal", core.settings),
        secret_box=core.secret_box,
    )
    # The read side of pages and the JSON API (application/queries.py).
    order_queries = providers.Singleton(SqlOrderQueries, engine=engine)
    customer_queries = providers.Singleton(SqlCustomerQueries, engine=engine)
    merchant_queries = providers.Singleton(SqlMerchantQueries, engine=engine)
    # The web's sessions and login throttle, shared by every web process (issue 19).
    web_sessions = providers.Singleton(SqlWebSessions, engine=engine)
    login_attempts = providers.Singleton(SqlLoginAttempts, engine=engine)
    sync_queries = providers.Singleton(SqlSyncQueries, engine=engine)


class UseCases(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    adapters = providers.DependenciesContainer()

    refresh_token = providers.Factory(
        RefreshToken,
        uow=adapters.uow,
        clock=core.clock,
        secret_box=core.secret_box,
        oauth=adapters.oauth,
        renewal_margin=core.renewal_margin,
        keeper=core.token_keeper,
        claim_span=providers.Callable(lambda s: timedelta(seconds=s.token_timeout + 30), core.settings),
        journal=adapters.token_journal,
    )
    save_credentials = providers.Factory(
        SaveErpCredentials, uow=adapters.uow, clock=core.clock, secret_box=core.secret_box, auth_host=core.auth_host
    )
    begin_connect = providers.Factory(
        BeginConnectErp,
        uow=adapters.uow,
        clock=core.clock,
        secret_box=core.secret_box,
        signer=core.state_signer,
        oauth=adapters.oauth,
        redirect_uri=core.redirect_uri,
    )
    complete_connect = providers.Factory(
        CompleteConnectErp,
        uow=adapters.uow,
        clock=core.clock,
        secret_box=core.secret_box,
        signer=core.state_signer,
        oauth=adapters.oauth,
        gateway=adapters.gateway,
        redirect_uri=core.redirect_uri,
        renewal_margin=core.renewal_margin,
    )
    disconnect = providers.Factory(DisconnectErp, uow=adapters.uow, clock=core.clock)
    update_status_mapping = providers.Factory(UpdateStatusMapping, uow=adapters.uow, clock=core.clock)
    map_shipping_service = providers.Factory(
        MapShippingService, uow=adapters.uow, clock=core.clock, carriers=core.carriers
    )
    import_order = providers.Factory(ImportOrder, uow=adapters.uow, clock=core.clock, carriers=core.carriers)
    alerts = providers.Factory(
        AlertDelivery, uow=adapters.uow, secret_box=core.secret_box, mailer=adapters.mailer,
        webhooks=adapters.webhooks, public_url=core.settings.provided.public_url,
    )
    deliver_tracking = providers.Factory(
        DeliverTrackingRequests, uow=adapters.uow, clock=core.clock, tracking=adapters.tracking, alerts=alerts
    )
    create_merchant = providers.Factory(CreateMerchant, uow=adapters.uow, clock=core.clock, passwords=core.passwords)
    change_password = providers.Factory(ChangePassword, uow=adapters.uow, clock=core.clock, passwords=core.passwords)
    rotate_api_key = providers.Factory(RotateApiKey, uow=adapters.uow, clock=core.clock)
    tokens_for = providers.Factory(
        lambda uow, secret_box, refresh: (
            lambda connection_id: ConnectionTokens(
                connection_id=connection_id,
                uow=uow,
                secret_box=secret_box,
                force_refresh=lambda cid, version: refresh(RefreshTokenCommand(cid, force=True, seen_token_version=version)),
            )
        ),
        uow=adapters.uow,
        secret_box=core.secret_box,
        refresh=refresh_token,
    )
    # One for the process: the worker runs it for every poll (a new one per poll cost the
    # dependency resolution each time), and it keeps nothing between calls.
    poll_orders = providers.ThreadSafeSingleton(
        PollOrdersByStatus,
        progress=adapters.poll_progress,
        uow=adapters.uow,
        clock=core.clock,
        gateway=adapters.gateway,
        import_order=import_order,
        carriers=core.carriers,
        rng=providers.Factory(random.Random),
        secret_box=core.secret_box,
        tokens_for=tokens_for,
        interval=core.poll_interval,
        backfill=core.backfill,
        max_pages=50,
        stop_requested=core.stop_event.provided.is_set,
    )
    revoke_tokens = providers.Factory(
        RevokeTokens, uow=adapters.uow, clock=core.clock, secret_box=core.secret_box, oauth=adapters.oauth
    )
    retry_import_failure = providers.Factory(
        RetryImportFailure,
        uow=adapters.uow,
        clock=core.clock,
        gateway=adapters.gateway,
        import_order=import_order,
        secret_box=core.secret_box,
        tokens_for=tokens_for,
    )
    purge_failures = providers.Factory(PurgeResolvedFailures, uow=adapters.uow, clock=core.clock)
    purge_events = providers.Factory(PurgeEvents, uow=adapters.uow, clock=core.clock)
    request_sync = providers.Factory(RequestSync, uow=adapters.uow, clock=core.clock)
    save_notifications = providers.Factory(
        SaveNotificationSettings, uow=adapters.uow, clock=core.clock, secret_box=core.secret_box
    )
    remove_carrier_mapping = providers.Factory(RemoveCarrierMapping, uow=adapters.uow)
    job_handlers = providers.Factory(
        JobHandlers,
        clock=core.clock,
        refresh=refresh_token.provider,
        poll=poll_orders.provider,
        poll_jobs=adapters.poll_progress,
        deliver=deliver_tracking.provider,
        revoke=revoke_tokens.provider,
        purge=purge_failures.provider,
        purge_events=purge_events.provider,
    )
    ensure_jobs = providers.Factory(
        EnsureJobs, uow=adapters.uow, clock=core.clock, renewal_margin=core.renewal_margin,
        recover_renewals=providers.Callable(lambda use_case: use_case.recover, refresh_token),
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    core = providers.Container(Core, settings=settings)
    adapters = providers.Container(Adapters, core=core)
    use_cases = providers.Container(UseCases, core=core, adapters=adapters)


def build_container(settings: Settings | None = None) -> Container:
    """The container for a deployment: settings from the environment unless given."""
    container = Container(settings=settings or Settings.from_env())
    return container
