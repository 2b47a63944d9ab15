"""Entrypoints: the web app, the worker and the CLI, wired by the container."""
