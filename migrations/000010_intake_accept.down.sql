-- Every jobs insert notifies in its own transaction again (000002).
CREATE OR REPLACE FUNCTION jobs_notify_inserted() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('jobs_inserted', '');
    RETURN NULL;
END;
$$;
