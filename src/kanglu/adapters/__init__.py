"""Adapters: the ports implemented with real technology (HTTP, SQL, crypto, clocks)."""
