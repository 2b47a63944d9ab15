"""Errors raised by the domain when a value or a transition is not acceptable."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the model refused something; `message` is Portuguese, for the merchant."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(DomainError):
    """An input value (document, key, code, amount…) is malformed or fails its check."""


class InvalidTransition(DomainError):
    """An entity was asked to move to a state its current state does not allow."""
