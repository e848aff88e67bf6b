"""The requests of one training run: names, Hive steps of the training set, the SageMaker job and the deployment.

Every name derives from the run, so a retry of any task finds what an earlier try created: the job
``loanlake-xgb-<YYYYmmddHHMM>-<hash of the run id>``, its training set under ``<ml.training_prefix>/<job>/``,
and the model and endpoint config named after the job.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from loanlake.config import LoanlakeConfig
from loanlake.emr.steps import HiveStep, script_uri, step_name
from loanlake.ml.features import WINDOW_MONTHS

TRAINING_SCRIPTS = ("create_databases.hql", "training_set.hql", "training_baseline.hql")
TRAIN_PERCENT = 80
VARIANT = "AllTraffic"
NAME_PREFIX = "loanlake-xgb-"


def job_name(run_id: str, run_after: datetime) -> str:
    """Unique per run, the same for every try of it: 31 characters, within SageMaker's 63."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    return f"{NAME_PREFIX}{run_after:%Y%m%d%H%M}-{digest}"


def training_root(config: LoanlakeConfig, job: str) -> str:
    return config.s3_root(f"{config.ml.training_prefix}/{job}")


def training_steps(config: LoanlakeConfig, scripts_root: str, root: str, as_of: datetime) -> list[HiveStep]:
    """The Hive steps that build the training set and its baseline from every processed period."""
    variables = {
        "DB": config.emr.hive_database,
        "PROCESSED_ROOT": config.s3_root(config.processed_prefix),  # what the steps read (the scripts use tables)
        "TRAINING_ROOT": root,
        "AS_OF": f"{as_of:%Y-%m}-01",
        "WINDOW_MONTHS": str(WINDOW_MONTHS),
        "TRAIN_PERCENT": str(TRAIN_PERCENT),
    }
    return [
        HiveStep(step_name("training", script), script_uri(scripts_root, script), variables)
        for script in TRAINING_SCRIPTS
    ]


def training_job_request(config: LoanlakeConfig, job: str, root: str, image: str, tags: dict[str, str]) -> dict:
    """``CreateTrainingJob`` for the built-in XGBoost on the run's train and validation CSV."""
    ml = config.ml

    def channel(name: str) -> dict[str, Any]:
        source = {"S3DataType": "S3Prefix", "S3Uri": f"{root}/{name}/", "S3DataDistributionType": "FullyReplicated"}
        return {"ChannelName": name, "DataSource": {"S3DataSource": source}, "ContentType": "text/csv"}

    stopping: dict[str, int] = {"MaxRuntimeInSeconds": ml.max_runtime_seconds}
    request: dict[str, Any] = {
        "TrainingJobName": job,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ml.role_arn,
        "HyperParameters": dict(ml.hyperparameters),
        "InputDataConfig": [channel("train"), channel("validation")],
        "OutputDataConfig": {"S3OutputPath": config.s3_root(ml.model_prefix) + "/"},
        "ResourceConfig": {
            "InstanceType": ml.instance_type,
            "InstanceCount": ml.instance_count,
            "VolumeSizeInGB": ml.volume_gb,
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": ml.use_spot,
        "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
    }
    if ml.use_spot:
        stopping["MaxWaitTimeInSeconds"] = ml.max_wait_seconds
        request["CheckpointConfig"] = {"S3Uri": config.s3_root(f"{ml.checkpoint_prefix}/{job}") + "/"}
    return request


def deployment_request(config: LoanlakeConfig, job: str, model_data: str, image: str) -> dict[str, Any]:
    """``SageMakerEndpointOperator``'s config: the model, an endpoint config with data capture, the endpoint.

    The endpoint is created when missing and updated otherwise (the operator falls back to UpdateEndpoint);
    an update is blue/green, rolled back automatically when one of ``ml.rollback_alarms`` fires.
    """
    ml = config.ml
    deployment: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300},
            "TerminationWaitInSeconds": 300,
            "MaximumExecutionTimeoutInSeconds": ml.deploy_timeout_minutes * 60,
        }
    }
    if ml.rollback_alarms:
        deployment["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in ml.rollback_alarms]}
    return {
        "Model": {
            "ModelName": job,
            "PrimaryContainer": {"Image": image, "ModelDataUrl": model_data},
            "ExecutionRoleArn": ml.role_arn,
        },
        "EndpointConfig": {
            "EndpointConfigName": job,
            "ProductionVariants": [
                {
                    "VariantName": VARIANT,
                    "ModelName": job,
                    "InitialInstanceCount": ml.endpoint_instance_count,
                    "InstanceType": ml.endpoint_instance_type,
                    "InitialVariantWeight": 1.0,
                }
            ],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": ml.capture_sampling_percent,
                "DestinationS3Uri": config.s3_root(ml.capture_prefix),
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
            },
        },
        "Endpoint": {"EndpointName": ml.endpoint_name, "EndpointConfigName": job, "DeploymentConfig": deployment},
    }
