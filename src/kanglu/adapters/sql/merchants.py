"""The merchants' SQL repositories: their accounts and API keys, and where their alerts go."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.repository_base import SessionRepository
from kanglu.domain.events import NotificationSettings
from kanglu.domain.merchants import ApiKey, Merchant


class SqlMerchantRepository(SessionRepository):
    def add(self, merchant: Merchant) -> None:
        self._session.add(merchant)

    def get(self, merchant_id: int) -> Merchant | None:
        return self._session.get(Merchant, merchant_id)

    def get_by_email(self, email: str) -> Merchant | None:
        return self._session.scalars(select(Merchant).where(t.merchants.c.email == email)).first()

    def add_api_key(self, key: ApiKey) -> None:
        self._session.add(key)

    def by_api_key_hash(self, key_hash: str) -> Merchant | None:
        return merchant_by_api_key_hash(self._session, key_hash)

    def revoke_api_keys(self, merchant_id: int, now: datetime) -> int:
        k = t.api_keys
        revoked = self._session.execute(
            update(k).where(k.c.merchant_id == merchant_id, k.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        return revoked.rowcount  # type: ignore[attr-defined]


def merchant_by_api_key_hash(session: Session, key_hash: str) -> Merchant | None:
    return session.scalars(
        select(Merchant)
        .join(t.api_keys, t.api_keys.c.merchant_id == t.merchants.c.id)
        .where(t.api_keys.c.key_hash == key_hash, t.api_keys.c.revoked_at.is_(None))
    ).first()


class SqlNotificationRepository(SessionRepository):
    def get(self, merchant_id: int) -> NotificationSettings:
        found = self._session.get(NotificationSettings, merchant_id)
        return found if found is not None else NotificationSettings(merchant_id)

    def save(self, settings: NotificationSettings) -> None:
        self._session.add(settings)
