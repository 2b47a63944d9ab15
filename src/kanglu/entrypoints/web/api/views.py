"""The JSON API under /api/v1: the routes and shapes of the external contract, one module per
resource (integration, listings, merchant_sync) on the blueprint of `common`.

Importing this module registers every route; `bp`, `PREFIX` and `error_response` are what the
app factory and the error handlers need.
"""

from __future__ import annotations

from kanglu.entrypoints.web.api import integration, listings, merchant_sync
from kanglu.entrypoints.web.api.common import PREFIX, bp, error_response

__all__ = ["PREFIX", "bp", "error_response", "integration", "listings", "merchant_sync"]
