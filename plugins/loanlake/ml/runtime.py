"""What the loan_model_training tasks need from Airflow at run time: config, clients, the registry, the gate."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from loanlake.emr import cluster, submit
from loanlake.ml import cleanup, gate, registry, training
from loanlake.tasks import aws_client
from loanlake.tasks import config as _config
from loanlake.tasks import fail as _fail
from loanlake.tasks import s3 as _s3

log = logging.getLogger("loanlake.ml")

SUMMARY_FIELDS = (
    "examples",
    "censored",
    "train_rows",
    "train_positives",
    "validation_rows",
    "validation_positives",
)


def plan(context: dict[str, Any]) -> dict[str, Any]:
    """The run's names and the cluster request: the same on every try of the run."""
    config = _config()
    run_after = context["dag_run"].run_after
    job = training.job_name(context["run_id"], run_after)
    return {
        "job": job,
        "training_root": training.training_root(config, job),
        "as_of": f"{run_after:%Y-%m-%d}",
        "aws_conn_id": config.aws_conn_id,
        "region_name": config.region,
        "job_flow_overrides": cluster.job_flow_request(config, context["dag"].dag_id, context["run_id"]),
    }


def submit_training_steps(cluster_id: str, scripts_root: str, root: str, as_of: str) -> list[str]:
    """The training-set steps the cluster lacks; the ids of all of them, in order."""
    config = _config()
    steps = training.training_steps(config, scripts_root, root, datetime.fromisoformat(as_of))
    return submit.submit_steps(aws_client(config, "emr"), cluster_id, [step.to_emr() for step in steps])


def check_training_set(root: str) -> dict[str, int]:
    """The counts Hive wrote beside the training set; fails when there is too little to train on."""
    config = _config()
    bucket, key = root.removeprefix("s3://").split("/", 1)
    s3 = _s3(config)
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{key}/baseline/summary/")
        for obj in page.get("Contents", [])
    ]
    rows = [
        line
        for name in keys
        for line in s3.get_object(Bucket=bucket, Key=name)["Body"].read().decode().splitlines()
        if line.strip()
    ]
    if len(rows) != 1:
        raise _fail(f"{root}/baseline/summary/ holds {len(rows)} rows, expected 1: did training_baseline.hql run?")
    counts = dict(zip(SUMMARY_FIELDS, (int(value) for value in rows[0].split("|")), strict=True))
    log.info("training set %s: %s", root, ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    labelled = counts["train_rows"] + counts["validation_rows"]
    if labelled < config.ml.min_training_rows:
        raise _fail(
            f"training set {root} has {labelled:,} labelled loans, fewer than ml.min_training_rows "
            f"{config.ml.min_training_rows:,}: process more periods first"
        )
    for split in ("train", "validation"):
        positives, total = counts[f"{split}_positives"], counts[f"{split}_rows"]
        if not 0 < positives < total:
            raise _fail(f"the {split} split of {root} has {positives} positive(s) of {total}: AUC is undefined")
    return counts


def _image(config: Any) -> str:
    from sagemaker.core import image_uris

    return image_uris.retrieve("xgboost", config.region, config.ml.xgboost_version)


def training_request(job: str, root: str, context: dict[str, Any]) -> dict[str, Any]:
    config = _config()
    tags = {"dag_id": context["dag"].dag_id, "run_id": context["run_id"], "owner": config.owner}
    tags[cluster.MANAGED_TAG] = "true"
    return training.training_job_request(config, job, root, _image(config), tags)


def _registry(config: Any) -> tuple[Any, str, registry.Registry]:
    s3 = _s3(config)
    key = registry.registry_key(config.ml.registry_prefix, config.ml.endpoint_name)
    return s3, key, registry.read(s3, config.data_bucket, key)


def _model_record(config: Any, job: str, root: str, description: dict[str, Any], run_id: str) -> registry.ModelRecord:
    return registry.ModelRecord(
        job_name=job,
        model_name=job,
        endpoint_config=job,
        validation_auc=gate.validation_auc(description.get("FinalMetricDataList", []), job),
        model_data=description["ModelArtifacts"]["S3ModelArtifacts"],
        training_root=root,
        trained_at=datetime.now(UTC).isoformat(),
        run_id=run_id,
    )


def evaluate(job: str, root: str, context: dict[str, Any]) -> dict[str, Any]:
    """The gate: the new model's validation AUC against the live one's. Held back: recorded here."""
    config = _config()
    description = aws_client(config, "sagemaker").describe_training_job(TrainingJobName=job)
    try:
        model = _model_record(config, job, root, description, context["run_id"])
    except gate.MetricMissingError as exc:
        raise _fail(str(exc)) from exc
    s3, key, record = _registry(config)
    live_auc = record.live.validation_auc if record.live else None
    decision = gate.decide(model.validation_auc, live_auc, config.ml.auc_floor, config.ml.auc_tolerance)
    live = record.live.model_name if record.live else "none"
    log.info("gate: %s (new model %s, live model %s)", decision.reason, job, live)
    if not decision.deploy:
        record.record(model, decision.to_dict(), deployed=False)
        registry.write(s3, config.data_bucket, key, record)
    return {**decision.to_dict(), "model": vars(model)}


def deployment_request(job: str, model_data: str) -> dict[str, Any]:
    config = _config()
    return training.deployment_request(config, job, model_data, _image(config))


def verify_endpoint(job: str) -> str:
    """The endpoint serves the new config, InService; else fail with SageMaker's reason (the old config serves)."""
    config = _config()
    endpoint = aws_client(config, "sagemaker").describe_endpoint(EndpointName=config.ml.endpoint_name)
    status, serving = endpoint["EndpointStatus"], endpoint["EndpointConfigName"]
    if status != "InService" or serving != job:
        reason = endpoint.get("FailureReason") or "no FailureReason given"
        raise _fail(
            f"endpoint {config.ml.endpoint_name} is {status} on config {serving}, not on the new {job}: {reason}. "
            "A failed update rolls back: the previous model is still serving."
        )
    log.info("endpoint %s is InService on %s", config.ml.endpoint_name, job)
    return serving


def promote(decision: dict[str, Any]) -> None:
    """The verified model becomes the registry's live model."""
    config = _config()
    s3, key, record = _registry(config)
    model = registry.ModelRecord(**decision["model"])
    record.record(model, {k: v for k, v in decision.items() if k != "model"}, deployed=True)
    registry.write(s3, config.data_bucket, key, record)
    log.info("registry %s: live model %s (validation AUC %.4f)", key, model.model_name, model.validation_auc)


def clean_up_models() -> list[str]:
    """Delete this package's endpoint configs and models beyond the newest ml.keep_models; never one in use."""
    config = _config()
    deleted = cleanup.remove_surplus(aws_client(config, "sagemaker"), [config.ml.endpoint_name], config.ml.keep_models)
    log.info("cleaned up: %s", ", ".join(deleted) or f"nothing beyond the newest {config.ml.keep_models}")
    return deleted


def deploy_endpoint_proxy() -> str:
    """The API Gateway proxy Lambda of include/lambda/endpoint_proxy/: created, or updated when its code drifted."""
    from loanlake.streaming import packaging

    config = _config()
    lambda_client = aws_client(config, "lambda")
    built = packaging.build_zip(packaging.lambda_source_dir("endpoint_proxy"))
    name, environment = config.ml.proxy_function_name, {"Variables": {"ENDPOINT_NAME": config.ml.endpoint_name}}
    wait = {"Delay": config.ml.poll_seconds, "MaxAttempts": 40}
    try:
        current = lambda_client.get_function_configuration(FunctionName=name)
    except lambda_client.exceptions.ResourceNotFoundException:
        lambda_client.create_function(
            FunctionName=name,
            Runtime=config.streaming.processor.runtime,
            Role=config.ml.proxy_role_arn,
            Handler="handler.handler",
            Code={"ZipFile": built.content},
            Timeout=30,
            Environment=environment,
            Description="loanlake: include/lambda/endpoint_proxy",
        )
        lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=wait)
        return f"created {name}"
    if current.get("CodeSha256") != built.code_sha256:
        lambda_client.update_function_code(FunctionName=name, ZipFile=built.content)
        lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=wait)
    if current.get("Environment") != environment:
        lambda_client.update_function_configuration(FunctionName=name, Environment=environment)
        lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=wait)
    return f"{name} serves {config.ml.endpoint_name} with include/lambda/endpoint_proxy ({built.code_sha256})"
