"""The application core: ports, commands, errors and one use case per module."""
