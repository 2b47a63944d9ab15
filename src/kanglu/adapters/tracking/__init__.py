"""Adapters of the TrackingService port: where shipments are handed for tracking."""
