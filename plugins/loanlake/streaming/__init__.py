"""The loan-application stream: Kinesis/Firehose/Lambda checks, shard sizing, Lambda packaging, remediation."""
