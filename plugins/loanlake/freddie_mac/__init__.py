"""The Freddie Mac Single-Family Loan-Level Dataset: layouts, sources, transfer to S3, manifest."""
