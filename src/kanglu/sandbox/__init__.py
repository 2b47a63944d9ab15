"""The Tiny sandbox: an HTTP double of Tiny's OAuth server and API v3 for demo, tests and benchmarks.

`SandboxServer` runs it in a background thread; `kanglu.sandbox.cli` is the command line.
Names are imported lazily so `import kanglu.sandbox` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kanglu.sandbox.clock import SandboxClock
    from kanglu.sandbox.server import SandboxServer

__all__ = ["SandboxClock", "SandboxServer"]


def __getattr__(name: str) -> Any:
    if name == "SandboxServer":
        from kanglu.sandbox.server import SandboxServer

        return SandboxServer
    if name == "SandboxClock":
        from kanglu.sandbox.clock import SandboxClock

        return SandboxClock
    raise AttributeError(name)
