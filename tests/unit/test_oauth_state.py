"""The OAuth `state` signer: what it signs comes back, anything else is refused, and it expires."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kanglu.adapters.crypto import HmacStateSigner
from kanglu.application.errors import AuthorizationFailed
from kanglu.application.ports import OAuthState

TEN_MINUTES = timedelta(minutes=10)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def reason_of(signer: HmacStateSigner, token: str) -> str:
    with pytest.raises(AuthorizationFailed) as refused:
        signer.verify(token, TEN_MINUTES)
    return refused.value.reason


@given(connection_id=st.integers(min_value=1, max_value=2**63 - 1), nonce=st.text(min_size=1, max_size=64))
def test_what_it_signs_comes_back(connection_id: int, nonce: str) -> None:
    signer = HmacStateSigner("secret", clock=Clock())
    state = OAuthState(connection_id=connection_id, nonce=nonce)
    assert signer.verify(signer.sign(state), TEN_MINUTES) == state


def test_a_state_is_url_safe() -> None:
    token = HmacStateSigner("secret", clock=Clock()).sign(OAuthState(1, "nonce/with+odd=chars é"))
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_any_changed_character_is_refused() -> None:
    signer = HmacStateSigner("secret", clock=Clock())
    token = signer.sign(OAuthState(42, "abc"))
    for i, char in enumerate(token):
        forged = token[:i] + ("A" if char != "A" else "B") + token[i + 1:]
        assert reason_of(signer, forged) == "invalid_state", f"position {i}"


def test_a_state_signed_with_another_key_is_refused() -> None:
    token = HmacStateSigner("another secret", clock=Clock()).sign(OAuthState(42, "abc"))
    assert reason_of(HmacStateSigner("secret", clock=Clock()), token) == "invalid_state"


@given(st.text(max_size=200))
def test_garbage_is_refused_never_crashes(token: str) -> None:
    assert reason_of(HmacStateSigner("secret", clock=Clock()), token) == "invalid_state"


def test_a_state_expires_after_max_age() -> None:
    clock = Clock()
    signer = HmacStateSigner("secret", clock=clock)
    token = signer.sign(OAuthState(42, "abc"))
    clock.now += TEN_MINUTES.total_seconds()
    assert signer.verify(token, TEN_MINUTES).nonce == "abc"
    clock.now += 1
    assert reason_of(signer, token) == "expired"
