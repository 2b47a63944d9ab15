"""The paging of Tiny's listings: `{"itens": [...], "paginacao": {"total": n}}`, by limit and offset."""

from collections.abc import Mapping

from kanglu.adapters.tiny.structuring import whole_or_none

PAGE_SIZE = 100  # the most a listing of API v3 answers at once

class PageShapeError(ValueError):
    """A whole listing answer that is not `{"itens": [...], "paginacao": {...}}`."""


def page_items(body: object) -> tuple[list[object], int | None]:
    """The `itens` of a listing answer and its `paginacao.total` (None when not said)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("itens", []), list):
        raise PageShapeError("listing answer without an `itens` list")
    paging = body.get("paginacao")
    total = whole_or_none(paging.get("total")) if isinstance(paging, Mapping) else None
    return list(body.get("itens") or []), total


def next_offset(offset: int, received: int, limit: int, total: int | None) -> int | None:
    """Where the next page starts, None after the last one (never loops on an empty page)."""
    if received == 0:
        return None
    after = offset + received
    if total is not None:
        return after if after < total else None
    return after if received >= limit else None
