"""A refresh token to revoke at the ERP after the merchant disconnected (issue 19).

The connection forgets its tokens at once; this record keeps, sealed, what the revocation call
needs (the token and the application's credentials), so that it can be retried until the ERP
takes it, and then keeps nothing but the outcome.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from kanglu.domain.secrets import Sealed

REVOKED = "revoked"
GAVE_UP = "gave_up"


@attrs.define(slots=False, eq=False)
class TokenRevocation:
    connection_id: int
    client_id: str
    client_secret: Sealed | None  # None once finished
    refresh_token: Sealed | None
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    finished_at: datetime | None = None
    outcome: str | None = None
    last_error: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    id: int | None = None
