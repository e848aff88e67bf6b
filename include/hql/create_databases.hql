-- Step 1 of 6: the database every other script writes to.
--
-- Variables (hive -d NAME=value): DB, the database name (e.g. loanlake).
-- Table locations are set per table by the later scripts, so the database needs none.

CREATE DATABASE IF NOT EXISTS ${DB}
COMMENT 'Freddie Mac single-family loan-level data lake: raw, quarantine, processed, quality';
