"""Every Asset shared between DAGs: the data-aware schedule in one place.

URIs are built at parse time from the environment (``LOANLAKE__DATA_BUCKET``), never from a
Variable, so parsing makes no database call. ``config.LoanlakeConfig`` checks that the two agree.
"""

from airflow.sdk import Asset

from loanlake.config import asset_bucket

_BUCKET = asset_bucket()

FREDDIE_MAC_RAW = Asset(
    name="freddie_mac_raw",
    uri=f"s3://{_BUCKET}/raw/",
    group="loanlake",
    extra={"description": "Freddie Mac origination and performance files as published, one prefix a period"},
)

LOANS_PROCESSED = Asset(
    name="loans_processed",
    uri=f"s3://{_BUCKET}/processed/",
    group="loanlake",
    extra={"description": "typed, partitioned Parquet of acquisitions and performance, checked by the quality gate"},
)

LOAN_MODEL_DRIFT = Asset(
    name="loan_model_drift",
    uri=f"s3://{_BUCKET}/reports/drift/",
    group="loanlake",
    extra={"description": "material drift of the endpoint's inputs from the live model's training baseline"},
)
