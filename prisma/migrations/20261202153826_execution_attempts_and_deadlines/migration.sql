-- Why a job is claimed again, so that retries are bounded: takeovers count claims of a lease
-- that ran out under another process (it died or stalled), failures count runs in a row that
-- ended in an error of the service's. And when its execution times out, so that one no process
-- claims is timed out then by any process. Jobs of before have no deadline: their runner keeps it.
-- AlterTable
ALTER TABLE "execution_jobs" ADD COLUMN     "deadline" TIMESTAMPTZ(3),
ADD COLUMN     "failures" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "last_failure" TEXT,
ADD COLUMN     "takeovers" INTEGER NOT NULL DEFAULT 0;

-- CreateIndex
CREATE INDEX "execution_jobs_deadline_idx" ON "execution_jobs"("deadline");
