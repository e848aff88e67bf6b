-- Whether the sandbox's stand-in for the Redshift database exists (PostgreSQL has no CREATE DATABASE IF NOT EXISTS).
SELECT COUNT(*) AS found
FROM pg_database
WHERE datname = 'loanlake';
