"""The SQL repositories of what maps an ERP's words to Kanglu's: situações to actions, shipping
services to their families, and a merchant's own shipping-service-to-carrier choices."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, delete, select

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import upsert_insert
from kanglu.adapters.sql.repository_base import CONNECTION_ID, SessionRepository
from kanglu.domain.shipping import ShippingFamily
from kanglu.domain.situacoes import Action, Situacao, StatusMapping

# Read for every page of a poll: built once.
_MAPPING_OF = select(t.status_mappings.c.situacao, t.status_mappings.c.action).where(
    t.status_mappings.c.connection_id == CONNECTION_ID
)
_FAMILIES_OF = select(
    t.shipping_families.c.service_id, t.shipping_families.c.name, t.shipping_families.c.family
).where(t.shipping_families.c.connection_id == CONNECTION_ID)
_CARRIERS_OF = select(t.carrier_mappings.c.shipping_key, t.carrier_mappings.c.carrier_code).where(
    t.carrier_mappings.c.merchant_id == bindparam("merchant_id")
)


class SqlStatusMappingRepository(SessionRepository):
    def get(self, connection_id: int) -> StatusMapping:
        rows = self._session.execute(_MAPPING_OF, {"conn_id": connection_id}).all()
        if not rows:
            return StatusMapping.default()
        known = {int(s) for s in Situacao}  # a code a later version dropped is ignored, not an error
        return StatusMapping({Situacao(s): Action(a) for s, a in rows if a != Action.IGNORE.value and s in known})

    def save(self, connection_id: int, mapping: StatusMapping) -> None:
        self._session.execute(delete(t.status_mappings).where(t.status_mappings.c.connection_id == connection_id))
        self._session.execute(
            t.status_mappings.insert(),
            [{"connection_id": connection_id, "situacao": int(s), "action": a.value} for s, a in mapping.full()],
        )


class SqlShippingFamilyRepository(SessionRepository):
    def for_connection(self, connection_id: int) -> dict[int, ShippingFamily]:
        rows = self._session.execute(_FAMILIES_OF, {"conn_id": connection_id}).all()
        return {row.service_id: ShippingFamily(row.service_id, row.name, row.family) for row in rows}

    def save(self, connection_id: int, families: Iterable[ShippingFamily]) -> None:
        rows = {f.service_id: {"connection_id": connection_id, "service_id": f.service_id, "name": f.name,
                               "family": f.family} for f in families}
        if not rows:
            return
        insert = upsert_insert(self._dialect, t.shipping_families)
        self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["connection_id", "service_id"],
                set_={"name": insert.excluded.name, "family": insert.excluded.family},
            ),
            list(rows.values()),
        )


class SqlCarrierMappingRepository(SessionRepository):
    def for_merchant(self, merchant_id: int) -> dict[str, str]:
        rows = self._session.execute(_CARRIERS_OF, {"merchant_id": merchant_id})
        return {key: code for key, code in rows}

    def set(self, merchant_id: int, shipping_key: str, carrier_code: str) -> None:
        insert = upsert_insert(self._dialect, t.carrier_mappings)
        self._session.execute(
            insert.values(merchant_id=merchant_id, shipping_key=shipping_key, carrier_code=carrier_code)
            .on_conflict_do_update(
                index_elements=["merchant_id", "shipping_key"], set_={"carrier_code": insert.excluded.carrier_code}
            )
        )


    def remove(self, merchant_id: int, shipping_key: str) -> bool:
        m = t.carrier_mappings.c
        result = self._session.execute(
            delete(t.carrier_mappings).where(m.merchant_id == merchant_id, m.shipping_key == shipping_key)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
