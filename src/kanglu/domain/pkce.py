"""PKCE (RFC 7636) S256: a verifier and its challenge."""

from __future__ import annotations

import base64
import hashlib
import secrets


def new_verifier() -> str:
    # 64 random bytes give 86 URL-safe characters, inside the 43..128 the RFC allows.
    return secrets.token_urlsafe(64)


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
