"""The IAM policies of include/iam/ against the code: valid documents, and every AWS call allowed to its caller.

What a role needs is found from the code, not from a list kept by hand:

- **The code's own calls.** Every module of dags/, plugins/loanlake/ and include/lambda/ is parsed with ``ast``.
  A value is a boto3 client of a service when it comes from ``boto3.client("<svc>")``, from a provider hook
  (``S3Hook(...).get_conn()``, ``EmrHook(...).conn``, ``self.hook.conn`` in a subclass of a provider operator or
  sensor, ``AwsBaseHook(client_type=...)``), from a package function that returns one (``aws_client(config,
  "<svc>")``, ``loanlake.tasks.s3``, a cached ``runtime_client()``), from a tuple such a function returns, from
  ``self.<attr>`` set to one in ``__init__``, or is a parameter that the package's calls hand a client to (found
  from the call sites, to a fixed point), or a parameter or dataclass field named by ``CLIENT_NAMES``. A method
  called on a client is an operation of botocore's service model (``list_objects_v2`` -> ``ListObjectsV2``), or
  ``get_paginator``/``get_waiter`` of one (a waiter is resolved to its operation from botocore's or the
  provider's waiter model), or an S3 transfer helper (``S3_TRANSFER``). Anything else on a client fails the test.
- **What the Amazon provider calls under the hood.** ``PROVIDER_CLASSES`` and ``HOOK_METHODS`` say, with a comment
  each, which operations and waiters an operator, sensor, trigger or hook method uses; every operation and waiter
  named must appear in the provider's source files listed for it (checked), and every name the code imports from
  the provider must be in these tables or in ``PROVIDER_NAMES_WITHOUT_CALLS`` (checked), so a new operator in a DAG
  fails here until its calls are mapped.
- **What AWS services do with the roles the code hands them.** The requests the code builds from the default
  config (the RunJobFlow request, Hive and Sqoop steps, the HQL those steps run, the training job, the endpoint,
  the Firehose destination, the Redshift COPY) name the S3 locations, images, functions and streams the EMR
  nodes, SageMaker, Firehose and Redshift reach with their roles; the HQL statements name the Glue tables.

Each need is an (IAM action, resource ARN, request context) evaluated against the rendered policy of its role
with a small IAM evaluator (Allow/Deny, wildcards, the condition operators the policies use). The tests then hold:
every need is allowed; no statement of a policy can be removed without a need failing (no dead statements, and
proof the check has teeth); no action is granted that no need asks for; probes outside the needs are denied.

Not covered: permissions AWS checks that the code cannot show (KMS keys, service-linked roles, trust policies,
VPC endpoints); S3 keys the Airflow tasks read and write are checked per config prefix (``AIRFLOW_S3``, complete
against the config's ``*_prefix`` fields) rather than traced through the code; the EMR service role is checked
for validity and the role it passes only (its EC2 actions are what EMR itself does, from AWS's managed policy).
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import functools
import importlib
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.session
import pytest
from botocore import xform_name

from loanlake.config import LoanlakeConfig, parse_config

ROOT = Path(__file__).resolve().parents[2]
IAM_DIR = ROOT / "include" / "iam"
PLACEHOLDERS = ("${AccountId}", "${Region}", "${DataBucket}", "${LogBucket}")
POLICY_VARIABLES = ("${aws:userid}",)  # IAM's own variables, left for IAM to fill
INLINE_POLICY_LIMIT = 10_240  # characters without whitespace, all inline policies of a role together

AIRFLOW = "airflow-execution-role"
EMR_SERVICE = "emr-service-role"
EMR_NODES = "emr-instance-profile-role"
SAGEMAKER = "sagemaker-execution-role"
TRANSFORM_LAMBDA = "firehose-transform-lambda-role"
PROXY_LAMBDA = "endpoint-proxy-lambda-role"
FIREHOSE = "firehose-delivery-role"
REDSHIFT_COPY = "redshift-copy-role"
PRODUCER = "kinesis-producer"
ROLES = (AIRFLOW, EMR_SERVICE, EMR_NODES, SAGEMAKER, TRANSFORM_LAMBDA, PROXY_LAMBDA, FIREHOSE, REDSHIFT_COPY, PRODUCER)

# Which principal runs a file's code. Everything else in dags/ and plugins/ runs in Airflow tasks (and triggers)
# with the aws_default connection: the Airflow execution role.
CODE_ROLES = {
    "plugins/loanlake/streaming/producer.py": PRODUCER,  # a CLI that producers run with their own credentials
    "include/lambda/endpoint_proxy/handler.py": PROXY_LAMBDA,
    "include/lambda/firehose_transform/handler.py": TRANSFORM_LAMBDA,
}
# Parameter and dataclass-field names that hold a boto3 client, by service: for parameters no call in the package
# hands a client to (the producer's put_events, called by the CLI and tests) and the fields of a client bundle.
# Parameters that calls do hand a client to get its service from those calls; the test checks the two agree.
CLIENT_NAMES = {
    "s3": "s3",
    "s3_client": "s3",
    "emr": "emr",
    "kinesis": "kinesis",
    "firehose": "firehose",
    "lambda_client": "lambda",
    "cloudwatch": "cloudwatch",
    "sagemaker": "sagemaker",
}
# boto3's managed transfers: the operations they send (multipart above the threshold, one PutObject below).
S3_TRANSFER = {
    "upload_fileobj": (
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "PutObject",
    ),
    "upload_file": (
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "PutObject",
    ),
    "download_fileobj": ("HeadObject", "GetObject"),
    "download_file": ("HeadObject", "GetObject"),
}
IAM_PREFIX = {"emr": "elasticmapreduce", "sagemaker-runtime": "sagemaker"}
# Operations whose IAM action has another name.
IAM_ACTION_NAME = {
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "ListParts"): "ListMultipartUploadParts",
    ("s3", "ListMultipartUploads"): "ListBucketMultipartUploads",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "GetBucketEncryption"): "GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "PutEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("lambda", "Invoke"): "InvokeFunction",
}
IAM_ONLY_ACTIONS = {"iam:PassRole"}  # no API operation of that name
# The services whose operations an IAM prefix names (for the check that every action exists).
PREFIX_SERVICES = {"elasticmapreduce": ("emr",), "sagemaker": ("sagemaker", "sagemaker-runtime")}
# Actions without resource-level permissions: AWS requires "Resource": "*" for them (Service Authorization Reference).
RESOURCE_STAR_ACTIONS = {
    "sts:GetCallerIdentity",
    "cloudwatch:GetMetricData",
    "cloudwatch:PutMetricData",
    "elasticmapreduce:RunJobFlow",
    "elasticmapreduce:ListClusters",
    "sagemaker:ListModels",
    "sagemaker:ListEndpointConfigs",
    "sagemaker:ListTrainingJobs",
    "redshift-data:DescribeStatement",
    "redshift-data:CancelStatement",
    "redshift-data:GetStatementResult",
    "ecr:GetAuthorizationToken",
}
RESOURCE_STAR_SID = "ResourceStarRequired"  # the Sid of a statement with "Resource": "*" ends with this


def iam_action(service: str, operation: str) -> str:
    return f"{IAM_PREFIX.get(service, service)}:{IAM_ACTION_NAME.get((service, operation), operation)}"


@functools.cache
def _botocore() -> Any:
    return botocore.session.get_session()


@functools.cache
def operations(service: str) -> dict[str, str]:
    """boto3 method name -> operation name, from botocore's service model."""
    return {xform_name(op): op for op in _botocore().get_service_model(service).operation_names}


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


@functools.cache
def provider_root() -> Path:
    import airflow.providers.amazon.aws as aws

    return Path(aws.__file__).parent


def waiter_operation(service: str, name: str) -> str:
    """The operation a waiter polls: the provider's custom waiter of that name, else botocore's."""
    custom = provider_root() / "waiters" / f"{service}.json"
    if custom.is_file():
        waiters = json.loads(custom.read_text())["waiters"]
        if name in waiters:
            return waiters[name]["operation"]
    return _botocore().get_waiter_model(service).get_waiter(pascal(name)).operation


# ---------------------------------------------------------------------------------------------------------------
# What the Amazon provider calls (apache-airflow-providers-amazon, pinned in constraints.txt)


@dataclass(frozen=True)
class Calls:
    ops: tuple[tuple[str, str], ...] = ()  # (boto3 service, operation)
    waiters: tuple[tuple[str, str], ...] = ()  # (boto3 service, waiter name as the provider passes it)
    sources: tuple[str, ...] = ()  # provider files (relative to airflow/providers/amazon/aws) that show the calls


PROVIDER_CLASSES = {
    # execute: hook.create_job_flow -> run_job_flow; EmrLogsLink -> get_log_uri -> describe_cluster; the blocking
    # wait (wait_policy WAIT_FOR_COMPLETION) -> waiter job_flow_waiting; a failed wait -> terminate_job_flows.
    "EmrCreateJobFlowOperator": Calls(
        ops=(("emr", "RunJobFlow"), ("emr", "DescribeCluster"), ("emr", "TerminateJobFlows")),
        waiters=(("emr", "job_flow_waiting"),),
        sources=("operators/emr.py", "hooks/emr.py", "links/emr.py", "utils/waiter.py"),
    ),
    # execute: get_log_uri -> describe_cluster; terminate_job_flows; deferrable -> EmrTerminateJobFlowTrigger,
    # waiter job_flow_terminated.
    "EmrTerminateJobFlowOperator": Calls(
        ops=(("emr", "TerminateJobFlows"), ("emr", "DescribeCluster")),
        waiters=(("emr", "job_flow_terminated"),),
        sources=("operators/emr.py", "links/emr.py", "triggers/emr.py"),
    ),
    # poke/get_emr_response: describe_step, get_log_uri -> describe_cluster; deferrable -> EmrStepSensorTrigger,
    # waiter step_wait_for_terminal.
    "EmrStepSensor": Calls(
        ops=(("emr", "DescribeStep"), ("emr", "DescribeCluster")),
        waiters=(("emr", "step_wait_for_terminal"),),
        sources=("sensors/emr.py", "links/emr.py", "triggers/emr.py"),
    ),
    # execute: hook.create_training_job -> check_training_config -> check_s3_url on every input channel (S3Hook
    # check_for_bucket -> head_bucket, check_for_key -> head_object, check_for_prefix -> list_prefixes ->
    # list_objects_v2), then create_training_job; describe_training_job; print_log -> describe_training_job_with_log
    # (CloudWatch Logs describe_log_streams, get_log_events); deferrable -> SageMakerTrigger (TrainingJobComplete).
    "SageMakerTrainingOperator": Calls(
        ops=(
            ("sagemaker", "CreateTrainingJob"),
            ("sagemaker", "DescribeTrainingJob"),
            ("s3", "HeadBucket"),
            ("s3", "HeadObject"),
            ("s3", "ListObjectsV2"),
            ("logs", "DescribeLogStreams"),
            ("logs", "GetLogEvents"),
        ),
        waiters=(("sagemaker", "TrainingJobComplete"),),
        sources=(
            "operators/sagemaker.py",
            "hooks/sagemaker.py",
            "hooks/s3.py",
            "hooks/logs.py",
            "triggers/sagemaker.py",
        ),
    ),
    # execute: create_model, create_endpoint_config, create_endpoint (update_endpoint when it exists); deferrable ->
    # SageMakerTrigger (job_type endpoint: boto's endpoint_in_service); describe_endpoint_config, describe_endpoint.
    "SageMakerEndpointOperator": Calls(
        ops=(
            ("sagemaker", "CreateModel"),
            ("sagemaker", "CreateEndpointConfig"),
            ("sagemaker", "CreateEndpoint"),
            ("sagemaker", "UpdateEndpoint"),
            ("sagemaker", "DescribeEndpointConfig"),
            ("sagemaker", "DescribeEndpoint"),
        ),
        waiters=(("sagemaker", "endpoint_in_service"),),
        sources=("operators/sagemaker.py", "hooks/sagemaker.py", "triggers/sagemaker.py"),
    ),
    # run: the waiter of its job_type (Training: the provider's TrainingJobComplete; endpoint: boto's).
    "SageMakerTrigger": Calls(
        waiters=(("sagemaker", "TrainingJobComplete"), ("sagemaker", "endpoint_in_service")),
        sources=("triggers/sagemaker.py",),
    ),
    # notify / async_notify: hook.publish_to_target / apublish_to_target -> publish.
    "SnsNotifier": Calls(ops=(("sns", "Publish"),), sources=("notifications/sns.py", "hooks/sns.py")),
}
HOOK_METHODS = {
    ("SageMakerHook", "describe_training_job"): Calls(
        ops=(("sagemaker", "DescribeTrainingJob"),), sources=("hooks/sagemaker.py",)
    ),
    ("SageMakerHook", "describe_model"): Calls(ops=(("sagemaker", "DescribeModel"),), sources=("hooks/sagemaker.py",)),
    ("SageMakerHook", "describe_endpoint_config"): Calls(
        ops=(("sagemaker", "DescribeEndpointConfig"),), sources=("hooks/sagemaker.py",)
    ),
    # describe_training_job in a loop, describe_training_job_with_log -> logs describe_log_streams, get_log_events
    ("SageMakerHook", "check_training_status_with_log"): Calls(
        ops=(("sagemaker", "DescribeTrainingJob"), ("logs", "DescribeLogStreams"), ("logs", "GetLogEvents")),
        sources=("hooks/sagemaker.py", "hooks/logs.py"),
    ),
    # a list of statements -> batch_execute_statement, one -> execute_statement; waiting -> describe_statement
    ("RedshiftDataHook", "execute_query"): Calls(
        ops=(
            ("redshift-data", "ExecuteStatement"),
            ("redshift-data", "BatchExecuteStatement"),
            ("redshift-data", "DescribeStatement"),
        ),
        sources=("hooks/redshift_data.py",),
    ),
    ("SnsHook", "apublish_to_target"): Calls(ops=(("sns", "Publish"),), sources=("hooks/sns.py",)),
    ("RedshiftDataHook", "check_query_is_finished"): Calls(
        ops=(("redshift-data", "DescribeStatement"),), sources=("hooks/redshift_data.py",)
    ),
}
# Names the code imports from the provider that make no AWS call of their own.
PROVIDER_NAMES_WITHOUT_CALLS = {
    "airflow.providers.amazon.aws.assets.s3": "registers the s3:// asset scheme",
    "airflow.providers.amazon.aws.utils.waiter.WaitPolicy": "an enum",
    "airflow.providers.amazon.aws.hooks.redshift_data.RedshiftDataQueryAbortedError": "an exception",
    "airflow.providers.amazon.aws.hooks.redshift_data.RedshiftDataQueryFailedError": "an exception",
}


# ---------------------------------------------------------------------------------------------------------------
# Finding the code's AWS operations with ast


@dataclass(frozen=True)
class Client:
    service: str | ParamRef


@dataclass(frozen=True)
class ParamRef:
    name: str


@dataclass(frozen=True)
class HookValue:
    cls: type
    service: str | ParamRef | None


@dataclass(frozen=True)
class Tup:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class WaiterOps:
    operations: tuple[str, ...]


@dataclass(frozen=True)
class Bundle:
    """A parameter annotated with a package class: its fields follow CLIENT_NAMES."""

    qualname: str


@dataclass(frozen=True)
class Op:
    role: str
    service: str
    operation: str
    where: str  # path:line


@dataclass(frozen=True)
class ProviderUse:
    role: str
    name: str  # a PROVIDER_CLASSES or HOOK_METHODS key
    where: str


@dataclass
class Module:
    name: str
    rel: str
    tree: ast.Module
    imports: dict[str, str]
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]
    classes: dict[str, ast.ClassDef]


@dataclass
class Scope:
    module: Module
    imports: dict[str, str]
    env: dict[str, Any]
    cls: ast.ClassDef | None = None
    function: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    parent: ast.AST | None = None  # the enclosing function (or module) of ``function``
    returns_mode: bool = False


@dataclass
class Findings:
    ops: list[Op] = field(default_factory=list)
    uses: list[ProviderUse] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the analysis could not resolve: each fails a test
    # (where, callee, parameter, service, id of the callee's def): which parameter each client is handed to
    handoffs: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    provider_imports: set[str] = field(default_factory=set)


def _module_name(rel: str) -> str:
    path = Path(rel).with_suffix("")
    parts = path.parts[1:] if path.parts[0] == "plugins" else path.parts
    return ".".join(parts)


def _imports(nodes: Iterable[ast.stmt], module: str) -> dict[str, str]:
    names = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
    return names


class CodeIndex:
    """Every scanned module, and the analysis that finds the AWS operations its code calls."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.modules: dict[str, Module] = {}
        for path in paths:
            rel = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(), filename=rel)
            name = _module_name(rel)
            self.modules[name] = Module(
                name,
                rel,
                tree,
                _imports(tree.body, name),
                {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)},
                {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)},
            )
        self.findings = Findings()
        self._returns: dict[tuple[str, str], Any] = {}
        self._self_attrs: dict[tuple[str, str], dict[str, Any]] = {}
        self.param_services: dict[tuple[int, str], str] = {}  # (id of a def, parameter) -> service, from call sites

    # -- names ---------------------------------------------------------------------------------------------------

    def qualify(self, node: ast.AST, scope: Scope) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in scope.imports:
                return scope.imports[node.id]
            if node.id in scope.module.functions or node.id in scope.module.classes:
                return f"{scope.module.name}.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            base = self.qualify(node.value, scope)
            return f"{base}.{node.attr}" if base else None
        return None

    def lookup(self, qualname: str | None, depth: int = 0) -> tuple[str, Any, Any] | None:
        """("function"|"class", Module, node) for package code, ("external", object, None) for imported objects."""
        if not qualname or depth > 5:
            return None
        module_name, _, member = qualname.rpartition(".")
        if module_name in self.modules:
            module = self.modules[module_name]
            if member in module.functions:
                return ("function", module, module.functions[member])
            if member in module.classes:
                return ("class", module, module.classes[member])
            if member in module.imports:
                return self.lookup(module.imports[member], depth + 1)
            return None
        if qualname.startswith(("airflow.", "botocore.", "boto3")):
            obj = _import_object(qualname)
            return ("external", obj, None) if obj is not None else None
        return None

    def provider_base(self, cls_node: ast.ClassDef, module: Module) -> type | None:
        """The provider class a package class derives from (the nearest base imported from airflow.providers)."""
        scope = Scope(module, module.imports, {})
        for base in cls_node.bases:
            found = self.lookup(self.qualify(base, scope))
            if found and found[0] == "external" and isinstance(found[1], type):
                return found[1]
            if found and found[0] == "class":
                inner = self.provider_base(found[2], found[1])
                if inner is not None:
                    return inner
        return None

    # -- values --------------------------------------------------------------------------------------------------

    def literal(self, node: ast.AST | None, scope: Scope) -> str | ParamRef | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and isinstance(scope.env.get(node.id), ParamRef):
            return scope.env[node.id]
        return None

    def value(self, node: ast.AST | None, scope: Scope) -> Any:
        if node is None:
            return None
        if isinstance(node, ast.Name):
            return scope.env.get(node.id)
        if isinstance(node, ast.Tuple):
            return Tup(tuple(self.value(item, scope) for item in node.elts))
        if isinstance(node, ast.Attribute):
            return self._attribute(node, scope)
        if isinstance(node, ast.Call):
            return self._call_value(node, scope)
        return None

    def _attribute(self, node: ast.Attribute, scope: Scope) -> Any:
        if isinstance(node.value, ast.Name) and node.value.id == "self" and scope.cls is not None:
            if node.attr == "hook":
                base = self.provider_base(scope.cls, scope.module)
                hook = getattr(base, "aws_hook_class", None)
                return HookValue(hook, _hook_service(hook)) if hook else None
            return self.self_attributes(scope.module, scope.cls).get(node.attr)
        base = self.value(node.value, scope)
        if isinstance(base, HookValue) and node.attr == "conn":
            return Client(base.service)
        if isinstance(base, Bundle):
            service = CLIENT_NAMES.get(node.attr)
            return Client(service) if service else None
        return None

    def _call_value(self, node: ast.Call, scope: Scope) -> Any:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "get_conn":
            base = self.value(func.value, scope)
            if isinstance(base, HookValue):
                return Client(base.service)
        qualname = self.qualify(func, scope)
        if qualname == "boto3.client":
            return Client(self.literal(node.args[0] if node.args else None, scope))
        if qualname == "botocore.waiter.WaiterModel":
            found = [
                item.value
                for arg in node.args
                for dict_node in ast.walk(arg)
                if isinstance(dict_node, ast.Dict)
                for key, item in zip(dict_node.keys, dict_node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value == "operation" and isinstance(item, ast.Constant)
            ]
            return WaiterOps(tuple(found))
        found = self.lookup(qualname)
        if not found:
            return None
        kind, obj, fn = found
        if kind == "function":
            returned = self.returns(obj, fn)
            return self._bind(returned, _bound_arguments(fn, node), scope)
        if kind == "external" and isinstance(obj, type) and _is_aws_hook(obj):
            client_type = next((kw.value for kw in node.keywords if kw.arg == "client_type"), None)
            service = self.literal(client_type, scope) if client_type is not None else _hook_service(obj)
            return HookValue(obj, service)
        return None

    def _bind(self, value: Any, arguments: dict[str, ast.AST], scope: Scope) -> Any:
        """A function's returned value with its parameters replaced by the call's arguments."""
        if isinstance(value, Client) and isinstance(value.service, ParamRef):
            return Client(self.literal(arguments.get(value.service.name), scope))
        if isinstance(value, Tup):
            return Tup(tuple(self._bind(item, arguments, scope) for item in value.items))
        return value

    def returns(self, module: Module, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Any:
        key = (module.name, fn.name)
        if key not in self._returns:
            self._returns[key] = None  # recursion guard
            env = {arg.arg: ParamRef(arg.arg) for arg in _arguments(fn)}
            scope = Scope(module, dict(module.imports), env, function=fn, parent=module.tree, returns_mode=True)
            values = [v for v in self._walk_body(fn.body, scope) if v is not None]
            self._returns[key] = values[0] if values else None
        return self._returns[key]

    def self_attributes(self, module: Module, cls: ast.ClassDef) -> dict[str, Any]:
        key = (module.name, cls.name)
        if key not in self._self_attrs:
            self._self_attrs[key] = {}
            init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
            if init is not None:
                scope = Scope(module, dict(module.imports), self._parameters(init, module), cls=cls, function=init)
                for node in ast.walk(init):
                    if isinstance(node, ast.Assign):
                        for target in node.targets:
                            if (
                                isinstance(target, ast.Attribute)
                                and isinstance(target.value, ast.Name)
                                and target.value.id == "self"
                            ):
                                self._self_attrs[key][target.attr] = self.value(node.value, scope)
        return self._self_attrs[key]

    def _parameters(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, module: Module) -> dict[str, Any]:
        """Parameters as the record pass sees them: clients by CLIENT_NAMES, bundles by their annotation."""
        env: dict[str, Any] = {}
        scope = Scope(module, module.imports, {})
        for arg in _arguments(fn):
            if (id(fn), arg.arg) in self.param_services:
                env[arg.arg] = Client(self.param_services[id(fn), arg.arg])
            elif arg.arg in CLIENT_NAMES:
                env[arg.arg] = Client(CLIENT_NAMES[arg.arg])
            elif arg.annotation is not None:
                annotation = arg.annotation
                if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                    annotation = ast.parse(annotation.value, mode="eval").body
                found = self.lookup(self.qualify(annotation, scope))
                if found and found[0] == "class" and _is_bundle(found[2]):
                    env[arg.arg] = Bundle(f"{found[1].name}.{found[2].name}")
        return env

    # -- walking -------------------------------------------------------------------------------------------------

    def analyse(self) -> Findings:
        """Walk every module; again while calls reveal clients handed to parameters that were not known as such."""
        for _ in range(5):
            self.findings, self._self_attrs = Findings(), {}
            for module in self.modules.values():
                scope = Scope(module, dict(module.imports), {}, parent=module.tree)
                self._walk_body(module.tree.body, scope)
            learned = dict(self.param_services)
            for _, _, parameter, service, node_id in self.findings.handoffs:
                learned.setdefault((node_id, parameter), service)
            if learned == self.param_services:
                return self.findings
            self.param_services = learned
        raise AssertionError("the analysis of clients handed to parameters does not settle")

    def _walk_body(self, body: list[ast.stmt], scope: Scope) -> list[Any]:
        """Walk statements in order: bind assignments, record calls; in returns mode, the returned values."""
        returned = []
        for stmt in body:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                scope.imports.update(_imports([stmt], scope.module.name))
                self._note_provider_imports(stmt, scope)
                continue
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                if not scope.returns_mode:
                    parameters = self._parameters(stmt, scope.module)
                    env = {**scope.env, **parameters}
                    for arg in _arguments(stmt):
                        if arg.arg not in parameters:
                            env.pop(arg.arg, None)  # a parameter shadows the enclosing name
                    inner = Scope(
                        scope.module, dict(scope.imports), env, scope.cls, stmt, scope.function or scope.parent
                    )
                    self._walk_body(stmt.body, inner)
                continue
            if isinstance(stmt, ast.ClassDef):
                if not scope.returns_mode:
                    for item in stmt.body:
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                            env = self._parameters(item, scope.module)
                            inner = Scope(scope.module, dict(scope.imports), env, stmt, item, stmt)
                            self._walk_body(item.body, inner)
                continue
            if not scope.returns_mode:
                for expression in _expressions(stmt):
                    self._record(expression, scope)
            if isinstance(stmt, ast.Assign):
                value = self.value(stmt.value, scope)
                for target in stmt.targets:
                    _bind_target(target, value, scope)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                _bind_target(stmt.target, self.value(stmt.value, scope), scope)
            elif isinstance(stmt, ast.Return):
                returned.append(self.value(stmt.value, scope))
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        _bind_target(item.optional_vars, self.value(item.context_expr, scope), scope)
            for child in _child_bodies(stmt):
                returned += self._walk_body(child, scope)
        return returned

    def _note_provider_imports(self, stmt: ast.Import | ast.ImportFrom, scope: Scope) -> None:
        if isinstance(stmt, ast.Import):
            names = [alias.name for alias in stmt.names]
        else:
            names = [f"{stmt.module}.{alias.name}" for alias in stmt.names]
        self.findings.provider_imports |= {name for name in names if name.startswith("airflow.providers.amazon")}

    def _where(self, node: ast.AST, scope: Scope) -> str:
        return f"{scope.module.rel}:{getattr(node, 'lineno', 0)}"

    def _role(self, scope: Scope) -> str:
        return CODE_ROLES.get(scope.module.rel, AIRFLOW)

    def _record(self, expression: ast.AST, scope: Scope) -> None:
        for node in ast.walk(expression):  # lambdas included
            if isinstance(node, ast.Call):
                self._record_call(node, scope)
            elif isinstance(node, ast.Attribute):
                self._record_reference(node, scope)

    def _record_reference(self, node: ast.Attribute, scope: Scope) -> None:
        """A client or hook method named without a call (passed as a callable) is used all the same."""
        receiver = self.value(node.value, scope)
        if isinstance(receiver, Client) and isinstance(receiver.service, str):
            if node.attr in operations(receiver.service):
                self._op(receiver.service, operations(receiver.service)[node.attr], node, scope)
        elif (
            isinstance(receiver, HookValue)
            and node.attr not in ("conn", "get_conn")
            and callable(getattr(receiver.cls, node.attr, None))
        ):
            self._hook_method(receiver.cls, node.attr, node, scope)

    def _record_call(self, node: ast.Call, scope: Scope) -> None:
        func = node.func
        self._record_handoffs(node, scope)
        if isinstance(func, ast.Attribute):
            receiver = self.value(func.value, scope)
            if isinstance(receiver, Client):
                self._client_call(receiver, func.attr, node, scope)
                return
            if isinstance(receiver, HookValue):
                return  # methods are recorded as references
        qualname = self.qualify(
            func.value if isinstance(func, ast.Attribute) and func.attr == "partial" else func, scope
        )
        if qualname == "botocore.waiter.create_waiter_with_client" and len(node.args) >= 3:
            model, client = self.value(node.args[1], scope), self.value(node.args[2], scope)
            if isinstance(model, WaiterOps) and isinstance(client, Client) and isinstance(client.service, str):
                for operation in model.operations:
                    self._op(client.service, operation, node, scope)
            else:
                self.findings.problems.append(f"{self._where(node, scope)}: a custom waiter of unknown client or model")
            return
        found = self.lookup(qualname)
        provider = None
        if found and found[0] == "external" and isinstance(found[1], type):
            provider = found[1]
        elif found and found[0] == "class":
            provider = self.provider_base(found[2], found[1])
        if (
            provider is not None
            and provider.__module__.startswith("airflow.providers.amazon")
            and not _is_aws_hook(provider)
        ):
            name = next((c.__name__ for c in provider.__mro__ if c.__name__ in PROVIDER_CLASSES), None)
            if name is None:
                self.findings.problems.append(
                    f"{self._where(node, scope)}: provider class {provider.__name__} has no PROVIDER_CLASSES entry"
                )
            else:
                self.findings.uses.append(ProviderUse(self._role(scope), name, self._where(node, scope)))

    def _record_handoffs(self, node: ast.Call, scope: Scope) -> None:
        """Clients handed to package functions and classes: the parameter (or field) that receives each."""
        found = self.lookup(self.qualify(node.func, scope))
        if not found or found[0] not in ("function", "class"):
            return
        target: ast.AST = found[2]
        if found[0] == "function":
            names = [arg.arg for arg in _arguments(found[2])]
        else:
            init = next((n for n in found[2].body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
            names = [arg.arg for arg in _arguments(init)][1:] if init else _fields(found[2])
            target = init or found[2]
        bound = dict(zip(names, node.args, strict=False)) | {kw.arg: kw.value for kw in node.keywords if kw.arg}
        for name, argument in bound.items():
            value = self.value(argument, scope)
            if isinstance(value, Client) and isinstance(value.service, str):
                where = self._where(node, scope)
                self.findings.handoffs.append((where, found[2].name, name, value.service, id(target)))

    def _client_call(self, client: Client, method: str, node: ast.Call, scope: Scope) -> None:
        service = client.service
        if not isinstance(service, str):
            if not scope.returns_mode:
                self.findings.problems.append(f"{self._where(node, scope)}: a client of unknown service calls {method}")
            return
        if method in ("get_paginator", "can_paginate"):
            for name in self._literal_arguments(node, scope):
                if name in operations(service):
                    self._op(service, operations(service)[name], node, scope)
                else:
                    self.findings.problems.append(f"{self._where(node, scope)}: {service} has no operation {name}")
        elif method == "get_waiter":
            for name in self._literal_arguments(node, scope):
                self._op(service, waiter_operation(service, name), node, scope)
        elif service == "s3" and method in S3_TRANSFER:
            for operation in S3_TRANSFER[method]:
                self._op(service, operation, node, scope)
        elif method in operations(service):
            pass  # recorded as a reference
        else:
            self.findings.problems.append(f"{self._where(node, scope)}: {service} client has no method {method}")

    def _literal_arguments(self, node: ast.Call, scope: Scope) -> list[str]:
        """The first argument as literals: itself, or, when it is a parameter, every literal passed for it."""
        argument = node.args[0] if node.args else None
        value = self.literal(argument, scope)
        if isinstance(value, str):
            return [value]
        if isinstance(argument, ast.Name) and scope.function is not None:
            names = [arg.arg for arg in _arguments(scope.function)]
            if argument.id in names:
                index = names.index(argument.id)
                found = [
                    call.args[index].value
                    for call in ast.walk(scope.parent or scope.module.tree)
                    if isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id == scope.function.name
                    and len(call.args) > index
                    and isinstance(call.args[index], ast.Constant)
                ]
                if found:
                    return found
        self.findings.problems.append(f"{self._where(node, scope)}: cannot tell which paginator or waiter")
        return []

    def _op(self, service: str, operation: str, node: ast.AST, scope: Scope) -> None:
        if not scope.returns_mode:
            self.findings.ops.append(Op(self._role(scope), service, operation, self._where(node, scope)))

    def _hook_method(self, cls: type, method: str, node: ast.AST, scope: Scope) -> None:
        if scope.returns_mode:
            return
        key = next(((c.__name__, method) for c in cls.__mro__ if (c.__name__, method) in HOOK_METHODS), None)
        if key is None:
            self.findings.problems.append(f"{self._where(node, scope)}: hook method {cls.__name__}.{method} unmapped")
        else:
            self.findings.uses.append(ProviderUse(self._role(scope), f"{key[0]}.{key[1]}", self._where(node, scope)))


def _import_object(qualname: str) -> Any:
    parts = qualname.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None


def _is_aws_hook(cls: type) -> bool:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook

    return isinstance(cls, type) and issubclass(cls, AwsGenericHook)


@functools.cache
def _hook_service(cls: type | None) -> str | None:
    """The boto3 service of a provider hook: its ``client_type``, read from an instance (no connection is made)."""
    if cls is None:
        return None
    try:
        return cls(aws_conn_id=None).client_type
    except TypeError:
        return None


def _is_bundle(cls: ast.ClassDef) -> bool:
    """A dataclass whose fields include client names (``remediation.Clients``)."""
    return any(name in CLIENT_NAMES for name in _fields(cls))


def _fields(cls: ast.ClassDef) -> list[str]:
    return [n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]


def _arguments(fn: ast.FunctionDef | ast.AsyncFunctionDef | None) -> list[ast.arg]:
    if fn is None:
        return []
    args = fn.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs]


def _bound_arguments(fn: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call) -> dict[str, ast.AST]:
    names = [arg.arg for arg in [*fn.args.posonlyargs, *fn.args.args]]
    bound = dict(zip(names, call.args, strict=False))
    return bound | {kw.arg: kw.value for kw in call.keywords if kw.arg}


def _bind_target(target: ast.AST, value: Any, scope: Scope) -> None:
    if isinstance(target, ast.Name):
        scope.env[target.id] = value
    elif isinstance(target, ast.Tuple | ast.List):
        if isinstance(value, Tup) and len(value.items) == len(target.elts):
            for item, item_value in zip(target.elts, value.items, strict=True):
                _bind_target(item, item_value, scope)
        else:
            for item in target.elts:
                _bind_target(item, None, scope)


def _child_bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    bodies = []
    for name in ("body", "orelse", "finalbody"):
        if isinstance(getattr(stmt, name, None), list) and not isinstance(
            stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            bodies.append(getattr(stmt, name))
    for handler in getattr(stmt, "handlers", []):
        bodies.append(handler.body)
    return bodies


def _expressions(stmt: ast.stmt) -> list[ast.AST]:
    """The statement's own expressions (not those of the statements nested in it)."""
    nested = {id(s) for body in _child_bodies(stmt) for s in body}
    return [
        child
        for child in ast.iter_child_nodes(stmt)
        if id(child) not in nested and not isinstance(child, ast.stmt | ast.excepthandler)
    ] + [handler.type for handler in getattr(stmt, "handlers", []) if handler.type is not None]


def scanned_files() -> list[Path]:
    return sorted(
        [
            *ROOT.glob("dags/*.py"),
            *ROOT.glob("plugins/loanlake/**/*.py"),
            *ROOT.glob("include/lambda/*/*.py"),
        ]
    )


@functools.cache
def code_findings() -> Findings:
    return CodeIndex(scanned_files()).analyse()


def provider_calls(name: str) -> Calls:
    if name in PROVIDER_CLASSES:
        return PROVIDER_CLASSES[name]
    cls, method = name.split(".")
    return HOOK_METHODS[cls, method]


@functools.cache
def code_operations() -> dict[str, set[tuple[str, str]]]:
    """Per role, every (service, operation) the code calls, directly or through the provider."""
    found: dict[str, set[tuple[str, str]]] = {role: set() for role in ROLES}
    findings = code_findings()
    for op in findings.ops:
        found[op.role].add((op.service, op.operation))
    for use in findings.uses:
        calls = provider_calls(use.name)
        found[use.role] |= set(calls.ops)
        found[use.role] |= {(service, waiter_operation(service, waiter)) for service, waiter in calls.waiters}
    return found


# ---------------------------------------------------------------------------------------------------------------
# Policies and a small IAM evaluator


@functools.cache
def config() -> LoanlakeConfig:
    return parse_config({})


@functools.cache
def account() -> str:
    return config().ml.role_arn.split(":")[4]  # the account of the config's example role ARNs


def render(text: str) -> str:
    log_bucket = config().emr.log_uri.removeprefix("s3://").split("/", 1)[0]
    values = dict(zip(PLACEHOLDERS, (account(), config().region, config().data_bucket, log_bucket), strict=True))
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def policy_files() -> list[Path]:
    return sorted(IAM_DIR.glob("*.json"))


@functools.cache
def policy(role: str) -> dict[str, Any]:
    return json.loads(render((IAM_DIR / f"{role}.json").read_text()))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _substitute(value: str, context: dict[str, Any]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: str(context.get(m.group(1).lower(), m.group(0))), value)


def _condition_holds(condition: dict[str, dict[str, Any]], context: dict[str, Any]) -> bool:
    for operator, tests in condition.items():
        base, if_exists = operator.removesuffix("IfExists"), operator.endswith("IfExists")
        for key, expected in tests.items():
            actual = context.get(key.lower())
            expected_values = [_substitute(str(v), context) for v in _as_list(expected)]
            if base == "Null":
                if (actual is None) != (expected_values[0].lower() == "true"):
                    return False
                continue
            if actual is None:
                if if_exists:
                    continue
                return False
            actual_values = [str(v) for v in _as_list(actual)]
            if base in ("StringEquals", "ArnEquals"):
                ok = any(a == e for a in actual_values for e in expected_values)
            elif base in ("StringLike", "ArnLike"):
                ok = any(_matches(e, a) for a in actual_values for e in expected_values)
            else:
                raise AssertionError(f"the evaluator does not know the condition operator {operator}")
            if not ok:
                return False
    return True


def statement_matches(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    return (
        any(_matches(pattern, action, case=False) for pattern in _as_list(statement["Action"]))
        and any(_matches(pattern, resource) for pattern in _as_list(statement["Resource"]))
        and _condition_holds(statement.get("Condition", {}), context)
    )


def allowed(document: dict[str, Any], action: str, resource: str, context: dict[str, Any] | None = None) -> bool:
    context = {key.lower(): value for key, value in (context or {}).items()}
    context.setdefault("aws:userid", "AROAEXAMPLEAIRFLOW:worker")
    statements = document["Statement"]
    if any(s["Effect"] == "Deny" and statement_matches(s, action, resource, context) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and statement_matches(s, action, resource, context) for s in statements)


# ---------------------------------------------------------------------------------------------------------------
# What each role needs


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    why: str
    context: tuple[tuple[str, str], ...] = ()

    def allowed_by(self, document: dict[str, Any]) -> bool:
        return allowed(document, self.action, self.resource, dict(self.context))


def _ctx(values: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def arn(service: str, resource: str, region: str | None = None) -> str:
    return f"arn:aws:{service}:{config().region if region is None else region}:{account()}:{resource}"


def s3_object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def s3_read(uri: str, why: str, *, listed: bool = True) -> list[Need]:
    """Read a folder: list it (with its prefix) and get an object in it."""
    bucket, key = s3_parts(uri.rstrip("/") + "/")
    needs = [Need("s3:GetObject", s3_object(bucket, key + "part-00000"), why)]
    if listed:
        needs.append(Need("s3:ListBucket", f"arn:aws:s3:::{bucket}", why, _ctx({"s3:prefix": key})))
    return needs


def s3_write(uri: str, why: str, *, delete: bool = False, multipart: bool = False) -> list[Need]:
    bucket, key = s3_parts(uri.rstrip("/") + "/")
    needs = [Need("s3:PutObject", s3_object(bucket, key + "part-00000"), why)]
    if delete:
        needs.append(Need("s3:DeleteObject", s3_object(bucket, key + "part-00000"), why))
    if multipart:
        needs += [
            Need("s3:AbortMultipartUpload", s3_object(bucket, key + "part-00000"), why),
            Need("s3:ListMultipartUploadParts", s3_object(bucket, key + "part-00000"), why),
        ]
    return needs


RUN_ID = "manual__2026-01-01T00:00:00+00:00"
PERIOD = "2017Q1"
CLUSTER_ID = "j-2AXXXXXXGAPLF"


@functools.cache
def job() -> str:
    from loanlake.ml import training

    return training.job_name(RUN_ID, datetime(2026, 1, 1, tzinfo=UTC))


@functools.cache
def cluster_request() -> dict[str, Any]:
    from loanlake.emr import cluster

    return cluster.job_flow_request(config(), "loan_data_processing", RUN_ID)


def cluster_tags() -> dict[str, str]:
    return {f"aws:ResourceTag/{t['Key']}": t["Value"] for t in cluster_request()["Tags"]}


@functools.cache
def training_request(use_spot: bool = False) -> dict[str, Any]:
    from loanlake.emr import cluster
    from loanlake.ml import runtime, training

    settings = parse_config({"ml": {"use_spot": use_spot}})
    tags = {"dag_id": "loan_model_training", "run_id": RUN_ID, "owner": settings.owner, cluster.MANAGED_TAG: "true"}
    return training.training_job_request(
        settings, job(), training.training_root(settings, job()), runtime._image(settings), tags
    )


@functools.cache
def deployment_request() -> dict[str, Any]:
    from loanlake.ml import runtime, training

    model_data = f"{training_request()['OutputDataConfig']['S3OutputPath']}{job()}/output/model.tar.gz"
    return training.deployment_request(config(), job(), model_data, runtime._image(config()))


@functools.cache
def stream_arns() -> tuple[str, str]:
    """The stream's and the processor's ARNs, as stream_health derives them from the caller's identity."""
    from loanlake.streaming import runtime

    identity = {"Arn": f"arn:aws:sts::{account()}:assumed-role/airflow/worker", "Account": account()}
    fake = mock.Mock()
    fake.get_caller_identity.return_value = identity
    with mock.patch.object(runtime, "aws_client", return_value=fake):
        return runtime._arns(config())


def _function_arn(name: str) -> str:
    return arn("lambda", f"function:{name}")


def airflow_resource(op: tuple[str, str]) -> list[tuple[str, dict[str, str]]]:
    """The resources (and request context) an Airflow-role operation acts on, from the config and the code's names."""
    service, operation = op
    c = config()
    training_job = arn("sagemaker", f"training-job/{job()}")
    if service == "emr":
        if operation == "RunJobFlow":
            return [("*", {f"aws:RequestTag/{t['Key']}": t["Value"] for t in cluster_request()["Tags"]})]
        if operation == "ListClusters":
            return [("*", {})]
        return [(arn("elasticmapreduce", f"cluster/{CLUSTER_ID}"), cluster_tags())]
    if service == "sagemaker":
        if operation.startswith("List"):
            return [("*", {})]
        if "TrainingJob" in operation:
            tags = {f"aws:RequestTag/{t['Key']}": t["Value"] for t in training_request()["Tags"]}
            return [(training_job, tags if operation == "CreateTrainingJob" else {})]
        if "EndpointConfig" in operation:
            return [(arn("sagemaker", f"endpoint-config/{job()}"), {})]
        if "Endpoint" in operation:
            return [(arn("sagemaker", f"endpoint/{c.ml.endpoint_name}"), {})]
        if "Model" in operation:
            return [(arn("sagemaker", f"model/{job()}"), {})]
    if service == "kinesis":
        return [(stream_arns()[0], {})]
    if service == "firehose":
        return [(arn("firehose", f"deliverystream/{c.streaming.delivery.name}"), {})]
    if service == "lambda":
        return [(_function_arn(c.streaming.processor.function_name), {}), (_function_arn(c.ml.proxy_function_name), {})]
    if service == "redshift-data":
        if operation in ("ExecuteStatement", "BatchExecuteStatement"):
            return [(arn("redshift", f"cluster:{c.warehouse.redshift.cluster_identifier}"), {})]
        return [("*", {"redshift-data:statement-owner-iam-userid": "AROAEXAMPLEAIRFLOW:worker"})]
    if service == "logs":
        group = "log-group:/aws/sagemaker/TrainingJobs"
        if operation == "DescribeLogStreams":
            return [(arn("logs", group), {})]
        return [(arn("logs", f"{group}:log-stream:{job()}/algo-1-1767225600"), {})]
    if service == "sns":
        return [(c.alerts.topic_arn, {})]
    if service in ("sts", "cloudwatch"):
        return [("*", {})]
    raise AssertionError(f"no resource for {service}:{operation}: add it to airflow_resource")


# The S3 prefixes the Airflow tasks touch, by config key, with the actions on their objects. ListBucket is granted on
# the whole data bucket: the provider's SageMaker input check calls HeadBucket (s3:ListBucket without a prefix), and
# reads of missing keys (manifest entries, the registry before the first model) must answer 404, not 403.
AIRFLOW_S3 = {
    "raw_prefix": ("s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"),  # transfer.land_zip; landed_entry HEAD
    "source.landing_prefix": ("s3:GetObject",),  # landing.LandingSource
    "manifest_prefix": ("s3:GetObject", "s3:PutObject"),  # freddie_mac.manifest
    "emr.code_prefix": ("s3:PutObject",),  # emr.scripts.publish
    "quality_prefix": ("s3:GetObject",),  # processing.quality.read_metrics
    "warehouse.password_prefix": ("s3:PutObject", "s3:DeleteObject"),  # warehouse.runtime.stage/delete_password
    "streaming.report_prefix": ("s3:PutObject",),  # streaming.runtime.report
    "ml.drift.report_prefix": ("s3:PutObject",),  # ml.monitoring.measure_drift
    "ml.training_prefix": ("s3:GetObject",),  # ml.runtime.check_training_set, baseline; SageMaker input check
    "ml.registry_prefix": ("s3:GetObject", "s3:PutObject"),  # ml.registry
    "ml.capture_prefix": ("s3:GetObject",),  # ml.monitoring (data capture files)
    "sweeper.report_prefix": ("s3:PutObject",),  # sweeper.runtime.report
}
S3_OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}
# Prefixes of the config that the Airflow tasks do not read or write objects under (listing aside).
NOT_AIRFLOW_S3 = {
    "processed_prefix": "Hive writes it (EMR nodes); Redshift COPY and the training-set steps read it",
    "quarantine_prefix": "Hive writes it",
    "warehouse.export_prefix": "Hive writes it, Sqoop reads it (EMR nodes)",
    "ml.model_prefix": "SageMaker writes model.tar.gz; Airflow only passes the URI on",
    "ml.checkpoint_prefix": "SageMaker's spot checkpoints",
    "streaming.delivery.prefix": "Firehose writes it; stream_health only lists it",
    "streaming.delivery.error_prefix": "Firehose writes it; stream_health only lists it",
}


def config_value(path: str) -> str:
    value: Any = config()
    for part in path.split("."):
        value = getattr(value, part)
    return value


def config_prefix_fields(model: Any = LoanlakeConfig, base: str = "") -> list[str]:
    """Every config key that names an S3 prefix (``*_prefix`` or ``prefix``), sections included."""
    from pydantic import BaseModel

    found = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += config_prefix_fields(annotation, f"{base}{name}.")
        elif name == "prefix" or name.endswith("_prefix"):
            found.append(f"{base}{name}")
    return found


def static_prefix(prefix: str) -> str:
    """The part of a Firehose prefix before its first expression."""
    return prefix.split("!{", 1)[0]


# Needs of the Airflow role that no call in the code shows, each with its reason. Required all the same: a policy
# without them fails.
def airflow_implied_needs() -> list[Need]:
    c = config()
    secret = functools.partial(arn, "secretsmanager")
    return [
        Need("elasticmapreduce:ListClusters", "*", "the orphan sweeper (issue 7, part 3) lists tagged clusters"),
        Need(
            "secretsmanager:GetSecretValue",
            secret("secret:airflow/connections/loanlake_mysql-AbCdEf"),
            "Airflow's SecretsManagerBackend: connections",
        ),
        Need(
            "secretsmanager:GetSecretValue",
            secret("secret:airflow/variables/loanlake_config-AbCdEf"),
            "Airflow's SecretsManagerBackend: the loanlake_config Variable",
        ),
        Need(
            "secretsmanager:GetSecretValue",
            secret("secret:loanlake/redshift-AbCdEf"),
            "warehouse.redshift.secret_arn: the Data API reads it as the caller",
        ),
        *[
            Need("redshift:GetClusterCredentials", arn("redshift", f"{kind}:{target}"), "Data API with db_user")
            for kind, target in (
                ("dbuser", f"{c.warehouse.redshift.cluster_identifier}/{c.warehouse.redshift.db_user}"),
                ("dbname", f"{c.warehouse.redshift.cluster_identifier}/{c.warehouse.redshift.database}"),
            )
        ],
    ]


def passed_roles() -> list[tuple[str, str, str]]:
    """(role ARN, service it is passed to, where the code names it), from the requests the code builds."""
    c = config()
    request = cluster_request()
    return [
        (f"arn:aws:iam::{account()}:role/{request['ServiceRole']}", "elasticmapreduce.amazonaws.com", "RunJobFlow"),
        # the instance profile EMR_EC2_DefaultRole holds the role of the same name
        (f"arn:aws:iam::{account()}:role/{request['JobFlowRole']}", "ec2.amazonaws.com", "RunJobFlow JobFlowRole"),
        (training_request()["RoleArn"], "sagemaker.amazonaws.com", "CreateTrainingJob"),
        (deployment_request()["Model"]["ExecutionRoleArn"], "sagemaker.amazonaws.com", "CreateModel"),
        (c.streaming.processor.role_arn, "lambda.amazonaws.com", "remediation create_processor"),
        (c.ml.proxy_role_arn, "lambda.amazonaws.com", "ml.runtime.deploy_endpoint_proxy"),
        (c.streaming.delivery.role_arn, "firehose.amazonaws.com", "remediation create_delivery"),
    ]


def airflow_needs() -> list[Need]:
    c = config()
    needs = []
    bucket = c.data_bucket
    for service, operation in sorted(code_operations()[AIRFLOW]):
        if service == "s3":
            if iam_action(service, operation) not in S3_OBJECT_ACTIONS:  # a call on the bucket itself
                needs.append(Need(iam_action(service, operation), f"arn:aws:s3:::{bucket}", f"s3 {operation}"))
            continue  # objects: by prefix, below
        for resource, context in airflow_resource((service, operation)):
            needs.append(Need(iam_action(service, operation), resource, f"{service} {operation}", _ctx(context)))
        if (service, operation) == ("sagemaker", "CreateTrainingJob"):  # tags on create need AddTags as well
            tags = {f"aws:RequestTag/{t['Key']}": t["Value"] for t in training_request()["Tags"]}
            needs.append(Need("sagemaker:AddTags", arn("sagemaker", f"training-job/{job()}"), "tags", _ctx(tags)))
    needs.append(Need("s3:ListBucket", f"arn:aws:s3:::{bucket}", "HeadBucket and 404s on missing keys"))
    for path, actions in AIRFLOW_S3.items():
        for action in actions:
            needs.append(Need(action, s3_object(bucket, f"{config_value(path)}/{PERIOD}/probe"), path))
    for role_arn, service, where in passed_roles():
        needs.append(Need("iam:PassRole", role_arn, where, _ctx({"iam:PassedToService": service})))
    return needs + airflow_implied_needs()


# What Hive's AWS Glue Data Catalog client calls for each kind of statement (EMR's Glue metastore client).
GLUE_ON_START = ("glue:GetDatabase", "glue:GetDatabases", "glue:GetUserDefinedFunctions")
GLUE_BY_STATEMENT = {
    "CREATE DATABASE": ("glue:GetDatabase", "glue:CreateDatabase"),
    "CREATE TABLE": ("glue:GetTable", "glue:CreateTable"),
    "CREATE VIEW": ("glue:GetTable", "glue:CreateTable"),
    "DROP": ("glue:GetTable", "glue:DeleteTable", "glue:GetPartitions", "glue:BatchDeletePartition"),
    "INSERT OVERWRITE": (
        "glue:GetTable",
        "glue:UpdateTable",
        "glue:GetPartition",
        "glue:GetPartitions",
        "glue:CreatePartition",
        "glue:BatchCreatePartition",
        "glue:UpdatePartition",
    ),
    "MSCK REPAIR": ("glue:GetTable", "glue:GetPartitions", "glue:BatchCreatePartition"),
    "SELECT": ("glue:GetTable", "glue:GetPartitions", "glue:BatchGetPartition"),
}


def cluster_steps() -> list[dict[str, Any]]:
    """Every step the DAGs add to a cluster, built by the code from the default config."""
    from loanlake.emr import steps
    from loanlake.ml import training
    from loanlake.warehouse import exports, runtime

    c = config()
    scripts_root = f"s3://{c.data_bucket}/{c.emr.code_prefix}/0123456789abcdef"
    password_file = f"s3://{c.data_bucket}/{runtime.password_key(c, 'loan_warehouse_load', RUN_ID)}"
    found = [step.to_emr() for step in steps.period_steps(c, scripts_root, [PERIOD])]
    found += exports.export_steps(
        c, scripts_root, [PERIOD], "jdbc:mysql://db.example:3306/loanlake", "loader", password_file
    )
    root = training.training_root(c, job())
    found += [step.to_emr() for step in training.training_steps(c, scripts_root, root, datetime(2026, 1, 1))]
    return found


@dataclass
class HiveUse:
    locations: dict[str, str] = field(default_factory=dict)  # table -> s3:// folder
    written: set[str] = field(default_factory=set)
    statements: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, database, table)


def hive_use(steps: list[dict[str, Any]]) -> HiveUse:
    """What the steps' HQL does with which table and location, from the scripts in include/hql/."""
    use = HiveUse()
    for step in steps:
        args = step["HadoopJarStep"]["Args"]
        if args[0] != "hive-script":
            continue
        script = args[args.index("-f") + 1]
        variables = dict(arg.split("=", 1) for flag, arg in itertools.pairwise(args) if flag == "-d")
        text = (ROOT / "include" / "hql" / script.rsplit("/", 1)[1]).read_text()
        unknown = set(re.findall(r"\$\{(\w+)\}", text)) - set(variables)
        assert not unknown, f"{script}: variables {unknown} are not passed by the step"
        text = re.sub(r"\$\{(\w+)\}", lambda m, values=variables: values[m.group(1)], text)
        for statement in (" ".join(s.split()) for s in hql_statements(text)):
            upper = statement.upper()
            if not statement:
                continue
            if m := re.match(r"CREATE DATABASE (?:IF NOT EXISTS )?(\w+)", statement, re.I):
                use.statements.append(("CREATE DATABASE", m.group(1), ""))
            elif m := re.match(r"CREATE (?:EXTERNAL )?TABLE (?:IF NOT EXISTS )?(\w+)\.(\w+)", statement, re.I):
                use.statements.append(("CREATE TABLE", m.group(1), m.group(2)))
                if location := re.search(r"LOCATION '(s3://[^']+)'", statement, re.I):
                    use.locations[m.group(2)] = location.group(1)
            elif m := re.match(r"CREATE VIEW (\w+)\.(\w+)", statement, re.I):
                use.statements.append(("CREATE VIEW", m.group(1), m.group(2)))
            elif m := re.match(r"DROP (?:TABLE|VIEW) (?:IF EXISTS )?(\w+)\.(\w+)", statement, re.I):
                use.statements.append(("DROP", m.group(1), m.group(2)))
            elif m := re.match(r"MSCK REPAIR TABLE (\w+)\.(\w+)", statement, re.I):
                use.statements.append(("MSCK REPAIR", m.group(1), m.group(2)))
            elif not upper.startswith(("INSERT", "WITH", "SELECT", "FROM")):
                raise AssertionError(f"{script}: the test does not know this kind of statement: {statement[:60]}")
            for m in re.finditer(r"INSERT OVERWRITE TABLE (\w+)\.(\w+)", statement, re.I):
                use.statements.append(("INSERT OVERWRITE", m.group(1), m.group(2)))
                use.written.add(m.group(2))
            if upper.startswith(("INSERT", "WITH", "SELECT", "FROM", "CREATE VIEW")):
                for m in re.finditer(r"(?:FROM|JOIN) (\w+)\.(\w+)", statement, re.I):
                    use.statements.append(("SELECT", m.group(1), m.group(2)))
    return use


def hql_statements(text: str) -> list[str]:
    """The statements of a script: split at semicolons outside quotes, ``--`` comments dropped."""
    statements, current, quote, i = [], [], "", 0
    while i < len(text):
        char = text[i]
        if quote:
            current.append(char)
            if char == "\\":
                current.append(text[i + 1 : i + 2])
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
            current.append(char)
        elif text.startswith("--", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        elif char == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    return [s for s in [*statements, "".join(current)] if s.strip()]


def emr_nodes_needs() -> list[Need]:
    from loanlake.emr.logs import step_log_uri

    c = config()
    steps = cluster_steps()
    needs = []
    for step in steps:
        args = step["HadoopJarStep"]["Args"]
        if args[0] == "hive-script":
            bucket, key = s3_parts(args[args.index("-f") + 1])
            needs.append(Need("s3:GetObject", s3_object(bucket, key), f"{step['Name']}: the script"))
        elif args[0] == "sqoop":
            bucket, key = s3_parts(args[args.index("--password-file") + 1])
            needs.append(Need("s3:GetObject", s3_object(bucket, key), f"{step['Name']}: --password-file"))
            needs += s3_read(args[args.index("--export-dir") + 1], f"{step['Name']}: --export-dir")
        else:
            raise AssertionError(f"step {step['Name']}: the test does not know {args[0]} steps")
    use = hive_use(steps)
    for table, location in use.locations.items():
        needs += s3_read(location, f"Hive table {table}")
        if table in use.written:
            why = f"Hive INSERT OVERWRITE {table}"
            needs += s3_write(location, why, delete=True, multipart=True)
            bucket, key = s3_parts(location.rstrip("/"))
            needs.append(Need("s3:PutObject", s3_object(bucket, f"{key}_$folder$"), f"{why}: EMRFS folder marker"))
    glue = functools.partial(arn, "glue")
    for action in GLUE_ON_START:
        for resource in (glue("catalog"), glue("database/default"), glue(f"database/{c.emr.hive_database}")):
            needs.append(Need(action, resource, "Hive session start"))
    for kind, database, table in use.statements:
        for action in GLUE_BY_STATEMENT[kind]:
            resources = [glue("catalog"), glue(f"database/{database}")]
            resources += [glue(f"table/{database}/{table}")] if table else []
            needs += [Need(action, resource, f"{kind} {database}.{table}") for resource in resources]
    bucket, key = s3_parts(step_log_uri(c.emr.log_uri, CLUSTER_ID, "s-1ABCDEFGHIJK") or "")
    needs.append(Need("s3:PutObject", s3_object(bucket, key), "LogUri: step and node logs"))
    needs.append(
        Need("s3:GetObject", f"arn:aws:s3:::{c.region}.elasticmapreduce/bootstrap-actions/x", "EMR's regional scripts")
    )
    return needs


def ecr_needs(image: str, why: str) -> list[Need]:
    registry, repository = image.split("/", 1)
    image_account, region = registry.split(".")[0], registry.split(".")[3]
    repo = f"arn:aws:ecr:{region}:{image_account}:repository/{repository.split(':')[0]}"
    pull = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
    return [Need("ecr:GetAuthorizationToken", "*", why)] + [Need(action, repo, why) for action in pull]


def sagemaker_logs(group: str, stream: str, why: str) -> list[Need]:
    return [
        Need("logs:CreateLogGroup", arn("logs", f"log-group:{group}"), why),
        Need("logs:DescribeLogStreams", arn("logs", f"log-group:{group}"), why),
        Need("logs:CreateLogStream", arn("logs", f"log-group:{group}:log-stream:{stream}"), why),
        Need("logs:PutLogEvents", arn("logs", f"log-group:{group}:log-stream:{stream}"), why),
    ]


def sagemaker_needs() -> list[Need]:
    c = config()
    needs = []
    for request in (training_request(), training_request(use_spot=True)):
        for channel in request["InputDataConfig"]:
            needs += s3_read(channel["DataSource"]["S3DataSource"]["S3Uri"], f"input channel {channel['ChannelName']}")
        needs += s3_write(request["OutputDataConfig"]["S3OutputPath"] + f"{job()}/output/", "model output")
        if "CheckpointConfig" in request:
            needs += s3_read(request["CheckpointConfig"]["S3Uri"], "spot checkpoints")
            needs += s3_write(request["CheckpointConfig"]["S3Uri"], "spot checkpoints", delete=True)
        needs += ecr_needs(request["AlgorithmSpecification"]["TrainingImage"], "training image")
    model = deployment_request()["Model"]
    needs += s3_read(model["PrimaryContainer"]["ModelDataUrl"].rsplit("/", 1)[0], "ModelDataUrl", listed=False)
    needs += ecr_needs(model["PrimaryContainer"]["Image"], "model image")
    capture = deployment_request()["EndpointConfig"]["DataCaptureConfig"]["DestinationS3Uri"]
    needs += s3_write(f"{capture}/{c.ml.endpoint_name}/AllTraffic/2026/01/01/00/", "data capture")
    needs += sagemaker_logs("/aws/sagemaker/TrainingJobs", f"{job()}/algo-1-1767225600", "training logs")
    needs += sagemaker_logs(f"/aws/sagemaker/Endpoints/{c.ml.endpoint_name}", "AllTraffic/i-0abc", "endpoint logs")
    for namespace in ("/aws/sagemaker/TrainingJobs", "/aws/sagemaker/Endpoints"):
        needs.append(
            Need("cloudwatch:PutMetricData", "*", "instance metrics", _ctx({"cloudwatch:namespace": namespace}))
        )
    return needs


def firehose_needs() -> list[Need]:
    from loanlake.streaming.checks import destination_settings

    c = config()
    stream_arn, processor_arn = stream_arns()
    destination = destination_settings(c.streaming, c.data_bucket, processor_arn)
    bucket_arn = destination["BucketARN"]
    needs = [
        Need(action, bucket_arn, "S3 destination bucket")
        for action in ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")
    ]
    for prefix, sample in ((destination["Prefix"], ""), (destination["ErrorOutputPrefix"], "processing-failed/")):
        key = f"{static_prefix(prefix)}{sample}2026/01/01/00/delivery-1.gz"
        for action in ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"):
            needs.append(Need(action, f"{bucket_arn}/{key}", f"delivery to {prefix}"))
    for processor in destination["ProcessingConfiguration"]["Processors"]:
        lambda_arn = next(p["ParameterValue"] for p in processor["Parameters"] if p["ParameterName"] == "LambdaArn")
        for target in (lambda_arn, f"{lambda_arn}:$LATEST"):
            needs += [
                Need(a, target, "processor") for a in ("lambda:InvokeFunction", "lambda:GetFunctionConfiguration")
            ]
    for action in ("kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"):
        needs.append(Need(action, stream_arn, "source stream"))
    return needs


def copy_statement() -> tuple[str, str]:
    """(FROM URI, IAM_ROLE) of the COPY the warehouse load sends."""
    from loanlake.warehouse import redshift

    (copy_sql,) = [s for s in redshift.load_performance(config(), PERIOD) if s.lstrip().upper().startswith("COPY")]
    source = re.search(r"FROM\s+'(s3://[^']+)'", copy_sql).group(1)
    role = re.search(r"IAM_ROLE\s+'([^']+)'", copy_sql).group(1)
    return source, role


def redshift_copy_needs() -> list[Need]:
    return s3_read(copy_statement()[0], "COPY FROM the period's Parquet")


def lambda_logs(function: str) -> list[Need]:
    group = f"/aws/lambda/{function}"
    return [
        Need("logs:CreateLogGroup", arn("logs", f"log-group:{group}"), "Lambda logs"),
        Need(
            "logs:CreateLogStream", arn("logs", f"log-group:{group}:log-stream:2026/01/01/[$LATEST]abc"), "Lambda logs"
        ),
        Need("logs:PutLogEvents", arn("logs", f"log-group:{group}:log-stream:2026/01/01/[$LATEST]abc"), "Lambda logs"),
    ]


def code_needs(role: str, resource_of: dict[str, str]) -> list[Need]:
    """The operations the role's code calls, on the one resource of each service it acts on."""
    needs = []
    for service, operation in sorted(code_operations()[role]):
        assert service in resource_of, f"{role} calls {service}:{operation}: the test has no resource for it"
        needs.append(Need(iam_action(service, operation), resource_of[service], f"{service} {operation} in code"))
    return needs


def emr_service_needs() -> list[Need]:
    request = cluster_request()
    role_arn = f"arn:aws:iam::{account()}:role/{request['JobFlowRole']}"
    return [
        Need(
            "iam:PassRole",
            role_arn,
            "EMR passes the instance profile",
            _ctx({"iam:PassedToService": "ec2.amazonaws.com"}),
        )
    ]


def needs_of(role: str) -> list[Need]:
    c = config()
    endpoint = arn("sagemaker", f"endpoint/{c.ml.endpoint_name}")
    return {
        AIRFLOW: airflow_needs,
        EMR_SERVICE: emr_service_needs,
        EMR_NODES: emr_nodes_needs,
        SAGEMAKER: sagemaker_needs,
        FIREHOSE: firehose_needs,
        REDSHIFT_COPY: redshift_copy_needs,
        PROXY_LAMBDA: lambda: (
            code_needs(PROXY_LAMBDA, {"sagemaker-runtime": endpoint}) + lambda_logs(c.ml.proxy_function_name)
        ),
        TRANSFORM_LAMBDA: lambda: code_needs(TRANSFORM_LAMBDA, {}) + lambda_logs(c.streaming.processor.function_name),
        PRODUCER: lambda: code_needs(PRODUCER, {"kinesis": stream_arns()[0]}),
    }[role]()


# Roles whose policy is checked against needs in both directions. The EMR service role's EC2 actions are what EMR
# does with it (AWS's AmazonEMRServicePolicy_v2, scoped down): only its validity and the role it passes are checked.
CHECKED_BOTH_WAYS = tuple(role for role in ROLES if role != EMR_SERVICE)


def missing(document: dict[str, Any], needs: Iterable[Need]) -> list[str]:
    return [
        f"{n.action} on {n.resource} ({n.why}) {dict(n.context) or ''}".strip()
        for n in needs
        if not n.allowed_by(document)
    ]


# ---------------------------------------------------------------------------------------------------------------
# The tests: the documents


def test_every_role_has_its_policy_file_and_nothing_else() -> None:
    assert sorted(p.stem for p in policy_files()) == sorted(ROLES)


@pytest.mark.parametrize("path", policy_files(), ids=lambda p: p.name)
def test_policy_document_is_valid(path: Path) -> None:
    text = path.read_text()
    document = json.loads(text)
    assert list(document) == ["Version", "Statement"], "a policy holds Version and Statement only"
    assert document["Version"] == "2012-10-17"
    statements = document["Statement"]
    assert isinstance(statements, list) and statements
    sids = [s.get("Sid") for s in statements]
    assert all(isinstance(sid, str) and re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids), sids
    assert len(set(sids)) == len(sids), "Sids are unique in a policy"
    for statement in statements:
        sid = statement["Sid"]
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, f"{sid}: no NotAction etc."
        assert statement["Effect"] == "Allow", sid
        actions = _as_list(statement["Action"])
        assert actions and all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", a) for a in actions), f"{sid}: {actions}"
        assert len(set(actions)) == len(actions), f"{sid}: an action twice"
        resources = _as_list(statement["Resource"])
        if resources == ["*"]:
            assert sid.endswith(RESOURCE_STAR_SID), f"{sid}: Resource * needs a Sid ending {RESOURCE_STAR_SID}"
            bad = [a for a in actions if a not in RESOURCE_STAR_ACTIONS and not a.startswith("ec2:Describe")]
            assert not bad, f"{sid}: {bad} support resource-level permissions: name the resources"
        else:
            assert "*" not in resources, f"{sid}: * mixed with ARNs"
            assert not sid.endswith(RESOURCE_STAR_SID), sid
            assert all(r.startswith("arn:aws:") for r in resources), f"{sid}: {resources}"
            star_only = [a for a in actions if a in RESOURCE_STAR_ACTIONS]
            assert not star_only, f"{sid}: {star_only} only work with Resource *"
            services = set().union(*(_arn_service(a.split(":")[0]) for a in actions))
            for resource in resources:
                assert resource.split(":")[2] in services, f"{sid}: {resource} is not a resource of {actions}"
        assert set(re.findall(r"\$\{[^}]+\}", json.dumps(statement))) <= set(PLACEHOLDERS + POLICY_VARIABLES), sid
    compact = len(re.sub(r"\s", "", text))
    assert compact <= INLINE_POLICY_LIMIT, f"{path.name}: {compact} characters, over IAM's {INLINE_POLICY_LIMIT}"


def _arn_service(prefix: str) -> set[str]:
    return {"redshift-data": {"redshift"}}.get(prefix, {prefix})


def test_every_action_is_a_real_iam_action() -> None:
    valid = set(IAM_ONLY_ACTIONS)
    for path in policy_files():
        for statement in json.loads(path.read_text())["Statement"]:
            for action in _as_list(statement["Action"]):
                prefix = action.split(":")[0]
                for service in PREFIX_SERVICES.get(prefix, (prefix,)):
                    valid |= {iam_action(service, op) for op in operations(service).values()}
                    valid |= {f"{prefix}:{op}" for op in operations(service).values()}
    unknown = sorted(
        {
            action
            for path in policy_files()
            for statement in json.loads(path.read_text())["Statement"]
            for action in _as_list(statement["Action"])
            if action not in valid
        }
    )
    assert not unknown, f"not IAM actions (a typo?): {unknown}"


def test_readme_names_every_policy_placeholder_and_role() -> None:
    readme = (IAM_DIR / "README.md").read_text()
    for name in [*(p.name for p in policy_files()), *PLACEHOLDERS, *role_policies()]:
        assert name in readme, f"include/iam/README.md does not mention {name}"


# ---------------------------------------------------------------------------------------------------------------
# The tests: the code analysis


def test_the_analysis_resolved_every_call() -> None:
    findings = code_findings()
    assert not findings.problems, "\n".join(findings.problems)


def test_the_analysis_finds_the_calls_it_must_find() -> None:
    """Known calls of each kind the analysis handles: if one goes missing, the analysis broke, not the code."""
    ops = code_operations()
    expected = {
        AIRFLOW: {
            ("s3", "ListObjectsV2"),  # get_paginator on a client handed down as a parameter
            ("s3", "CreateMultipartUpload"),  # upload_fileobj
            ("kinesis", "DescribeStream"),  # a waiter
            ("firehose", "DescribeDeliveryStream"),  # the hand-built waiter model
            ("sagemaker", "ListEndpointConfigs"),  # a paginator named by a parameter of a nested function
            ("emr", "AddJobFlowSteps"),  # EmrHook(...).conn handed to emr.submit
            ("emr", "DescribeStep"),  # self.hook.conn in a provider sensor subclass
            ("redshift-data", "CancelStatement"),  # hook.conn of a RedshiftDataHook
            ("redshift-data", "DescribeStatement"),  # a hook method passed as a callable
            ("sts", "GetCallerIdentity"),  # aws_client(config, "sts")
            ("lambda", "GetFunction"),  # function_active_v2 waiter
            ("emr", "RunJobFlow"),  # the provider operator in a DAG file
            ("sagemaker", "CreateTrainingJob"),  # a package subclass of a provider operator
            ("sns", "Publish"),  # a provider notifier subclass, and an async hook method
        },
        PROXY_LAMBDA: {("sagemaker-runtime", "InvokeEndpoint")},  # a cached factory function
        PRODUCER: {("kinesis", "PutRecords")},
    }
    for role, wanted in expected.items():
        assert wanted <= ops[role], f"{role}: the analysis missed {sorted(wanted - ops[role])}"


def test_each_parameter_holds_clients_of_one_service() -> None:
    """A parameter gets clients of one service from every call, and of the service its name says, if it says one."""
    services: dict[tuple[int, str], set[str]] = {}
    places: dict[tuple[int, str], list[str]] = {}
    for where, callee, parameter, service, node_id in code_findings().handoffs:
        services.setdefault((node_id, parameter), set()).add(service)
        places.setdefault((node_id, parameter), []).append(f"{where}: {service} client to {callee}({parameter}=...)")
        if parameter in CLIENT_NAMES:
            assert CLIENT_NAMES[parameter] == service, f"{where}: a {service} client goes to {callee}({parameter}=...)"
    mixed = [places[key] for key, found in services.items() if len(found) > 1]
    assert not mixed, f"parameters handed clients of different services: {mixed}"


def test_every_provider_name_the_code_imports_is_mapped() -> None:
    unmapped = []
    for name in sorted(code_findings().provider_imports):
        obj = _import_object(name)
        if name in PROVIDER_NAMES_WITHOUT_CALLS or (isinstance(obj, type) and _is_aws_hook(obj)):
            continue
        if not (isinstance(obj, type) and any(c.__name__ in PROVIDER_CLASSES for c in obj.__mro__)):
            unmapped.append(name)
    assert not unmapped, f"map what these call in PROVIDER_CLASSES (or PROVIDER_NAMES_WITHOUT_CALLS): {unmapped}"


@pytest.mark.parametrize("name", [*PROVIDER_CLASSES, *(f"{c}.{m}" for c, m in HOOK_METHODS)])
def test_provider_mapping_matches_the_provider_source(name: str) -> None:
    calls = provider_calls(name)
    source = "\n".join((provider_root() / path).read_text() for path in calls.sources)
    for service, operation in calls.ops:
        assert xform_name(operation) in source, f"{name}: {xform_name(operation)} not in {calls.sources}"
        assert operation in operations(service).values()
    for service, waiter in calls.waiters:
        assert f'"{waiter}"' in source, f"{name}: waiter {waiter} not in {calls.sources}"
        waiter_operation(service, waiter)  # resolves
    if "." in name:
        cls, method = name.split(".")
        assert method in source and f"class {cls}" in source


def test_producer_code_runs_only_in_the_producer() -> None:
    """Calls are attributed by file: the producer module must not be imported by the DAGs' code."""
    importers = [
        m.rel
        for m in CodeIndex(scanned_files()).modules.values()
        for node in ast.walk(m.tree)
        if isinstance(node, ast.ImportFrom | ast.Import)
        and any("streaming.producer" in (getattr(node, "module", "") or "") + a.name for a in node.names)
        and m.rel not in CODE_ROLES
    ]
    assert not importers, f"{importers} import the producer: its calls would run as the Airflow role"


def test_every_lambda_source_has_a_role() -> None:
    for folder in sorted((ROOT / "include" / "lambda").iterdir()):
        if folder.is_dir():
            assert f"include/lambda/{folder.name}/handler.py" in CODE_ROLES, f"{folder.name}: which role runs it?"


# ---------------------------------------------------------------------------------------------------------------
# The tests: policies against needs


@pytest.mark.parametrize("role", ROLES)
def test_every_need_of_the_role_is_allowed(role: str) -> None:
    needs = needs_of(role)
    assert needs, f"{role}: no needs found"
    gaps = missing(policy(role), needs)
    assert not gaps, f"include/iam/{role}.json does not allow:\n" + "\n".join(gaps)


@pytest.mark.parametrize("role", CHECKED_BOTH_WAYS)
def test_no_statement_can_be_removed(role: str) -> None:
    """Removing any one statement leaves a need unmet: no dead statement, and the check is not vacuous."""
    needs = needs_of(role)
    document = policy(role)
    for index, statement in enumerate(document["Statement"]):
        reduced = copy.deepcopy(document)
        del reduced["Statement"][index]
        assert missing(reduced, needs), f"{role}: statement {statement['Sid']} serves no need: remove it"


@pytest.mark.parametrize("role", CHECKED_BOTH_WAYS)
def test_no_action_beyond_the_needs(role: str) -> None:
    needed = {need.action.lower() for need in needs_of(role)}
    granted = {a for s in policy(role)["Statement"] for a in _as_list(s["Action"])}
    extra = sorted(a for a in granted if a.lower() not in needed)
    assert not extra, f"{role} grants {extra}, which nothing needs"


def test_airflow_s3_prefixes_cover_the_config_and_the_code() -> None:
    declared = set(AIRFLOW_S3) | set(NOT_AIRFLOW_S3)
    assert set(config_prefix_fields()) == declared, (
        "classify every *_prefix of the config in AIRFLOW_S3 or NOT_AIRFLOW_S3"
    )
    from_code = {iam_action(s, o) for s, o in code_operations()[AIRFLOW] if s == "s3"} & S3_OBJECT_ACTIONS
    from_table = {a for actions in AIRFLOW_S3.values() for a in actions}
    assert from_code == from_table, f"S3 actions in code {sorted(from_code)}, in AIRFLOW_S3 {sorted(from_table)}"


def role_policies() -> dict[str, str]:
    """The IAM role names the config gives each principal, and the policy file of each."""
    c = config()
    return {
        c.emr.service_role: EMR_SERVICE,
        c.emr.job_flow_role: EMR_NODES,
        c.ml.role_arn.rsplit("/", 1)[1]: SAGEMAKER,
        c.ml.proxy_role_arn.rsplit("/", 1)[1]: PROXY_LAMBDA,
        c.streaming.processor.role_arn.rsplit("/", 1)[1]: TRANSFORM_LAMBDA,
        c.streaming.delivery.role_arn.rsplit("/", 1)[1]: FIREHOSE,
        c.warehouse.redshift.copy_iam_role.rsplit("/", 1)[1]: REDSHIFT_COPY,
    }


def test_every_role_the_code_hands_to_a_service_has_its_policy() -> None:
    handed = [role_arn for role_arn, _, _ in passed_roles()] + [copy_statement()[1]]
    unknown = [role_arn for role_arn in handed if role_arn.rsplit("/", 1)[1] not in role_policies()]
    assert not unknown, f"no policy in include/iam/ for {unknown}"


# ---------------------------------------------------------------------------------------------------------------
# The tests: least privilege, by probes outside the needs

DENIED = {
    AIRFLOW: [
        ("s3:GetObject", "arn:aws:s3:::loanlake-data/secrets/sqoop/loan_warehouse_load/run/mysql.password", {}),
        ("s3:PutObject", "arn:aws:s3:::loanlake-data/processed/performance/x.parquet", {}),
        ("s3:DeleteObject", "arn:aws:s3:::loanlake-data/raw/legacy/origination/x.txt", {}),
        ("s3:GetObject", "arn:aws:s3:::loanlake-logs/emr/j-1/steps/s-1/stderr.gz", {}),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/Admin", {"iam:PassedToService": "ec2.amazonaws.com"}),
        (
            "iam:PassRole",
            "arn:aws:iam::123456789012:role/loanlake-sagemaker",
            {"iam:PassedToService": "lambda.amazonaws.com"},
        ),
        ("elasticmapreduce:RunJobFlow", "*", {}),  # without the loanlake:managed tag
        ("elasticmapreduce:TerminateJobFlows", "arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/j-1", {}),
        ("sagemaker:CreateTrainingJob", "arn:aws:sagemaker:us-east-1:123456789012:training-job/loanlake-xgb-1", {}),
        ("sagemaker:UpdateEndpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/another", {}),
        ("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:123456789012:function:another", {}),
        ("redshift-data:GetStatementResult", "*", {"redshift-data:statement-owner-iam-userid": "AROAOTHER:user"}),
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf", {}),
    ],
    EMR_NODES: [
        ("s3:PutObject", "arn:aws:s3:::loanlake-data/raw/legacy/origination/x.txt", {}),
        ("s3:DeleteObject", "arn:aws:s3:::loanlake-data/secrets/sqoop/x/mysql.password", {}),
        ("s3:GetObject", "arn:aws:s3:::loanlake-data/ml/registry/loanlake-credit-risk.json", {}),
        ("s3:PutObject", "arn:aws:s3:::loanlake-data/code/hql/abc/acquisition.hql", {}),
        ("s3:ListBucket", "arn:aws:s3:::loanlake-data", {"s3:prefix": "secrets/"}),
        ("glue:DeleteTable", "arn:aws:glue:us-east-1:123456789012:table/default/anything", {}),
        ("glue:CreateDatabase", "arn:aws:glue:us-east-1:123456789012:database/other", {}),
    ],
    SAGEMAKER: [
        ("s3:GetObject", "arn:aws:s3:::loanlake-data/raw/legacy/origination/x.txt", {}),
        ("s3:GetObject", "arn:aws:s3:::loanlake-data/secrets/sqoop/x/mysql.password", {}),
        ("s3:PutObject", "arn:aws:s3:::loanlake-data/processed/performance/x.parquet", {}),
        ("ecr:BatchGetImage", "arn:aws:ecr:us-east-1:123456789012:repository/private-image", {}),
        ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Billing"}),
    ],
    FIREHOSE: [
        ("s3:PutObject", "arn:aws:s3:::loanlake-data/processed/x", {}),
        ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:loanlake-endpoint-proxy", {}),
    ],
    REDSHIFT_COPY: [
        ("s3:GetObject", "arn:aws:s3:::loanlake-data/raw/legacy/origination/x.txt", {}),
        ("s3:GetObject", "arn:aws:s3:::loanlake-data/secrets/sqoop/x/mysql.password", {}),
        ("s3:ListBucket", "arn:aws:s3:::loanlake-data", {"s3:prefix": "raw/"}),
        ("s3:PutObject", "arn:aws:s3:::loanlake-data/processed/x", {}),
    ],
    PROXY_LAMBDA: [("sagemaker:InvokeEndpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/another", {})],
    TRANSFORM_LAMBDA: [("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*", {})],
    PRODUCER: [("kinesis:PutRecords", "arn:aws:kinesis:us-east-1:123456789012:stream/another", {})],
    EMR_SERVICE: [
        ("iam:PassRole", "arn:aws:iam::123456789012:role/Admin", {"iam:PassedToService": "ec2.amazonaws.com"}),
        ("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", {}),  # untagged
    ],
}


@pytest.mark.parametrize(("role", "probe"), [(r, p) for r, probes in DENIED.items() for p in probes])
def test_outside_the_needs_is_denied(role: str, probe: tuple[str, str, dict[str, str]]) -> None:
    action, resource, context = probe
    assert not allowed(policy(role), action, resource, context), f"{role} allows {action} on {resource} {context}"


def test_the_evaluator_tells_allowed_from_denied() -> None:
    document = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/p/*"},
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringLike": {"s3:prefix": "p/*"}},
            },
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/p/secret"},
        ]
    }
    assert allowed(document, "s3:getobject", "arn:aws:s3:::b/p/x")
    assert not allowed(document, "s3:GetObject", "arn:aws:s3:::b/p/secret")
    assert not allowed(document, "s3:GetObject", "arn:aws:s3:::b/q/x")
    assert allowed(document, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "p/2017"})
    assert not allowed(document, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "q/"})
    assert not allowed(document, "s3:ListBucket", "arn:aws:s3:::b")


def test_clusters_carry_the_tags_the_emr_service_role_requires() -> None:
    """EMR's EC2 calls with the service role are allowed only for resources tagged as its conditions say; EMR
    propagates the cluster's tags to what it creates, so the RunJobFlow request must carry them."""
    required = {
        key.split("/", 1)[1]: value
        for statement in policy(EMR_SERVICE)["Statement"]
        for tests in statement.get("Condition", {}).values()
        for key, value in tests.items()
        if key.startswith("aws:RequestTag/") and key != "aws:RequestTag/Name"
    }
    tags = {t["Key"]: t["Value"] for t in cluster_request()["Tags"]}
    assert required and all(tags.get(key) == value for key, value in required.items()), (required, tags)
