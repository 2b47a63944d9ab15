"""Ports for time, secrets and signatures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import attrs

from kanglu.domain.secrets import Sealed, Secret

class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SecretBox(Protocol):
    """Encryption of secrets at rest (client secret, tokens, PKCE verifier)."""

    def seal(self, plaintext: Secret) -> Sealed: ...

    def open(self, sealed: Sealed) -> Secret: ...


@attrs.frozen
class OAuthState:
    """What the signed `state` parameter carries: the connection and a single-use nonce."""

    connection_id: int
    nonce: str


class StateSigner(Protocol):
    def sign(self, state: OAuthState) -> str: ...

    def verify(self, token: str, max_age: timedelta) -> OAuthState:
        """Raises AuthorizationFailed (reason 'expired' or 'invalid_state')."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


