"""Frozen commands: what a caller asks a use case to do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from kanglu.domain.connections import ErpConnection
from kanglu.domain.orders import ErpOrder, MalformedOrder
from kanglu.domain.secrets import Secret
from kanglu.domain.situacoes import StatusMapping


@attrs.frozen
class SaveErpCredentialsCommand:
    merchant_id: int
    client_id: str
    client_secret: Secret | None  # None keeps the saved one (the field is write-only)
    invite_link: str


@attrs.frozen
class BeginConnectErpCommand:
    merchant_id: int


@attrs.frozen
class CompleteConnectErpCommand:
    """What the ERP sent back to the redirect URL: `code` and `state`, or `error`."""

    state: str | None
    code: str | None = None
    error: str | None = None
    error_description: str | None = None


@attrs.frozen
class DisconnectErpCommand:
    merchant_id: int


@attrs.frozen
class RefreshTokenCommand:
    """Renew when due; `force` after a 401 seen with `seen_token_version`."""

    connection_id: int
    force: bool = False
    seen_token_version: int | None = None


@attrs.frozen
class PollOrdersByStatusCommand:
    connection_id: int


@attrs.frozen
class ImportSettings:
    """What an import reads before it writes: the connection, its status mapping and its
    cached shipping families (service id -> family). A caller that has just read them (the
    poll, once per run) passes them along instead of having them read again."""

    connection: ErpConnection
    mapping: StatusMapping
    families: Mapping[int, int | None]


@attrs.frozen
class ImportOrderCommand:
    """Import orders of one connection as the ERP described them (one transaction)."""

    connection_id: int
    items: Sequence[ErpOrder | MalformedOrder]
    settings: ImportSettings | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class UpdateStatusMappingCommand:
    merchant_id: int
    actions: Mapping[int, str]  # situação code -> action value, as the caller sent them
    import_point_of_sale: bool | None = None  # PDV sales: None leaves the setting as it is


@attrs.frozen
class MapShippingServiceCommand:
    merchant_id: int
    shipping_key: str
    carrier_code: str


@attrs.frozen
class DeliverTrackingRequestsCommand:
    owner: str
    limit: int = 100


@attrs.frozen
class CreateMerchantCommand:
    name: str
    email: str
    password: Secret | None = None


@attrs.frozen
class ChangePasswordCommand:
    merchant_id: int
    current: Secret
    new: Secret


@attrs.frozen
class RotateApiKeyCommand:
    """By id (the Conta page) or by e-mail (`kanglu merchant rotate-key --email`)."""

    merchant_id: int | None = None
    email: str | None = None


@attrs.frozen
class RetryImportFailureCommand:
    """Fetch the order behind an import failure again, now (the merchant's "Tentar de novo")."""

    merchant_id: int
    failure_id: int


@attrs.frozen
class PurgeResolvedFailuresCommand:
    """Forget the import failures resolved long enough ago."""


@attrs.frozen
class RequestSyncCommand:
    merchant_id: int


@attrs.frozen
class SaveNotificationSettingsCommand:
    merchant_id: int
    email: bool
    webhook_url: str | None


@attrs.frozen
class RemoveCarrierMappingCommand:
    merchant_id: int
    shipping_key: str
