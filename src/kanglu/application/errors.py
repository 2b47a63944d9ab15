"""Application errors: each says whether to give up, re-authorise, or retry later.

`message` is Portuguese, ready for the merchant; nothing secret ever goes into it.
"""

from __future__ import annotations

from collections.abc import Mapping

from kanglu.domain.permissions import ErpPermission


class ApplicationError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ApplicationError):
    """The object does not exist for this merchant (another merchant's objects included)."""


class InvalidInput(ApplicationError):
    """Input refused field by field: `field_errors` maps a field name to its Portuguese message."""

    def __init__(self, field_errors: Mapping[str, str], message: str = "dados inválidos") -> None:
        super().__init__(message)
        self.field_errors = dict(field_errors)


class ReauthorizationRequired(ApplicationError):
    """A definite refusal by the ERP (invalid_grant, invalid_client, revoked access): retrying
    will not help; the merchant must authorise again."""

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code


class PermissionMissing(ApplicationError):
    """The ERP refused one module (HTTP 403): the application lacks that read permission. Not a
    lost authorisation: the connection stays connected, and the merchant ticks the box in Tiny."""

    def __init__(self, permission: ErpPermission, request_id: str | None = None) -> None:
        super().__init__(
            f"o aplicativo da Kanglu no Tiny não tem a permissão “{permission.box}”: marque-a no Tiny, "
            "em Configurações → Aplicativos, e a Kanglu continua sozinha"
        )
        self.permission = permission
        self.request_id = request_id


class TransientFailure(ApplicationError):
    """A failure that may pass (timeout, 5xx, 429, database blip): retry later.
    `retry_after` is the delay in seconds the other side asked for, when it said."""

    def __init__(self, message: str, retry_after: float | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.request_id = request_id


class RateLimited(TransientFailure):
    """The ERP account's request budget is spent until `retry_after` seconds from now."""


class AuthorizationFailed(ApplicationError):
    """The OAuth callback cannot complete: refused consent, bad or replayed or expired state,
    failed exchange. The connection stays as it was."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
