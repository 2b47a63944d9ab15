"""`python -m kanglu …`: the same as the `kanglu` command, for a process started without the
virtual environment's scripts on PATH (tests and supervisors start workers this way)."""

from kanglu.entrypoints.cli import main

raise SystemExit(main())
