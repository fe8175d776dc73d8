"""activity: CRM connectors (webhooks), what they learnt of each CRM deal, and dead letters

- `activity.connectors`: one per org and provider (the webhook URL is `/v1/webhooks/{provider}/{org}`),
  with its secrets (write-only through the API: `current` and, while a rotation is under way,
  `previous`), the CRM's stages and owners mapped to ours, and defaults for what the CRM leaves out.
- `activity.connector_deals`: what a connector has learnt of each CRM deal from earlier deliveries
  (HubSpot sends one property per event: the owner and the amount come in events of their own).
- `activity.connector_dead_letters`: provider events that could not be translated (an unmapped
  stage or owner…), kept whole with the reason until a replay with a fixed mapping appends them.

Revision ID: 20261204_activity_connectors
Revises: 20261204_scoring_priority
"""

from __future__ import annotations

from alembic import op

revision = "20261204_activity_connectors"
down_revision = "20261204_scoring_priority"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity.connectors (
            id                     uuid        PRIMARY KEY,
            org_id                 text        NOT NULL,
            provider               text        NOT NULL
                CHECK (provider IN ('hubspot', 'generic', 'pipedrive', 'salesforce')),
            secret_current         text        NOT NULL,
            secret_current_set_at  timestamptz NOT NULL,
            secret_previous        text,
            secret_previous_set_at timestamptz,
            stages                 jsonb       NOT NULL DEFAULT '{}',
            owners                 jsonb       NOT NULL DEFAULT '{}',
            default_currency       text        NOT NULL,
            default_product_line   text        NOT NULL,
            salesforce_org_id      text,                  -- Salesforce: the org it must name
            created_at             timestamptz NOT NULL DEFAULT now(),
            updated_at             timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_connectors_org_id_provider UNIQUE (org_id, provider)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE activity.connector_deals (
            connector_id  uuid NOT NULL REFERENCES activity.connectors (id) ON DELETE CASCADE,
            object_id     text NOT NULL,
            owner_id      text,
            amount        text,
            stage         text,                 -- Salesforce: the StageName last seen
            modified_at   text,                 -- and the SystemModstamp it was seen at
            CONSTRAINT pk_connector_deals PRIMARY KEY (connector_id, object_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE activity.connector_dead_letters (
            id            bigserial   PRIMARY KEY,
            connector_id  uuid        NOT NULL REFERENCES activity.connectors (id) ON DELETE CASCADE,
            event_key     text        NOT NULL,   -- the provider's id of the event
            reason        text        NOT NULL,   -- e.g. stage_unmapped
            detail        text        NOT NULL,
            payload       jsonb       NOT NULL,   -- the provider's event, as received
            received_at   timestamptz NOT NULL DEFAULT now(),
            replayed_at   timestamptz,
            CONSTRAINT uq_connector_dead_letters_key UNIQUE (connector_id, event_key)
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_connector_dead_letters_open ON activity.connector_dead_letters"
        " (connector_id, id) WHERE replayed_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE activity.connector_dead_letters")
    op.execute("DROP TABLE activity.connector_deals")
    op.execute("DROP TABLE activity.connectors")
