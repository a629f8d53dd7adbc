-- Sizes: each event's data as JSON, in bytes, and each stream's sum of them, written by the
-- append statement. Reads cut their pages by what an answer may still hold, and executions
-- keep to their byte budget, without measuring anything again.
ALTER TABLE "events" ADD COLUMN "data_bytes" INTEGER NOT NULL DEFAULT 0;
UPDATE "events" SET "data_bytes" = octet_length("data"::text);
ALTER TABLE "streams" ADD COLUMN "bytes" BIGINT NOT NULL DEFAULT 0;
UPDATE "streams" s SET "bytes" = coalesce((SELECT sum(e."data_bytes") FROM "events" e
  WHERE e."aggregate_type" = s."aggregate_type" AND e."aggregate_id" = s."aggregate_id"), 0);

-- An execution's input and output sizes, so that a read can weigh them before loading them.
ALTER TABLE "executions" ADD COLUMN "input_bytes" INTEGER NOT NULL DEFAULT 0, ADD COLUMN "output_bytes" INTEGER NOT NULL DEFAULT 0;
UPDATE "executions" SET "input_bytes" = octet_length("input"::text), "output_bytes" = coalesce(octet_length("output"::text), 0);

-- Jobs know their workspace, so that claims take turns between workspaces, and a long wait
-- parks its job until a time rather than holding a process's slot.
ALTER TABLE "execution_jobs" ADD COLUMN "workspace_id" UUID, ADD COLUMN "not_before" TIMESTAMPTZ(3);
UPDATE "execution_jobs" j SET "workspace_id" = e."workspace_id" FROM "executions" e WHERE e."id" = j."execution_id";
DELETE FROM "execution_jobs" WHERE "workspace_id" IS NULL;
ALTER TABLE "execution_jobs" ALTER COLUMN "workspace_id" SET NOT NULL;
CREATE INDEX "execution_jobs_workspace_id_created_at_idx" ON "execution_jobs"("workspace_id", "created_at");

-- Each workspace's overrides of the default budgets and quotas.
ALTER TABLE "workspaces" ADD COLUMN "limits" JSONB NOT NULL DEFAULT '{}';
