"""The tables by area. Import them from kanglu.adapters.sql.tables, which gathers them all with
`metadata` (and defines erp_connections itself)."""
