"""Publishing processed data to the warehouses: Sqoop export to RDS MySQL, COPY into Redshift, reconciliation."""
