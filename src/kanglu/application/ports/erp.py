"""Ports for the ERP: its OAuth provider, the tokens, and its API in domain terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder
from kanglu.domain.permissions import ErpPermission
from kanglu.domain.secrets import Secret
from kanglu.domain.shipping import ShippingFamily
from kanglu.domain.tracking import TrackingRequest

@attrs.frozen
class OAuthClient:
    client_id: str
    client_secret: Secret


@attrs.frozen
class TokenGrant:
    """A token answer: lifetimes in seconds; `refresh_expires_in` None when not said."""

    access_token: Secret
    refresh_token: Secret
    expires_in: int
    refresh_expires_in: int | None = None


@attrs.frozen
class PendingGrant:
    """Tokens Tiny issued for a connection and not yet stored: the refresh token they replace
    is spent at Tiny, so these are the only ones that still work."""

    connection_id: int
    seen_token_version: int  # the version they replace
    grant: TokenGrant = attrs.field(repr=False)
    obtained_at: datetime


class TokenJournal(Protocol):
    """Tokens Tiny issued, written down (sealed) before the database takes them: a process that
    dies in between leaves them for the next start to store."""

    def record(self, pending: PendingGrant) -> None: ...

    def remove(self, pending: PendingGrant) -> None: ...

    def pending(self) -> list[PendingGrant]: ...


class NoTokenJournal:
    """Keeps nothing (a process with nowhere to write, and unit tests that do not need it)."""

    def record(self, pending: PendingGrant) -> None:
        return None

    def remove(self, pending: PendingGrant) -> None:
        return None

    def pending(self) -> list[PendingGrant]:
        return []


class OAuthProvider(Protocol):
    """The ERP's OAuth 2.0 server. Raises ReauthorizationRequired for a definite refusal and
    TransientFailure for anything worth retrying."""

    def authorize_url(self, client_id: str, redirect_uri: str, state: str, code_challenge: str) -> str: ...

    def exchange_code(self, client: OAuthClient, code: str, redirect_uri: str, code_verifier: str) -> TokenGrant: ...

    def refresh(self, client: OAuthClient, refresh_token: Secret) -> TokenGrant: ...

    def revoke(self, client: OAuthClient, refresh_token: Secret) -> None:
        """Revoke a refresh token (and its session) at the ERP (RFC 7009). Raises
        TransientFailure when it may pass later, ReauthorizationRequired when the ERP refuses
        the client for good."""
        ...


class TokenSource(Protocol):
    """The access token of one connection, and a way to get a fresh one after a 401.

    `key` names the ERP account behind the token (rate-limit budgets are per account) and
    appears in logs; it never contains the token.
    """

    @property
    def key(self) -> str: ...

    def access_token(self) -> Secret: ...

    def renew(self) -> Secret:
        """Renew (single-flight across processes) and return the new access token; raises
        ReauthorizationRequired when the ERP refuses for good."""
        ...


@attrs.frozen
class OrderPage:
    """One page of changed orders. The window goes on at `next_offset` of the same listing,
    else (a listing read to its end) from `next_since` at offset 0; both None: it is done."""

    items: Sequence[ErpOrder | MalformedOrder]
    next_offset: int | None
    total: int | None = None
    next_since: datetime | None = None


class ErpGateway(Protocol):
    """The ERP's API, in domain terms. Raises TransientFailure / RateLimited /
    ReauthorizationRequired, and PermissionMissing when the application lacks the module's read
    permission; a malformed order is an item of the page, never an exception."""

    def account_name(self, tokens: TokenSource) -> str | None: ...

    def changed_orders(
        self, tokens: TokenSource, since: datetime, offset: int, *, until: datetime | None = None,
        point_of_sale: bool = True, window_start: datetime | None = None,
    ) -> OrderPage:
        """Orders changed at or after `since` (any situação), from `offset`, in listings the
        page chains (`next_offset`, `next_since`) until everything changed up to `until` (the
        poll's start) was listed; `window_start` is where the window began (`since` moves on
        with `next_since`). Without `point_of_sale`, point-of-sale (PDV) sales are left out."""
        ...

    def invoices_for(self, tokens: TokenSource, orders: Sequence[ErpOrder]) -> Mapping[int, Invoice | MalformedOrder]:
        """The invoice of each order that has one, by ERP order id; as few calls as possible."""
        ...

    def shipping_families(self, tokens: TokenSource) -> Sequence[ShippingFamily]:
        """Every shipping service of the account, with its family."""
        ...

    def has_permission(self, tokens: TokenSource, permission: ErpPermission) -> bool:
        """Whether the application may read that module now (one cheap call)."""
        ...

    def order(self, tokens: TokenSource, erp_order_id: int) -> ErpOrder | MalformedOrder | None:
        """One order from its detail (one call): its total when the listing had none, or an
        order fetched again on the merchant's request. None when the ERP does not know it."""
        ...


class TrackingService(Protocol):
    """Where shipments are handed for tracking. Must be safe to call twice with the same
    request (idempotency key); raises TransientFailure to be retried later."""

    def deliver(self, request: TrackingRequest) -> None: ...


