-- The sandbox's stand-in for the RDS MySQL database.
CREATE DATABASE IF NOT EXISTS loanlake CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
