"""Wrappers that keep secrets out of reprs, logs and pages."""

from __future__ import annotations

import attrs


@attrs.frozen(repr=False)
class Secret:
    """A plaintext secret in memory (a client secret, a token) that never prints itself."""

    value: str

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@attrs.frozen(repr=False)
class Sealed:
    """A secret encrypted at the edge: what the entities hold and the database stores."""

    ciphertext: str

    def __repr__(self) -> str:
        return "Sealed('***')"

    __str__ = __repr__
