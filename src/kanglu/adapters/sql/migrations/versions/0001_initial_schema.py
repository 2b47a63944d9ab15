"""Initial schema: merchants, ERP connections, customers, orders, shipments, import
failures, outbox, jobs and the built-in tracking registry.

Written with plain SQLAlchemy types (the adapters' TypeDecorators only convert values; the
columns they produce are these).

Revision ID: 0001
Revises:
Create Date: 2026-07-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# BIGINT keys, but INTEGER on SQLite where only INTEGER PRIMARY KEY auto-increments.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.BigInteger(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('kind', 'subject_id', name=op.f('uq_jobs_kind_subject_id'))
    )
    op.create_index('ix_jobs_due', 'jobs', ['due_at'], unique=False)

    op.create_table('merchants',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchants')),
    sa.UniqueConstraint('email', name=op.f('uq_merchants_email'))
    )
    op.create_table('outbox',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('request', JSON_DOCUMENT, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('insert_sentinel', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    op.create_index('ix_outbox_due', 'outbox', ['next_attempt_at'], unique=False, postgresql_where=sa.text('delivered_at IS NULL'), sqlite_where=sa.text('delivered_at IS NULL'))
    op.create_index('ix_outbox_stream_pending', 'outbox', ['stream', 'id'], unique=False, postgresql_where=sa.text('delivered_at IS NULL'), sqlite_where=sa.text('delivered_at IS NULL'))

    op.create_table('tracking_handoffs',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('shipment_key', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('merchant_id', ID, nullable=False),
    sa.Column('erp_order_id', sa.BigInteger(), nullable=False),
    sa.Column('carrier_code', sa.String(length=40), nullable=False),
    sa.Column('tracking_code', sa.String(length=50), nullable=False),
    sa.Column('request', JSON_DOCUMENT, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_handoffs')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_tracking_handoffs_idempotency_key'))
    )
    op.create_index(op.f('ix_tracking_handoffs_shipment_key'), 'tracking_handoffs', ['shipment_key'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('merchant_id', ID, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_api_keys_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_index(op.f('ix_api_keys_merchant_id'), 'api_keys', ['merchant_id'], unique=False)

    op.create_table('carrier_mappings',
    sa.Column('merchant_id', ID, nullable=False),
    sa.Column('shipping_key', sa.Text(), nullable=False),
    sa.Column('carrier_code', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_carrier_mappings_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('merchant_id', 'shipping_key', name=op.f('pk_carrier_mappings'))
    )
    op.create_table('customers',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('merchant_id', ID, nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('search_name', sa.Text(), nullable=False),
    sa.Column('document', sa.String(length=14), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('address', JSON_DOCUMENT, nullable=True),
    sa.Column('erp_customer_id', sa.BigInteger(), nullable=True),
    sa.Column('insert_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_customers_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('merchant_id', 'document', name=op.f('uq_customers_merchant_id_document'))
    )
    op.create_index('ix_customers_merchant_email', 'customers', ['merchant_id', 'email'], unique=False)
    op.create_index('ix_customers_merchant_erp_customer', 'customers', ['merchant_id', 'erp_customer_id'], unique=False)
    op.create_index('ix_customers_merchant_name', 'customers', ['merchant_id', 'search_name', 'id'], unique=False)

    op.create_table('erp_connections',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('merchant_id', ID, nullable=False),
    sa.Column('erp', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=True),
    sa.Column('client_secret', sa.Text(), nullable=True),
    sa.Column('invite_link', sa.Text(), nullable=True),
    sa.Column('auth_nonce', sa.String(length=64), nullable=True),
    sa.Column('auth_verifier', sa.Text(), nullable=True),
    sa.Column('auth_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('access_token', sa.Text(), nullable=True),
    sa.Column('refresh_token', sa.Text(), nullable=True),
    sa.Column('access_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refresh_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('refresh_failures', sa.Integer(), nullable=False),
    sa.Column('account_name', sa.Text(), nullable=True),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('poll_cursor', sa.DateTime(timezone=True), nullable=True),
    sa.Column('poll_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('poll_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('poll_offset', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_erp_connections_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_connections')),
    sa.UniqueConstraint('merchant_id', 'erp', name=op.f('uq_erp_connections_merchant_id_erp'))
    )
    op.create_table('import_failures',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('connection_id', ID, nullable=False),
    sa.Column('erp_order_id', sa.BigInteger(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', JSON_DOCUMENT, nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['erp_connections.id'], name=op.f('fk_import_failures_connection_id_erp_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_failures'))
    )
    op.create_index('ix_import_failures_recent', 'import_failures', ['connection_id', 'last_seen_at'], unique=False)
    op.create_index('uq_import_failures_open', 'import_failures', ['connection_id', 'erp_order_id'], unique=True, postgresql_where=sa.text('resolved_at IS NULL'), sqlite_where=sa.text('resolved_at IS NULL'))

    op.create_table('orders',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('merchant_id', ID, nullable=False),
    sa.Column('connection_id', ID, nullable=False),
    sa.Column('erp_order_id', sa.BigInteger(), nullable=False),
    sa.Column('situacao', sa.SmallInteger(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('number', sa.Text(), nullable=True),
    sa.Column('ecommerce_number', sa.Text(), nullable=True),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('customer_id', ID, nullable=True),
    sa.Column('invoice', JSON_DOCUMENT, nullable=True),
    sa.Column('shipping', JSON_DOCUMENT, nullable=False),
    sa.Column('shipping_key', sa.Text(), nullable=True),
    sa.Column('carrier_code', sa.String(length=40), nullable=True),
    sa.Column('tracking_code', sa.String(length=50), nullable=True),
    sa.Column('tracking_url', sa.Text(), nullable=True),
    sa.Column('tracking_status', sa.String(length=20), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('insert_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['erp_connections.id'], name=op.f('fk_orders_connection_id_erp_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_orders_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_orders_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('connection_id', 'erp_order_id', name=op.f('uq_orders_connection_id_erp_order_id'))
    )
    op.create_index('ix_orders_carrier', 'orders', ['merchant_id', 'carrier_code', 'shipping_key'], unique=False)
    op.create_index('ix_orders_customer', 'orders', ['customer_id'], unique=False)
    op.create_index('ix_orders_ecommerce_number', 'orders', ['merchant_id', 'ecommerce_number'], unique=False)
    op.create_index('ix_orders_list', 'orders', ['merchant_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_orders_number', 'orders', ['merchant_id', 'number'], unique=False)
    op.create_index('ix_orders_situacao', 'orders', ['merchant_id', 'situacao', 'created_at', 'id'], unique=False)
    op.create_index('ix_orders_tracking_code', 'orders', ['merchant_id', 'tracking_code'], unique=False)
    op.create_index('ix_orders_tracking_status', 'orders', ['merchant_id', 'tracking_status', 'created_at', 'id'], unique=False)

    op.create_table('shipping_families',
    sa.Column('connection_id', ID, nullable=False),
    sa.Column('service_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('family', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['erp_connections.id'], name=op.f('fk_shipping_families_connection_id_erp_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'service_id', name=op.f('pk_shipping_families'))
    )
    op.create_table('status_mappings',
    sa.Column('connection_id', ID, nullable=False),
    sa.Column('situacao', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['erp_connections.id'], name=op.f('fk_status_mappings_connection_id_erp_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'situacao', name=op.f('pk_status_mappings'))
    )
    op.create_table('shipments',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('order_id', ID, nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('carrier_code', sa.String(length=40), nullable=False),
    sa.Column('tracking_code', sa.String(length=50), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_shipments_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('key', name=op.f('uq_shipments_key'))
    )
    op.create_index('ix_shipments_order', 'shipments', ['order_id'], unique=False)
    op.create_index('uq_shipments_active_order', 'shipments', ['order_id'], unique=True, postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))



def downgrade() -> None:
    op.drop_index('uq_shipments_active_order', table_name='shipments', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))

    op.drop_table('shipments')
    op.drop_table('status_mappings')
    op.drop_table('shipping_families')
    op.drop_index('ix_orders_tracking_status', table_name='orders')
    op.drop_index('ix_orders_tracking_code', table_name='orders')
    op.drop_index('ix_orders_situacao', table_name='orders')
    op.drop_index('ix_orders_number', table_name='orders')
    op.drop_index('ix_orders_list', table_name='orders')
    op.drop_index('ix_orders_ecommerce_number', table_name='orders')
    op.drop_index('ix_orders_customer', table_name='orders')
    op.drop_index('ix_orders_carrier', table_name='orders')

    op.drop_table('orders')
    op.drop_index('uq_import_failures_open', table_name='import_failures', postgresql_where=sa.text('resolved_at IS NULL'), sqlite_where=sa.text('resolved_at IS NULL'))
    op.drop_index('ix_import_failures_recent', table_name='import_failures')

    op.drop_table('import_failures')
    op.drop_table('erp_connections')
    op.drop_index('ix_customers_merchant_name', table_name='customers')
    op.drop_index('ix_customers_merchant_erp_customer', table_name='customers')
    op.drop_index('ix_customers_merchant_email', table_name='customers')

    op.drop_table('customers')
    op.drop_table('carrier_mappings')
    op.drop_index(op.f('ix_api_keys_merchant_id'), table_name='api_keys')

    op.drop_table('api_keys')
    op.drop_index(op.f('ix_tracking_handoffs_shipment_key'), table_name='tracking_handoffs')

    op.drop_table('tracking_handoffs')
    op.drop_index('ix_outbox_stream_pending', table_name='outbox', postgresql_where=sa.text('delivered_at IS NULL'), sqlite_where=sa.text('delivered_at IS NULL'))
    op.drop_index('ix_outbox_due', table_name='outbox', postgresql_where=sa.text('delivered_at IS NULL'), sqlite_where=sa.text('delivered_at IS NULL'))

    op.drop_table('outbox')
    op.drop_table('merchants')
    op.drop_index('ix_jobs_due', table_name='jobs')

    op.drop_table('jobs')
