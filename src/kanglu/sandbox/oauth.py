"""The OAuth 2.0 server of the sandbox, behaving like Tiny's Keycloak realm.

Authorization codes are single-use and short-lived, bound to the exact redirect URI and to the
PKCE challenge; refresh tokens rotate, and a spent one answers `invalid_grant` ("Stale token")
and is counted, because two renewals racing for one connection is the bug Kanglu must not have.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
from typing import Any
from urllib.parse import urlencode

import attrs

from kanglu.sandbox.accounts import Account, SandboxState

SCOPE = "openid email offline_access"
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class OAuthError(Exception):
    """An error answer of the token endpoint: HTTP status plus the standard body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class AuthorizeError(Exception):
    """A bad authorization request: shown as an error page when the redirect URI cannot be
    trusted, else sent back to the client as `error=` on its redirect URI."""

    def __init__(self, message: str, redirect: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.redirect = redirect


@attrs.define
class AuthRequest:
    """A validated /auth request waiting for the user's decision on the consent page."""

    account: Account
    redirect_uri: str
    state: str | None
    scope: str
    challenge: str | None
    method: str | None
    expires: float


@attrs.define
class AuthCode:
    account: Account
    redirect_uri: str
    challenge: str | None
    method: str | None
    expires: float
    session: str
    used: bool = False


@attrs.define
class Token:
    kind: str  # "access" or "refresh"
    account: Account
    session: str
    generation: int
    expires: float
    spent: bool = False


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class OAuthServer:
    """Codes, consent tickets and tokens of every account; thread-safe."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._tickets: dict[str, AuthRequest] = {}
        self._codes: dict[str, AuthCode] = {}
        self._tokens: dict[str, Token] = {}
        self._revoked_sessions: set[str] = set()
        # Every honoured /revoke call: (account id, "refresh" or "access", session).
        self.revocations: list[tuple[str, str, str]] = []

    @property
    def issuer(self) -> str:
        return f"{self.state.base_url}/realms/tiny"

    # ---- /auth and the consent page ---------------------------------------------------------
    def validate(self, params: dict[str, str]) -> AuthRequest:
        """Check an authorization request as Keycloak does before showing the consent page."""
        client_id = params.get("client_id", "")
        account = self.state.by_client_id.get(client_id)
        if account is None:
            raise AuthorizeError("Client not found.")
        account.counters.add("oauth", "authorize")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri != account.settings.redirect_uri:
            raise AuthorizeError("Invalid parameter: redirect_uri")
        state = params.get("state")
        if params.get("response_type") != "code":
            raise AuthorizeError("Invalid parameter: response_type",
                                 self._error_redirect(redirect_uri, "unsupported_response_type", state))
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or None
        if challenge is not None:
            method = method or "plain"
            if method not in ("S256", "plain") or not re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", challenge):
                raise AuthorizeError("Invalid parameter: code_challenge_method",
                                     self._error_redirect(redirect_uri, "invalid_request", state))
        return AuthRequest(account, redirect_uri, state, params.get("scope") or "openid", challenge, method,
                           self.state.clock.now() + 1800)

    def ticket(self, request: AuthRequest) -> str:
        """A single-use reference to the request, carried by the consent form."""
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._tickets[ticket] = request
        return ticket

    def decide(self, ticket: str, accept: bool) -> str:
        """The user's answer on the consent page; returns where the browser goes next."""
        with self._lock:
            request = self._tickets.pop(ticket, None)
        if request is None or request.expires < self.state.clock.now():
            raise AuthorizeError("Sua sessão de autorização expirou. Volte ao aplicativo e tente de novo.")
        return self.conclude(request, accept)

    def conclude(self, request: AuthRequest, accept: bool) -> str:
        account = request.account
        if not accept:
            account.counters.add("oauth", "consent_deny")
            return self._error_redirect(request.redirect_uri, "access_denied", request.state)
        account.counters.add("oauth", "consent_accept")
        code = f"{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(12)}.{secrets.token_urlsafe(18)}"
        session = secrets.token_hex(16)
        now = self.state.clock.now()
        with self._lock:
            self._codes[code] = AuthCode(account, request.redirect_uri, request.challenge, request.method,
                                         now + account.settings.code_lifetime, session)
        params = {"session_state": session, "iss": self.issuer, "code": code}
        if request.state is not None:
            params = {"state": request.state, **params}
        return _with_query(request.redirect_uri, params)

    def _error_redirect(self, redirect_uri: str, error: str, state: str | None) -> str:
        params = {"error": error}
        if state is not None:
            params["state"] = state
        params["iss"] = self.issuer
        return _with_query(redirect_uri, params)

    # ---- /token ---------------------------------------------------------------------------
    def client(self, form: dict[str, str], basic: tuple[str, str] | None) -> Account:
        """Authenticate the client by HTTP Basic or by client_id + client_secret in the form."""
        client_id, secret = basic if basic else (form.get("client_id"), form.get("client_secret"))
        if not client_id:
            raise OAuthError(400, "invalid_request", "Missing parameter: client_id")
        account = self.state.by_client_id.get(client_id)
        if account is None or not secret or not hmac.compare_digest(secret, account.client_secret):
            raise OAuthError(401, "invalid_client", "Invalid client or Invalid client credentials")
        return account

    def exchange_code(self, account: Account, form: dict[str, str]) -> dict[str, object]:
        code_text = form.get("code")
        if not code_text:
            raise OAuthError(400, "invalid_request", "Missing parameter: code")
        now = self.state.clock.now()
        with self._lock:
            code = self._codes.get(code_text)
            if code is None or code.account is not account:
                raise OAuthError(400, "invalid_grant", "Code not valid")
            if code.used:
                # RFC 6749 §4.1.2: a replayed code revokes what it granted.
                self._revoked_sessions.add(code.session)
                raise OAuthError(400, "invalid_grant", "Code not valid")
            code.used = True
        if code.expires < now:
            raise OAuthError(400, "invalid_grant", "Code not valid")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError(400, "invalid_grant", "Incorrect redirect_uri")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                raise OAuthError(400, "invalid_grant", "PKCE code verifier not specified")
            if not _VERIFIER.match(verifier):
                raise OAuthError(400, "invalid_grant", "PKCE verification failed: Invalid code verifier")
            expected = s256(verifier) if code.method == "S256" else verifier
            if not hmac.compare_digest(expected, code.challenge):
                raise OAuthError(400, "invalid_grant", "PKCE verification failed: Code mismatch")
        return self.issue(account, code.session)

    def refresh(self, account: Account, form: dict[str, str]) -> dict[str, object]:
        text = form.get("refresh_token")
        if not text:
            raise OAuthError(400, "invalid_request", "Missing parameter: refresh_token")
        now = self.state.clock.now()
        with self._lock:
            token = self._tokens.get(text)
            if token is None or token.kind != "refresh":
                raise OAuthError(400, "invalid_grant", "Invalid refresh token")
            if token.account is not account:
                raise OAuthError(400, "invalid_grant",
                                 "Invalid refresh token. Token client and authorized client don't match")
            if token.spent:
                account.counters.add("oauth", "spent_refresh_token_uses")
                if account.settings.reuse_revokes_session:
                    self._revoked_sessions.add(token.session)
                raise OAuthError(400, "invalid_grant", "Stale token")
            if token.generation != account.generation or token.session in self._revoked_sessions:
                raise OAuthError(400, "invalid_grant", "Session not active")
            if token.expires <= now:
                raise OAuthError(400, "invalid_grant", "Token is not active")
            token.spent = True
        return self.issue(account, token.session)

    def issue(self, account: Account, session: str | None = None) -> dict[str, object]:
        """A fresh access + refresh pair for a session (a new one when none is given)."""
        session = session or secrets.token_hex(16)
        settings = account.settings
        now = self.state.clock.now()
        access = self._jwt(account, session, "Bearer", now, settings.access_lifetime)
        refresh = self._jwt(account, session, "Refresh", now, settings.refresh_lifetime)
        with self._lock:
            self._tokens[access] = Token("access", account, session, account.generation, now + settings.access_lifetime)
            self._tokens[refresh] = Token("refresh", account, session, account.generation,
                                          now + settings.refresh_lifetime)
        return {
            "access_token": access,
            "expires_in": settings.access_lifetime,
            "refresh_expires_in": settings.refresh_lifetime,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "id_token": self._jwt(account, session, "ID", now, settings.access_lifetime),
            "not-before-policy": 0,
            "session_state": session,
            "scope": SCOPE,
        }

    def _jwt(self, account: Account, session: str, kind: str, now: float, lifetime: int) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "sandbox"}).encode())
        payload = _b64(json.dumps({
            "exp": int(now + lifetime), "iat": int(now), "jti": secrets.token_hex(16), "iss": self.issuer,
            "aud": "account" if kind != "ID" else account.client_id, "sub": account.id, "typ": kind,
            "azp": account.client_id, "sid": session, "scope": SCOPE,
        }, separators=(",", ":")).encode())
        signature = _b64(hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    # ---- /revoke (RFC 7009, as Keycloak answers it) -------------------------------------------
    def revoke_token(self, account: Account, form: dict[str, str]) -> None:
        """Revoke a token the authenticated client holds. Like Keycloak, revoking a refresh
        token ends its whole session: the refresh token answers `invalid_grant` afterwards and
        the session's access tokens stop opening the API. An unknown or expired token is not an
        error (RFC 7009 §2.2); another client's token is."""
        text = form.get("token")
        if not text:
            raise OAuthError(400, "invalid_request", "Token not provided")
        hint = form.get("token_type_hint")
        if hint and hint not in ("access_token", "refresh_token"):
            raise OAuthError(400, "unsupported_token_type", "Unsupported token type")
        with self._lock:
            token = self._tokens.get(text)
            if token is None:
                return
            if token.account is not account:
                raise OAuthError(400, "invalid_request", "Unmatching clients")
            self._revoked_sessions.add(token.session)
            self.revocations.append((account.id, token.kind, token.session))

    # ---- the API's side ---------------------------------------------------------------------
    def authenticate(self, access_token: str) -> Account | None:
        """The account an access token opens, or None (missing, unknown, expired or revoked)."""
        with self._lock:
            token = self._tokens.get(access_token)
            if token is None or token.kind != "access":
                return None
            if token.generation != token.account.generation or token.session in self._revoked_sessions:
                return None
        if token.expires <= self.state.clock.now():
            return None
        return token.account

    def expire(self, account: Account, kinds: frozenset[str] = frozenset({"access"})) -> int:
        """End the lifetime of the account's live tokens of those kinds now, as if time had passed
        for them only (a 401 then a successful refresh, without moving the clock)."""
        now = self.state.clock.now()
        expired = 0
        with self._lock:
            for token in self._tokens.values():
                if token.account is account and token.kind in kinds and token.expires > now and not token.spent:
                    token.expires = now
                    expired += 1
        return expired

    def token_state(self, account: Account) -> dict[str, int]:
        """How many of the account's tokens live now, and how often a spent refresh token came
        back (each such reuse is a renewal whose answer the client lost, or two racing)."""
        now = self.state.clock.now()
        live = {"access": 0, "refresh": 0}
        spent = 0
        with self._lock:
            for token in self._tokens.values():
                if token.account is not account:
                    continue
                if token.spent:
                    spent += 1
                elif (token.expires > now and token.generation == account.generation
                      and token.session not in self._revoked_sessions):
                    live[token.kind] += 1
        counts = account.counters.snapshot()
        return {
            "spent_refresh_token_uses": counts.get(("oauth", "spent_refresh_token_uses", ""), 0),
            "refresh_calls": counts.get(("oauth", "refresh_calls", ""), 0),
            "live_access_tokens": live["access"],
            "live_refresh_tokens": live["refresh"],
            "spent_refresh_tokens": spent,
        }

    def is_live_refresh_token(self, account: Account, text: str) -> bool:
        """Whether Tiny would accept this refresh token now (without spending it)."""
        now = self.state.clock.now()
        with self._lock:
            token = self._tokens.get(text)
            return (token is not None and token.kind == "refresh" and token.account is account and not token.spent
                    and token.expires > now and token.generation == account.generation
                    and token.session not in self._revoked_sessions)

    def revoke(self, account: Account) -> None:
        """Log the account out of every session: access and refresh tokens die at once."""
        with self._lock:
            account.generation += 1

    # ---- state file ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The signing key, every token (live, spent or expired) and the revoked sessions; codes and
        consent tickets live a minute and are left out. The generations travel with the accounts."""
        with self._lock:
            return {
                "key": self._key.hex(),
                "tokens": [[text, t.kind, t.account.id, t.session, t.generation, t.expires, t.spent]
                           for text, t in self._tokens.items()],
                "revoked_sessions": sorted(self._revoked_sessions),
            }

    def restore(self, data: dict[str, Any]) -> None:
        """Take back a snapshot's tokens; those of accounts the state no longer has are dropped."""
        with self._lock:
            self._key = bytes.fromhex(data["key"])
            for text, kind, account_id, session, generation, expires, spent in data["tokens"]:
                account = self.state.accounts.get(account_id)
                if account is not None:
                    self._tokens[text] = Token(kind, account, session, generation, expires, spent)
            self._revoked_sessions.update(data["revoked_sessions"])


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
