"""Page numbers to show under a listing: the first, the last, and a few around the current one."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode


def page_window(page: int, pages: int, radius: int = 2) -> list[int | None]:
    """E.g. [1, None, 4, 5, 6, 7, 8, None, 4000]; None stands for a gap ("…")."""
    if pages <= 1:
        return [1]
    wanted = {1, pages, *range(max(1, page - radius), min(pages, page + radius) + 1)}
    window: list[int | None] = []
    previous = 0
    for number in sorted(wanted):
        if number - previous > 1:
            window.append(None)
        window.append(number)
        previous = number
    return window


def page_url(path: str, args: Mapping[str, str], page: int) -> str:
    """The same listing (search and filters kept) on another page."""
    query = {k: v for k, v in args.items() if k != "page" and v != ""}
    if page > 1:
        query["page"] = str(page)
    return path + (f"?{urlencode(query)}" if query else "")
