-- Undoes 000038: the search index's expression has the statistics target 1000 of 000007 again.
ALTER INDEX leads_org_id_search_idx ALTER COLUMN 2 SET STATISTICS 1000;
