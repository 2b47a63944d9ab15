"""The merchant's own account: a new password, a new API key.

Ending the browser sessions a new password makes stale is the web's part (its sessions are
not the application's); the use case reports success, the web ends the other sessions.
"""

from __future__ import annotations

import logging
import secrets

import attrs

from kanglu.application.commands import ChangePasswordCommand as ChangePasswordCommand
from kanglu.application.commands import RotateApiKeyCommand as RotateApiKeyCommand
from kanglu.application.errors import InvalidInput, NotFound
from kanglu.application.ports import Clock, PasswordHasher, UnitOfWorkFactory
from kanglu.application.use_cases.create_merchant import API_KEY_PREFIX, hash_api_key
from kanglu.domain.customers import normalise_email
from kanglu.domain.merchants import ApiKey

log = logging.getLogger(__name__)

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


class ChangePassword:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, passwords: PasswordHasher) -> None:
        self._uow = uow
        self._clock = clock
        self._passwords = passwords

    def __call__(self, command: ChangePasswordCommand) -> None:
        new = command.new.value
        if len(new) < MIN_PASSWORD:
            raise InvalidInput({"new_password": f"a nova senha deve ter pelo menos {MIN_PASSWORD} caracteres"})
        if len(new) > MAX_PASSWORD:
            raise InvalidInput({"new_password": f"a nova senha pode ter no máximo {MAX_PASSWORD} caracteres"})
        with self._uow() as uow:
            merchant = uow.merchants.get(command.merchant_id)
            if merchant is None:
                raise NotFound("lojista não encontrado")
            if not merchant.password_hash or not self._passwords.verify(merchant.password_hash, command.current.value):
                raise InvalidInput({"current_password": "a senha atual não confere"})
            if new == command.current.value:
                raise InvalidInput({"new_password": "a nova senha deve ser diferente da atual"})
            merchant.password_hash = self._passwords.hash(new)
            uow.commit()
        log.info("merchant changed password", extra={"merchant_id": command.merchant_id})


@attrs.frozen
class RotatedKey:
    merchant_id: int
    api_key: str  # shown once, never stored


class RotateApiKey:
    """A new API key; every older key of the merchant stops working at once."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, command: RotateApiKeyCommand) -> RotatedKey:
        with self._uow() as uow:
            if command.merchant_id is not None:
                merchant = uow.merchants.get(command.merchant_id)
            else:
                email = normalise_email(command.email or "")
                merchant = uow.merchants.get_by_email(email) if email else None
            if merchant is None or merchant.id is None:
                raise NotFound("lojista não encontrado")
            now = self._clock.now()
            revoked = uow.merchants.revoke_api_keys(merchant.id, now)
            api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
            uow.merchants.add_api_key(
                ApiKey(merchant_id=merchant.id, key_hash=hash_api_key(api_key), prefix=api_key[:10], created_at=now)
            )
            uow.commit()
            log.info("api key rotated", extra={"merchant_id": merchant.id, "revoked_keys": revoked})
            return RotatedKey(merchant.id, api_key)
