-- The sandbox's stand-in for the Redshift database.
CREATE DATABASE loanlake;
