DROP INDEX IF EXISTS jobs_claim_type_idx;
