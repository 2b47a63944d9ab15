"""CreateMerchant: an operator creates a merchant account and its first API key."""

from __future__ import annotations

import hashlib
import secrets

import attrs

from kanglu.application.commands import CreateMerchantCommand as Command
from kanglu.application.errors import InvalidInput
from kanglu.application.ports import Clock, PasswordHasher, UnitOfWorkFactory
from kanglu.domain.customers import normalise_email
from kanglu.domain.merchants import ApiKey, Merchant

API_KEY_PREFIX = "kgl_"


def hash_api_key(key: str) -> str:
    """API keys are 256 random bits: a plain SHA-256 is enough to store them (no dictionary
    to attack) and keeps the per-request check cheap."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@attrs.frozen
class CreatedMerchant:
    merchant: Merchant
    api_key: str  # shown once, never stored


class CreateMerchant:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, passwords: PasswordHasher) -> None:
        self._uow = uow
        self._clock = clock
        self._passwords = passwords

    def __call__(self, command: Command) -> CreatedMerchant:
        errors: dict[str, str] = {}
        name = " ".join(command.name.split()) if command.name else ""
        email = normalise_email(command.email)
        if not name:
            errors["name"] = "informe o nome"
        if email is None:
            errors["email"] = "e-mail inválido"
        if command.password is not None and len(command.password.value) < 8:
            errors["password"] = "a senha deve ter pelo menos 8 caracteres"
        if errors:
            raise InvalidInput(errors)
        assert email is not None
        with self._uow() as uow:
            if uow.merchants.get_by_email(email) is not None:
                raise InvalidInput({"email": "já existe um lojista com este e-mail"})
            now = self._clock.now()
            password_hash = self._passwords.hash(command.password.value) if command.password else None
            merchant = Merchant(name=name, email=email, password_hash=password_hash, created_at=now)
            uow.merchants.add(merchant)
            uow.flush()
            assert merchant.id is not None
            api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
            uow.merchants.add_api_key(
                ApiKey(merchant_id=merchant.id, key_hash=hash_api_key(api_key), prefix=api_key[:10], created_at=now)
            )
            uow.commit()
            return CreatedMerchant(merchant, api_key)
