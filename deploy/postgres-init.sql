-- Runs once, when the PostgreSQL data volume is first initialised (docker-entrypoint-initdb.d).
-- POSTGRES_DB already creates `temporal` (workflow state); Temporal's visibility store (the
-- list/search of workflows, including the TTD-DR search attributes) lives in its own database.
-- Creating it here rather than with `temporal-sql-tool create-database` keeps the schema job
-- idempotent: it never has to tell "already exists" apart from a real error.
CREATE DATABASE temporal_visibility;
