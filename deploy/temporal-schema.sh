#!/bin/sh
# Create or upgrade Temporal's PostgreSQL schema. Runs once per `docker compose up` in a one-shot
# temporalio/admin-tools container, before the server starts.
#
# Safe to re-run: `setup-schema -v 0.0` leaves a database that is already past 0.0 alone, and
# `update-schema` applies only the versions the database does not have yet — which is also how a
# newer admin-tools/server image upgrades an existing volume.
#
# Both databases already exist: POSTGRES_DB creates `temporal` and deploy/postgres-init.sql
# creates `temporal_visibility` when the data volume is first initialised.
#
# Connection settings come from the environment (SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER,
# SQL_PASSWORD), which temporal-sql-tool reads itself; SQL_DATABASE is set per database below.
set -eu

schema_root=/etc/temporal/schema/postgresql/v12

setup() {
  database=$1 # the database name
  schema=$2   # the schema folder: `temporal` (persistence) or `visibility`
  echo "temporal-schema: ${database}"
  SQL_DATABASE=$database temporal-sql-tool setup-schema -v 0.0
  SQL_DATABASE=$database temporal-sql-tool update-schema --schema-dir "${schema_root}/${schema}/versioned"
}

setup temporal temporal
setup temporal_visibility visibility
echo "temporal-schema: done"
