"""The merchant-facing pages, one blueprint per menu entry."""
