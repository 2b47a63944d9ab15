"""Secrets at rest (Fernet over a list of keys, newest first) and the signed OAuth `state`."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from kanglu.application.errors import AuthorizationFailed
from kanglu.application.ports import OAuthState
from kanglu.domain.secrets import Sealed, Secret


class SecretDecryptionError(Exception):
    """A sealed value no configured key opens: a key was dropped too early."""


class FernetSecretBox:
    """MultiFernet encrypts with the first key and opens with any, so a new key can be put
    first, everything re-encrypted (`rotate`), and the old key dropped afterwards."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k.encode("ascii") if isinstance(k, str) else k) for k in keys])

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def seal(self, plaintext: Secret) -> Sealed:
        return Sealed(self._fernet.encrypt(plaintext.value.encode("utf-8")).decode("ascii"))

    def open(self, sealed: Sealed) -> Secret:
        try:
            return Secret(self._fernet.decrypt(sealed.ciphertext.encode("ascii")).decode("utf-8"))
        except InvalidToken:
            raise SecretDecryptionError("no configured encryption key opens this secret") from None

    def rotate(self, sealed: Sealed) -> Sealed:
        try:
            return Sealed(self._fernet.rotate(sealed.ciphertext.encode("ascii")).decode("ascii"))
        except InvalidToken:
            raise SecretDecryptionError("no configured encryption key opens this secret") from None


class _ClockedTimestampSigner(TimestampSigner):
    """itsdangerous reads the time from `get_timestamp`; the injected clock lets tests age a state."""

    def __init__(self, *args: Any, clock: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


def check_encryption_keys(keys: Sequence[str]) -> None:
    """ValueError unless every key is a Fernet key (and there is at least one)."""
    FernetSecretBox(keys)


def add_newest_key(path: os.PathLike[str], keys: Sequence[str]) -> tuple[str, ...]:
    """A new key put first in the keys file of the embedded default (written anew, never
    readable by others: 0600): the keys now configured, newest first."""
    new_keys = (FernetSecretBox.generate_key(), *keys)
    tmp = f"{os.fspath(path)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(new_keys) + "\n")
    os.replace(tmp, path)
    return new_keys


class HmacStateSigner:
    """`state` = itsdangerous' URL-safe timed serializer (HMAC-SHA256, salted for this one use):
    the callback trusts nothing it did not sign, and the signature carries its own issue time.
    Single use is enforced elsewhere (the nonce stored on the connection, `consume_authorization`)."""

    _SALT = "kanglu-oauth-state"

    def __init__(self, secret_key: str, clock: Callable[[], float] = time.time) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret_key,
            salt=self._SALT,
            signer=_ClockedTimestampSigner,
            signer_kwargs={"clock": clock, "digest_method": hashlib.sha256},
        )

    def sign(self, state: OAuthState) -> str:
        return self._serializer.dumps({"c": state.connection_id, "n": state.nonce})

    def verify(self, token: str, max_age: timedelta) -> OAuthState:
        try:
            data = self._serializer.loads(token, max_age=int(max_age.total_seconds()))
            return OAuthState(connection_id=int(data["c"]), nonce=str(data["n"]))
        except SignatureExpired:
            raise AuthorizationFailed(
                "A autorização demorou mais de 10 minutos e expirou. Clique em Conectar de novo.", "expired"
            ) from None
        except (BadData, ValueError, KeyError, TypeError):
            raise AuthorizationFailed(
                "O retorno do Tiny não pôde ser verificado (parâmetro state inválido). Clique em Conectar de novo.",
                "invalid_state",
            ) from None
