"""Kanglu's client of Tiny ERP: OAuth 2.0 and API v3, as the OAuthProvider and ErpGateway ports."""

from kanglu.adapters.tiny.gateway import DEFAULT_API_URL, TinyGateway
from kanglu.adapters.tiny.http import CallStats, RetryPolicy
from kanglu.adapters.tiny.oauth import DEFAULT_AUTH_URL, TinyOAuth
from kanglu.adapters.tiny.ratelimit import RateLimitPacer

__all__ = ["DEFAULT_API_URL", "DEFAULT_AUTH_URL", "CallStats", "RateLimitPacer", "RetryPolicy", "TinyGateway", "TinyOAuth"]
