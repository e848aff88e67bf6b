"""loan_data_processing: which periods a run processes, its tasks' run-time glue, and the quality gate."""
