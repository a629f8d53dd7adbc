-- Workspaces: rows written before them belong to one "default" workspace, created only
-- when there is something to put in it.
CREATE TABLE "workspaces" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workspaces_pkey" PRIMARY KEY ("id")
);

INSERT INTO "workspaces" ("id", "name")
SELECT '00000000-0000-4000-8000-000000000001', 'default'
WHERE EXISTS (SELECT 1 FROM "users") OR EXISTS (SELECT 1 FROM "streams");

ALTER TABLE "users" ADD COLUMN "workspace_id" UUID;
ALTER TABLE "streams" ADD COLUMN "workspace_id" UUID;
ALTER TABLE "events" ADD COLUMN "workspace_id" UUID, ADD COLUMN "hash" BYTEA, ALTER COLUMN "created_at" DROP DEFAULT;
ALTER TABLE "workflows" ADD COLUMN "workspace_id" UUID;
ALTER TABLE "executions" ADD COLUMN "workspace_id" UUID;
UPDATE "users" SET "workspace_id" = '00000000-0000-4000-8000-000000000001';
UPDATE "streams" SET "workspace_id" = '00000000-0000-4000-8000-000000000001';
UPDATE "events" SET "workspace_id" = '00000000-0000-4000-8000-000000000001',
  "metadata" = "metadata" || '{"workspaceId": "00000000-0000-4000-8000-000000000001"}';
UPDATE "workflows" SET "workspace_id" = '00000000-0000-4000-8000-000000000001';
UPDATE "executions" SET "workspace_id" = '00000000-0000-4000-8000-000000000001';

-- The audit chain: one event's hash covers its columns and the previous event's hash in its
-- stream. jsonb's text form is canonical, and the instant is taken as epoch milliseconds, so
-- the hash does not depend on session settings. Written by the append statement and
-- recomputed by verification, so both use this one definition.
CREATE FUNCTION flowledger_event_hash(
  previous BYTEA, event_id UUID, workspace_id UUID, aggregate_type TEXT, aggregate_id UUID,
  version INTEGER, event_type TEXT, data JSONB, metadata JSONB, created_at TIMESTAMPTZ
) RETURNS BYTEA LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sha256(convert_to(jsonb_build_array(
    encode(previous, 'hex'), event_id, workspace_id, aggregate_type, aggregate_id, version, event_type,
    data, metadata, (extract(epoch FROM created_at) * 1000)::bigint
  )::text, 'UTF8'))
$$;

WITH RECURSIVE chain AS (
  SELECT e.global_position, e.aggregate_type, e.aggregate_id, e.version,
    flowledger_event_hash(NULL, e.event_id, e.workspace_id, e.aggregate_type, e.aggregate_id, e.version,
      e.event_type, e.data, e.metadata, e.created_at) AS hash
  FROM "events" e WHERE e.version = 1
  UNION ALL
  SELECT e.global_position, e.aggregate_type, e.aggregate_id, e.version,
    flowledger_event_hash(c.hash, e.event_id, e.workspace_id, e.aggregate_type, e.aggregate_id, e.version,
      e.event_type, e.data, e.metadata, e.created_at)
  FROM chain c JOIN "events" e
    ON e.aggregate_type = c.aggregate_type AND e.aggregate_id = c.aggregate_id AND e.version = c.version + 1
)
UPDATE "events" SET "hash" = chain.hash FROM chain WHERE "events".global_position = chain.global_position;

ALTER TABLE "users" ALTER COLUMN "workspace_id" SET NOT NULL;
ALTER TABLE "streams" ALTER COLUMN "workspace_id" SET NOT NULL;
ALTER TABLE "events" ALTER COLUMN "workspace_id" SET NOT NULL, ALTER COLUMN "hash" SET NOT NULL;
ALTER TABLE "workflows" ALTER COLUMN "workspace_id" SET NOT NULL;
ALTER TABLE "executions" ALTER COLUMN "workspace_id" SET NOT NULL;

-- DropIndex
DROP INDEX "events_aggregate_type_transaction_id_global_position_idx";

-- DropIndex
DROP INDEX "events_event_type_transaction_id_global_position_idx";

-- DropIndex
DROP INDEX "events_event_type_global_position_idx";

-- DropIndex
DROP INDEX "events_created_at_idx";

-- DropIndex
DROP INDEX "workflows_status_id_idx";

-- DropIndex
DROP INDEX "executions_status_id_idx";

-- CreateIndex
CREATE UNIQUE INDEX "workspaces_name_key" ON "workspaces"("name");

-- CreateIndex
CREATE INDEX "users_workspace_id_idx" ON "users"("workspace_id");

-- CreateIndex
CREATE INDEX "events_workspace_id_transaction_id_global_position_idx" ON "events"("workspace_id", "transaction_id", "global_position");

-- CreateIndex
CREATE INDEX "events_workspace_id_aggregate_type_transaction_id_global_po_idx" ON "events"("workspace_id", "aggregate_type", "transaction_id", "global_position");

-- CreateIndex
CREATE INDEX "events_workspace_id_event_type_transaction_id_global_positi_idx" ON "events"("workspace_id", "event_type", "transaction_id", "global_position");

-- CreateIndex
CREATE INDEX "events_workspace_id_global_position_idx" ON "events"("workspace_id", "global_position");

-- CreateIndex
CREATE INDEX "events_workspace_id_event_type_global_position_idx" ON "events"("workspace_id", "event_type", "global_position");

-- CreateIndex
CREATE INDEX "events_workspace_id_created_at_idx" ON "events"("workspace_id", "created_at");

-- CreateIndex
CREATE INDEX "workflows_workspace_id_status_id_idx" ON "workflows"("workspace_id", "status", "id");

-- CreateIndex
CREATE INDEX "executions_workspace_id_id_idx" ON "executions"("workspace_id", "id");

-- CreateIndex
CREATE INDEX "executions_workspace_id_status_id_idx" ON "executions"("workspace_id", "status", "id");

-- AddForeignKey
ALTER TABLE "users" ADD CONSTRAINT "users_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
