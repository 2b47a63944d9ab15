"""Secrets at rest (Fernet over a list of keys, newest first) and the signed OAuth `state`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class HmacStateSigner:
    """`state` = base64(payload).base64(HMAC-SHA256): the callback trusts nothing it did not sign.
    Single use is enforced elsewhere (the nonce stored on the connection)."""

    def __init__(self, secret_key: str, clock: Callable[[], float] = time.time) -> None:
        self._key = hashlib.sha256(b"kanglu-oauth-state:" + secret_key.encode("utf-8")).digest()
        self._clock = clock

    def sign(self, state: OAuthState) -> str:
        payload = json.dumps({"c": state.connection_id, "n": state.nonce, "t": int(self._clock())},
                             separators=(",", ":")).encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, max_age: timedelta) -> OAuthState:
        refused = AuthorizationFailed(
            "O retorno do Tiny não pôde ser verificado (parâmetro state inválido). Clique em Conectar de novo.",
            "invalid_state",
        )
        try:
            encoded, mac = token.split(".")
            payload = _unb64(encoded)
            if not hmac.compare_digest(_unb64(mac), self._mac(payload)):
                raise refused
            data = json.loads(payload)
            connection_id, nonce, issued = int(data["c"]), str(data["n"]), int(data["t"])
        except AuthorizationFailed:
            raise
        except (ValueError, KeyError, TypeError):
            raise refused from None
        if self._clock() - issued > max_age.total_seconds():
            raise AuthorizationFailed(
                "A autorização demorou mais de 10 minutos e expirou. Clique em Conectar de novo.", "expired"
            )
        return OAuthState(connection_id=connection_id, nonce=nonce)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()
