"""The composition root: the only module that knows every class.

Grouped as cosmicpython and python-dependency-injector's examples do: `Core` (settings,
clock, secrets), `Adapters` (database, ERP, tracking) and `UseCases`. Nothing is built at
import time: providers build on first use. Each provider is annotated with the port it
provides, so that a test's override and a caller's use are checked against the port.
"""

from __future__ import annotations

import http.cookiejar
import random
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import TypeVar

import httpx
from dependency_injector import containers, providers
from sqlalchemy.engine import Engine

from kanglu import __version__
from kanglu.adapters.alerts.mail import ConsoleMailer, SmtpMailer
from kanglu.adapters.alerts.webhook import HttpWebhookClient
from kanglu.adapters.clock import SystemClock
from kanglu.adapters.crypto import FernetSecretBox, HmacStateSigner
from kanglu.adapters.passwords import Argon2PasswordHasher
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.invoice_checks import SqlInvoiceChecks
from kanglu.adapters.sql.key_rotation import RotationReport, rotate_secrets
from kanglu.adapters.sql.queries import SqlCustomerQueries, SqlMerchantQueries, SqlOrderQueries
from kanglu.adapters.sql.poll_progress import SqlPollProgress
from kanglu.adapters.sql.sync_queries import SqlSyncQueries
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.adapters.sql.web_access import SqlLoginAttempts, SqlWebSessions
from kanglu.adapters.tiny.gateway import TinyGateway
from kanglu.adapters.tiny.ratelimit import RateLimitPacer
from kanglu.adapters.tiny.http import CallStats
from kanglu.adapters.tiny.oauth import TinyOAuth
from kanglu.adapters.token_journal import FileTokenJournal
from kanglu.adapters.tracking.http import HttpTrackingService
from kanglu.adapters.tracking.builtin import BuiltinTrackingService
from kanglu.application.alerts import AlertDelivery
from kanglu.application.ports import (
    Clock,
    ErpGateway,
    Mailer,
    OAuthProvider,
    PasswordHasher,
    SecretBox,
    StateSigner,
    TokenJournal,
    TrackingService,
)
from kanglu.application.queries import CustomerQueries, MerchantQueries, OrderQueries, SyncQueries
from kanglu.application.scheduling import EnsureJobs, JobHandlers
from kanglu.application.status_mapping_query import StatusMappingQuery
from kanglu.application.tokens import TokenKeeper, TokensByConnection
from kanglu.application.use_cases.connect_erp import ConnectErp
from kanglu.application.use_cases.create_merchant import CreateMerchant
from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequests
from kanglu.application.use_cases.disconnect_erp import DisconnectErp
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.application.use_cases.manage_account import ChangePassword, RotateApiKey
from kanglu.application.use_cases.map_shipping_service import MapShippingService, RemoveCarrierMapping
from kanglu.application.use_cases.merchant_sync import PurgeEvents, RequestSync, SaveNotificationSettings
from kanglu.application.use_cases.poll_orders import PollOrdersByStatus
from kanglu.application.use_cases.refresh_token import RefreshToken
from kanglu.application.use_cases.retry_import_failure import PurgeResolvedFailures, RetryImportFailure
from kanglu.application.use_cases.revoke_tokens import RevokeTokens
from kanglu.application.use_cases.save_erp_credentials import SaveErpCredentials
from kanglu.application.use_cases.update_status_mapping import UpdateStatusMapping
from kanglu.application.web_access import LoginAttempts, WebSessions
from kanglu.domain.carriers import DEFAULT_REGISTRY, CarrierRegistry
from kanglu.entrypoints.bootstrap import prepare_data_folder
from kanglu.entrypoints.metrics import WorkerMetrics
from kanglu.entrypoints.settings import Settings


class Core(containers.DeclarativeContainer):
    settings: providers.Dependency[Settings] = providers.Dependency(instance_of=Settings)
    clock: providers.Provider[Clock] = providers.Singleton(SystemClock)
    # The jitter of retries (token renewals): one generator for the process.
    rng: providers.Singleton[random.Random] = providers.Singleton(random.Random)
    secret_box: providers.Provider[SecretBox] = providers.Singleton(
        FernetSecretBox, keys=settings.provided.encryption_keys
    )
    state_signer: providers.Provider[StateSigner] = providers.Singleton(
        HmacStateSigner, secret_key=settings.provided.secret_key
    )
    passwords: providers.Provider[PasswordHasher] = providers.Singleton(Argon2PasswordHasher)
    carriers: providers.Object[CarrierRegistry] = providers.Object(DEFAULT_REGISTRY)
    renewal_margin: providers.Factory[timedelta] = providers.Factory(
        timedelta, seconds=settings.provided.renewal_margin
    )
    poll_interval: providers.Factory[timedelta] = providers.Factory(timedelta, seconds=settings.provided.poll_interval)
    backfill: providers.Factory[timedelta] = providers.Factory(timedelta, days=settings.provided.backfill_days)
    # Set when the process is asked to stop: a poll ends between two pages, progress kept.
    stop_event: providers.Singleton[threading.Event] = providers.Singleton(threading.Event)
    # Tokens issued but not yet stored, and the renewals under way: one per process.
    token_keeper: providers.Singleton[TokenKeeper] = providers.Singleton(TokenKeeper)
    metrics: providers.Singleton[WorkerMetrics] = providers.Singleton(WorkerMetrics)


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


def _claim_span(token_timeout: float) -> timedelta:
    """How long a renewal's claim keeps other processes off the refresh token: the token
    call's timeout plus the write's retries, with room to spare."""
    return timedelta(seconds=token_timeout + 30)


class Adapters(containers.DeclarativeContainer):
    """The outside world. Tests override any of these with fakes."""

    core = providers.DependenciesContainer()
    settings = core.settings
    engine: providers.Resource[Engine] = providers.Resource(_engine, settings=settings)
    # Annotated with the adapter, not the port: the SQL repositories do not match their ports
    # exactly yet (mypy lists the differences when this says `Provider[UnitOfWorkFactory]`).
    uow: providers.Singleton[SqlUnitOfWorkFactory] = providers.Singleton(SqlUnitOfWorkFactory, engine=engine)
    # The poll's progress and the release of its job, in as few statements as the backend allows.
    poll_progress: providers.Singleton[SqlPollProgress] = providers.Singleton(SqlPollProgress, engine=engine)
    # One client for Tiny's OAuth, the tracking service and the webhooks' deliveries.
    http_client: providers.Resource[httpx.Client] = providers.Resource(
        _closed_at_shutdown, providers.Factory(new_http_client, timeout=settings.provided.http_timeout)
    )
    call_stats: providers.Singleton[CallStats] = providers.Singleton(
        CallStats, on_call=core.metrics.provided.on_api_call
    )
    oauth: providers.Provider[OAuthProvider] = providers.Singleton(
        TinyOAuth,
        client=http_client,
        auth_url=settings.provided.tiny_auth_url,
        stats=call_stats,
        timeout=providers.Callable(outgoing_timeout, settings.provided.token_timeout),
    )
    api_transport: providers.Resource[httpx.HTTPTransport] = providers.Resource(
        _closed_at_shutdown, providers.Factory(new_api_transport, api_url=settings.provided.tiny_api_url)
    )
    gateway: providers.Provider[ErpGateway] = providers.Singleton(
        TinyGateway,
        transport=api_transport,
        api_url=settings.provided.tiny_api_url,
        stats=call_stats,
        timeout=providers.Callable(outgoing_timeout, settings.provided.http_timeout),
        pacer=providers.Singleton(RateLimitPacer, burst_interval=settings.provided.tiny_call_interval),
        invoice_checks=providers.Singleton(SqlInvoiceChecks, engine=engine),
        invoice_reread_after=settings.provided.invoice_recheck,
    )
    # KANGLU_TRACKING_URL unset: the shipments stay in Kanglu's database (built-in).
    tracking: providers.Selector[TrackingService] = providers.Selector(
        settings.provided.tracking_backend,
        builtin=providers.Singleton(BuiltinTrackingService, engine=engine, clock=core.clock),
        http=providers.Singleton(
            HttpTrackingService, client=http_client, url=settings.provided.tracking_url, carriers=core.carriers
        ),
    )
    # KANGLU_SMTP_URL unset: no e-mail (the demo prints them on the console instead).
    mailer: providers.Selector[Mailer | None] = providers.Selector(
        settings.provided.mail_backend,
        smtp=providers.Singleton(SmtpMailer, settings.provided.smtp_url, settings.provided.mail_from),
        console=providers.Singleton(ConsoleMailer, settings.provided.mail_from),
        none=providers.Object(None),
    )
    webhooks: providers.Resource[HttpWebhookClient] = providers.Resource(
        _closed_at_shutdown, providers.Factory(HttpWebhookClient)
    )
    # Tokens Tiny issued, until the database has them (a worker that dies in between).
    token_journal: providers.Provider[TokenJournal] = providers.Singleton(
        FileTokenJournal, directory=settings.provided.token_journal_dir, secret_box=core.secret_box
    )
    # The read side of pages and the JSON API (application/queries.py).
    order_queries: providers.Provider[OrderQueries] = providers.Singleton(SqlOrderQueries, engine=engine)
    customer_queries: providers.Provider[CustomerQueries] = providers.Singleton(SqlCustomerQueries, engine=engine)
    merchant_queries: providers.Provider[MerchantQueries] = providers.Singleton(SqlMerchantQueries, engine=engine)
    sync_queries: providers.Provider[SyncQueries] = providers.Singleton(SqlSyncQueries, engine=engine)
    # The web's sessions and login throttle, shared by every web process (issue 19).
    web_sessions: providers.Provider[WebSessions] = providers.Singleton(SqlWebSessions, engine=engine)
    login_attempts: providers.Provider[LoginAttempts] = providers.Singleton(SqlLoginAttempts, engine=engine)
    # `kanglu keys rotate`: every sealed column re-encrypted with the first key.
    rotate_secrets: providers.Callable[RotationReport] = providers.Callable(
        rotate_secrets, engine=engine, box=core.secret_box
    )


class UseCases(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    adapters = providers.DependenciesContainer()

    refresh_token: providers.Factory[RefreshToken] = providers.Factory(
        RefreshToken,
        uow=adapters.uow,
        clock=core.clock,
        secret_box=core.secret_box,
        oauth=adapters.oauth,
        renewal_margin=core.renewal_margin,
        keeper=core.token_keeper,
        claim_span=providers.Callable(_claim_span, core.settings.provided.token_timeout),
        journal=adapters.token_journal,
        rng=core.rng,
    )
    save_credentials: providers.Factory[SaveErpCredentials] = providers.Factory(
        SaveErpCredentials,
        uow=adapters.uow,
        clock=core.clock,
        secret_box=core.secret_box,
        auth_host=core.settings.provided.auth_host,
    )
    connect_erp: providers.Factory[ConnectErp] = providers.Factory(
        ConnectErp,
        uow=adapters.uow,
        clock=core.clock,
        secret_box=core.secret_box,
        signer=core.state_signer,
        oauth=adapters.oauth,
        gateway=adapters.gateway,
        redirect_uri=core.settings.provided.redirect_uri,
        renewal_margin=core.renewal_margin,
    )
    disconnect: providers.Factory[DisconnectErp] = providers.Factory(DisconnectErp, uow=adapters.uow, clock=core.clock)
    update_status_mapping: providers.Factory[UpdateStatusMapping] = providers.Factory(
        UpdateStatusMapping, uow=adapters.uow, clock=core.clock
    )
    status_mapping_query: providers.Factory[StatusMappingQuery] = providers.Factory(
        StatusMappingQuery, uow=adapters.uow
    )
    map_shipping_service: providers.Factory[MapShippingService] = providers.Factory(
        MapShippingService, uow=adapters.uow, clock=core.clock, carriers=core.carriers
    )
    import_order = providers.Factory(ImportOrder, uow=adapters.uow, clock=core.clock, carriers=core.carriers)
    alerts: providers.Factory[AlertDelivery] = providers.Factory(
        AlertDelivery,
        uow=adapters.uow,
        secret_box=core.secret_box,
        mailer=adapters.mailer,
        webhooks=adapters.webhooks,
        public_url=core.settings.provided.public_url,
    )
    deliver_tracking: providers.Factory[DeliverTrackingRequests] = providers.Factory(
        DeliverTrackingRequests, uow=adapters.uow, clock=core.clock, tracking=adapters.tracking, alerts=alerts
    )
    create_merchant: providers.Factory[CreateMerchant] = providers.Factory(
        CreateMerchant, uow=adapters.uow, clock=core.clock, passwords=core.passwords
    )
    change_password: providers.Factory[ChangePassword] = providers.Factory(
        ChangePassword, uow=adapters.uow, clock=core.clock, passwords=core.passwords
    )
    rotate_api_key: providers.Factory[RotateApiKey] = providers.Factory(RotateApiKey, uow=adapters.uow, clock=core.clock)
    tokens_for: providers.Factory[TokensByConnection] = providers.Factory(
        TokensByConnection, uow=adapters.uow, secret_box=core.secret_box, refresh=refresh_token
    )
    # One for the process: the worker runs it for every poll (a new one per poll cost the
    # dependency resolution each time), and it keeps nothing between calls.
    poll_orders: providers.ThreadSafeSingleton[PollOrdersByStatus] = providers.ThreadSafeSingleton(
        PollOrdersByStatus,
        progress=adapters.poll_progress,
        uow=adapters.uow,
        clock=core.clock,
        gateway=adapters.gateway,
        import_order=import_order,
        carriers=core.carriers,
        rng=core.rng,
        secret_box=core.secret_box,
        tokens_for=tokens_for,
        interval=core.poll_interval,
        backfill=core.backfill,
        max_pages=50,
        stop_requested=core.stop_event.provided.is_set,
    )
    revoke_tokens: providers.Factory[RevokeTokens] = providers.Factory(
        RevokeTokens, uow=adapters.uow, clock=core.clock, secret_box=core.secret_box, oauth=adapters.oauth
    )
    retry_import_failure: providers.Factory[RetryImportFailure] = providers.Factory(
        RetryImportFailure,
        uow=adapters.uow,
        clock=core.clock,
        gateway=adapters.gateway,
        import_order=import_order,
        secret_box=core.secret_box,
        tokens_for=tokens_for,
    )
    purge_failures: providers.Factory[PurgeResolvedFailures] = providers.Factory(
        PurgeResolvedFailures, uow=adapters.uow, clock=core.clock
    )
    purge_events: providers.Factory[PurgeEvents] = providers.Factory(PurgeEvents, uow=adapters.uow, clock=core.clock)
    request_sync: providers.Factory[RequestSync] = providers.Factory(RequestSync, uow=adapters.uow, clock=core.clock)
    save_notifications: providers.Factory[SaveNotificationSettings] = providers.Factory(
        SaveNotificationSettings, uow=adapters.uow, clock=core.clock, secret_box=core.secret_box
    )
    remove_carrier_mapping: providers.Factory[RemoveCarrierMapping] = providers.Factory(
        RemoveCarrierMapping, uow=adapters.uow
    )
    job_handlers: providers.Factory[JobHandlers] = providers.Factory(
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
        recover_renewals=refresh_token.provided.recover,
    )


class Container(containers.DeclarativeContainer):
    settings: providers.Dependency[Settings] = providers.Dependency(instance_of=Settings)
    core: providers.Container[Core] = providers.Container(Core, settings=settings)
    adapters: providers.Container[Adapters] = providers.Container(Adapters, core=core)
    use_cases: providers.Container[UseCases] = providers.Container(UseCases, core=core, adapters=adapters)


def build_container(settings: Settings | None = None) -> Container:
    """The container of a process, built at its start: settings from the environment unless
    given, the data folder and its generated secrets prepared (bootstrap)."""
    return Container(settings=prepare_data_folder(settings or Settings.from_env()))
