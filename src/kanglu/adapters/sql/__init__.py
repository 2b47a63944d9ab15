"""Persistence on SQLite and PostgreSQL: tables, imperative mapping, repositories, unit of work."""
