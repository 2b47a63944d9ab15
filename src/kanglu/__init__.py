"""Kanglu's ERP integration: imports orders from Tiny ERP and starts shipment tracking."""

__version__ = "0.1.0"
