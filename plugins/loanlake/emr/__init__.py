"""The transient EMR cluster: its request, its Hive steps, their idempotent submission and their logs."""
