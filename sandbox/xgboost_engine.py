"""What SageMaker's built-in XGBoost container (``sagemaker-xgboost``, algorithm mode) does, on the xgboost library.

The sandbox's SageMaker extension (``sandbox/extensions/sagemaker.py``) trains and serves with these functions, in its
own process. As the container does:

- hyperparameters arrive as strings and are checked as its toolkit checks them (names, types, ranges, ``num_round``
  required, ``num_class`` for ``multi:*``, ``auc`` only for ``binary:``/``rank:``), with its messages
  (``Extraneous hyperparameter found: x``, ``Hyperparameter eta: could not parse value (caused by ValueError)``,
  ``Hyperparameter eta: 2.0 is not in [0, 1]``); ``learning_rate``, ``min_split_loss``, ``reg_lambda`` and
  ``reg_alpha`` are aliases;
- CSV data: no header, label in the first column (``csv_weights=1``: instance weights in the second), an empty field
  is a missing value; a non-numeric field fails with the file, row and column;
- ``early_stopping_rounds`` watches the last metric on the last data set (validation when there is one) and keeps the
  best iteration's model, so the artifact scores what the reported metrics say;
- the artifact is ``model.tar.gz`` holding ``xgboost-model`` (xgboost's own format, ``Booster.load_model`` reads it);
- serving: ``text/csv`` rows in, one prediction per line out; the container's messages for unreadable payloads (415)
  and payloads whose column count is not the model's (400).

Not as the container: only CSV is read (libsvm, Parquet and RecordIO-protobuf are refused with a message that says
so) and the delimiter is always a comma (the container sniffs it); the container's own metrics (``accuracy``, ``f1``,
``r2``, ...), k-fold cross-validation (``_kfold``) and script mode are refused; artifacts are never unpickled (the
container also loads pickled boosters); xgboost is the sandbox's version, not 1.7; training uses one thread unless
``nthread`` says otherwise (the container uses every core).
"""

from __future__ import annotations

import ast
import io
import math
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import xgboost as xgb

MODEL_FILE = "xgboost-model"
TRAINING_THREADS = 1  # unless nthread is given: OpenMP threads on a busy shared machine make training many times slower
CONTAINER_PARAMETERS = frozenset(  # what the container uses itself, not passed to xgboost
    {"num_round", "early_stopping_rounds", "csv_weights", "save_model_on_termination", "_tuning_objective_metric"}
)
CSV_TYPES = frozenset({"csv", "text/csv"})
OTHER_TYPES = frozenset(
    {"libsvm", "text/libsvm", "text/x-libsvm", "parquet", "application/x-parquet", "recordio-protobuf"}
    | {"application/x-recordio-protobuf"}
)
METRICS = frozenset(
    {"rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss", "auc", "aucpr", "pre"}
    | {"ndcg", "map", "poisson-nloglik", "gamma-nloglik", "cox-nloglik", "gamma-deviance", "tweedie-nloglik"}
    | {"aft-nloglik", "interval-regression-accuracy"}
)
OBJECTIVES = (
    "aft_loss_distribution",
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
    "reg:linear",
    "reg:squarederror",
    "reg:logistic",
    "reg:gamma",
    "reg:pseudohubererror",
    "reg:squaredlogerror",
    "reg:tweedie",
    "survival:aft",
    "survival:cox",
)
UPDATERS = ("grow_colmaker", "distcol", "grow_histmaker", "grow_local_histmaker", "grow_skmaker", "sync", "refresh")
UPDATERS += ("prune", "grow_quantile_histmaker", "shotgun", "coord_descent")
CONTAINER_METRICS = frozenset(  # computed by the container, not by xgboost
    {"accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "precision", "precision_macro"}
    | {"precision_micro", "recall", "recall_macro", "recall_micro", "mse", "r2"}
)
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}


class UserError(Exception):
    """A problem of the request's making; SageMaker's FailureReason is ``ClientError: <message>``."""


class AlgorithmError(Exception):
    """xgboost itself failed; SageMaker's FailureReason is ``AlgorithmError: <message>``."""


class Unsupported(Exception):
    """What the container does and the sandbox does not; the message says which."""


class PayloadError(Exception):
    """What the serving container answers to a payload it cannot score: its HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Interval:
    """A numeric range as the container's toolkit writes it: ``[0, 1]``, ``(0, 1]``, ``[1, +inf)``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: object) -> bool:
        v = float(value)  # type: ignore[arg-type]
        too_low = self.low is not None and (v <= self.low if self.low_open else v < self.low)
        too_high = self.high is not None and (v >= self.high if self.high_open else v > self.high)
        return not (too_low or too_high)

    def __str__(self) -> str:
        low = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{self.low}"
        high = "+inf)" if self.high is None else f"{self.high}{')' if self.high_open else ']'}"
        return f"{low}, {high}"


def _names(value: str) -> list[str]:
    return value.split(",")


UNIT = Interval(0, 1)
POSITIVE = Interval(0)
FRACTION = Interval(0, 1, low_open=True)
BOOLEAN = ("true", "false")
HYPERPARAMETERS: dict[str, tuple[Callable[[str], Any], Any]] = {  # name -> (parser, range), as the container has them
    "num_round": (int, Interval(1)),
    "csv_weights": (int, UNIT),
    "early_stopping_rounds": (int, Interval(1)),
    "booster": (str, ("gbtree", "gblinear", "dart")),
    "verbosity": (int, Interval(0, 3)),
    "nthread": (int, Interval(1)),
    "eta": (float, UNIT),
    "gamma": (float, POSITIVE),
    "max_depth": (int, POSITIVE),
    "min_child_weight": (float, POSITIVE),
    "max_delta_step": (float, POSITIVE),
    "subsample": (float, FRACTION),
    "colsample_bytree": (float, FRACTION),
    "colsample_bylevel": (float, FRACTION),
    "colsample_bynode": (float, FRACTION),
    "lambda": (float, POSITIVE),
    "alpha": (float, POSITIVE),
    "tree_method": (str, ("auto", "exact", "approx", "hist", "gpu_hist")),
    "sketch_eps": (float, Interval(0, 1, low_open=True, high_open=True)),
    "scale_pos_weight": (float, Interval(0, low_open=True)),
    "updater": (_names, UPDATERS),
    "dsplit": (str, ("row", "col")),
    "refresh_leaf": (int, UNIT),
    "process_type": (str, ("default", "update")),
    "grow_policy": (str, ("depthwise", "lossguide")),
    "max_leaves": (int, POSITIVE),
    "max_bin": (int, POSITIVE),
    "predictor": (str, ("auto", "cpu_predictor", "gpu_predictor")),
    "monotone_constraints": (ast.literal_eval, (-1, 0, 1)),
    "interaction_constraints": (ast.literal_eval, None),
    "sample_type": (str, ("uniform", "weighted")),
    "normalize_type": (str, ("tree", "forest")),
    "rate_drop": (float, UNIT),
    "one_drop": (int, UNIT),
    "skip_drop": (float, UNIT),
    "lambda_bias": (float, UNIT),
    "tweedie_variance_power": (float, Interval(1, 2, low_open=True, high_open=True)),
    "objective": (str, OBJECTIVES),
    "num_class": (int, Interval(2)),
    "base_score": (float, POSITIVE),
    "_kfold": (int, Interval(2)),
    "_num_cv_round": (int, Interval(1)),
    "_tuning_objective_metric": (str, None),
    "eval_metric": (_names, None),  # checked by _check_metrics
    "seed": (int, Interval(-(2**31), 2**31 - 1, low_open=True, high_open=True)),
    "num_parallel_tree": (int, Interval(1)),
    "save_model_on_termination": (str, BOOLEAN),
    "aft_loss_distribution": (str, ("normal", "logistic", "extreme")),
    "aft_loss_distribution_scale": (float, POSITIVE),
    "single_precision_histogram": (str, BOOLEAN),
    "deterministic_histogram": (str, BOOLEAN),
    "sampling_method": (str, ("uniform", "gradient_based")),
    "prob_buffer_row": (int, Interval(1.0, low_open=True)),
}


@dataclass(frozen=True)
class TrainingConfig:
    """Validated hyperparameters: xgboost's ``params`` and what the container itself uses."""

    params: dict[str, Any]
    num_round: int
    early_stopping_rounds: int | None
    csv_weights: int


@dataclass(frozen=True)
class Trained:
    """A training's outcome: the booster (None when stopped), the reported metrics (``validation:auc`` ...)."""

    booster: xgb.Booster | None
    metrics: dict[str, float]


def training_config(hyperparameters: dict[str, str]) -> TrainingConfig:
    """The container's checks of the job's HyperParameters; a UserError with its message when one fails."""
    values: dict[str, Any] = {}
    for name, raw in hyperparameters.items():
        spec = HYPERPARAMETERS.get(ALIASES.get(name, name))
        if spec is None:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        parse, allowed = spec
        try:
            value = parse(raw)
        except (ValueError, SyntaxError) as error:
            raise UserError(
                f"Hyperparameter {name}: could not parse value (caused by {type(error).__name__})"
            ) from None
        _check_range(name, value, allowed)
        values[ALIASES.get(name, name)] = value
    if "num_round" not in values:
        raise UserError("Missing required hyperparameter: num_round")
    _check_dependencies(values)
    if "_kfold" in values or "_num_cv_round" in values:
        raise Unsupported("The sandbox does not run the container's k-fold cross-validation (_kfold, _num_cv_round).")
    params = {"nthread": TRAINING_THREADS} | {k: v for k, v in values.items() if k not in CONTAINER_PARAMETERS}
    if "updater" in params:
        params["updater"] = ",".join(params["updater"])
    for name in ("monotone_constraints", "interaction_constraints"):
        if name in params:
            params[name] = str(params[name])
    return TrainingConfig(
        params, values["num_round"], values.get("early_stopping_rounds"), values.get("csv_weights", 0)
    )


def _check_range(name: str, value: Any, allowed: Any) -> None:
    if allowed is None:
        return
    if isinstance(value, list | tuple):
        if any(item not in allowed for item in value):
            raise UserError(f"Hyperparameter {name}: value {value} not in range {list(allowed)}")
    elif value not in allowed:
        shown = allowed if isinstance(allowed, Interval) else list(allowed)
        raise UserError(f"Hyperparameter {name}: {value} is not in {shown}")


def _check_dependencies(values: dict[str, Any]) -> None:
    objective = values.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in values:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    for metric in values.get("eval_metric", []):
        name, _, threshold = metric.partition("@")
        if threshold and name not in ("error", "ndcg", "map"):
            raise UserError(
                f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized threshold should "
                "be one of these options: 'error', 'ndcg', 'map'."
            )
        if name in CONTAINER_METRICS:
            raise Unsupported(f"The sandbox computes xgboost's own metrics only; '{name}' is the container's.")
        if name not in METRICS:
            raise UserError(f"Hyperparameter eval_metric: value {values['eval_metric']} not in range {sorted(METRICS)}")
        if name == "auc" and not str(objective).startswith(("binary:", "rank:")):
            raise UserError("Metric 'auc' can only be applied for classification and ranking problems.")


def check_content_type(channel: str, content_type: str | None) -> None:
    """CSV only; the container reads a channel without ContentType as libsvm."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in CSV_TYPES:
        return
    if media_type in OTHER_TYPES or not media_type:
        shown = content_type or "no ContentType (the container then reads libsvm)"
        raise Unsupported(f"The sandbox reads text/csv channels only; channel '{channel}' has {shown}.")
    raise UserError(
        f"{content_type} is not an accepted ContentType: csv, libsvm, parquet, recordio-protobuf, text/csv, "
        "text/libsvm, text/x-libsvm, application/x-parquet, application/x-recordio-protobuf."
    )


def read_csv(files: Sequence[tuple[str, bytes]], csv_weights: int = 0) -> xgb.DMatrix | None:
    """Every file of a channel as one DMatrix (None when they hold no data); a UserError naming a bad value's place."""
    tables = [(uri, _table(uri, data)) for uri, data in files if data.strip()]
    if not tables:
        return None
    widths = {table.num_columns for _, table in tables}
    if len(widths) > 1:
        shapes = ", ".join(f"{uri}: {table.num_columns}" for uri, table in tables)
        raise UserError(f"Failed to load csv data with exception:\nfiles have different numbers of columns ({shapes})")
    matrix = np.vstack([_numbers(uri, table) for uri, table in tables])
    first = 1 + csv_weights
    if matrix.shape[1] <= first:
        raise UserError(f"Failed to load csv data with exception:\nno feature columns after the label in {files[0][0]}")
    labels = matrix[:, 0]
    if np.isnan(labels).any():
        row = int(np.flatnonzero(np.isnan(labels))[0]) + 1
        raise UserError(f"Failed to load csv data with exception:\nmissing label (first column) in data row {row}")
    weights = matrix[:, 1] if csv_weights else None
    return xgb.DMatrix(matrix[:, first:], label=labels, weight=weights, missing=np.nan)


def _table(uri: str, data: bytes) -> pa.Table:
    try:
        return pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(autogenerate_column_names=True),
            convert_options=pa_csv.ConvertOptions(strings_can_be_null=True),
        )
    except pa.ArrowInvalid as error:
        raise UserError(f"Failed to load csv data with exception:\n{uri}: {error}") from None


def _numbers(uri: str, table: pa.Table) -> np.ndarray:
    """The table as float64 (nulls NaN); the first field that is not a number fails, with its place."""
    columns = []
    for index, column in enumerate(table.columns):
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type)):
            _raise_for_text(uri, index, column.to_pylist())
        columns.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    return np.column_stack(columns)


def _raise_for_text(uri: str, index: int, values: list[Any]) -> None:
    for row, value in enumerate(values, start=1):
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        try:
            float(text)
        except ValueError:
            raise UserError(
                f"Failed to load csv data with exception:\ncould not convert string to float: {text!r} "
                f"({uri}, data row {row}, column {index + 1})"
            ) from None


def train(
    config: TrainingConfig,
    dtrain: xgb.DMatrix,
    dvalidation: xgb.DMatrix | None,
    log: Callable[[str], None],
    should_stop: Callable[[], bool],
) -> Trained:
    """Train as the container does, logging each iteration's metrics; ``should_stop`` ends it early (no booster)."""
    evals = [(dtrain, "train")] + ([(dvalidation, "validation")] if dvalidation is not None else [])
    watcher = _Watcher(log, should_stop)
    callbacks: list[xgb.callback.TrainingCallback] = [watcher]
    if config.early_stopping_rounds:
        callbacks.append(xgb.callback.EarlyStopping(rounds=config.early_stopping_rounds, save_best=True))
    history: dict[str, dict[str, list[float]]] = {}
    try:
        booster = xgb.train(
            config.params,
            dtrain,
            num_boost_round=config.num_round,
            evals=evals,
            evals_result=history,
            verbose_eval=False,
            callbacks=callbacks,
        )
    except Exception as error:
        if watcher.stopped:  # xgboost's early stopping may find no best iteration in a training cut short
            return Trained(None, {})
        if isinstance(error, xgb.core.XGBoostError):
            raise AlgorithmError(f"XGB train call failed with exception:\n {error}") from None
        raise
    if watcher.stopped:
        return Trained(None, {})
    rounds = len(next(iter(history["train"].values())))
    best = int(booster.attr("best_iteration") or rounds - 1)
    metrics = {f"{data}:{metric}": values[best] for data, by in history.items() for metric, values in by.items()}
    return Trained(booster, metrics)


class _Watcher(xgb.callback.TrainingCallback):
    """Logs each iteration as the container does (``[3]#011train-auc:0.91000``) and stops when asked."""

    def __init__(self, log: Callable[[str], None], should_stop: Callable[[], bool]) -> None:
        super().__init__()
        self._log = log
        self._should_stop = should_stop
        self.stopped = False

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        values = [
            f"{data}-{metric}:{scores[-1]:.5f}" for data, by in evals_log.items() for metric, scores in by.items()
        ]
        self._log("#011".join([f"[{epoch}]", *values]))
        self.stopped = self._should_stop()
        return self.stopped


def artifact(booster: xgb.Booster) -> bytes:
    """``model.tar.gz`` as SageMaker uploads it: ``xgboost-model`` at its root."""
    model = bytes(booster.save_raw("ubj"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        entry = tarfile.TarInfo(MODEL_FILE)
        entry.size = len(model)
        archive.addfile(entry, io.BytesIO(model))
    return buffer.getvalue()


def load_artifact(data: bytes) -> xgb.Booster:
    """The booster in a ``model.tar.gz``; ValueError when there is none the serving container could load."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            members = [member for member in archive.getmembers() if member.isfile()]
            member = next((m for m in members if m.name.lstrip("./") == MODEL_FILE), members[0] if members else None)
            if member is None:
                raise ValueError("the archive holds no file")
            model = archive.extractfile(member).read()  # type: ignore[union-attr]
    except tarfile.TarError as error:
        raise ValueError(f"not a tar.gz archive ({error})") from None
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(model))
    except xgb.core.XGBoostError as error:
        raise ValueError(f"{member.name} is not an xgboost model: {str(error).splitlines()[0]}") from None
    booster.set_param("nthread", 1)  # as the serving container does
    return booster


def score(booster: xgb.Booster, body: bytes, content_type: str | None) -> bytes:
    """Predictions for a ``text/csv`` payload, one per line (rows of class probabilities for ``multi:softprob``)."""
    media_type = (content_type or "text/csv").split(";")[0].strip().lower()
    if media_type != "text/csv":
        raise PayloadError(
            415,
            f"Content-type {media_type} not supported. Supported content-type is text/csv, text/libsvm, "
            "application/x-recordio-protobuf (the sandbox: text/csv only)",
        )
    rows = _payload_rows(body)
    if rows.shape[1] != booster.num_features():
        raise PayloadError(
            400,
            f"Unable to evaluate payload provided: Feature size of csv inference data {rows.shape[1]} is not "
            f"consistent with feature size of trained model {booster.num_features()}",
        )
    predictions = booster.inplace_predict(rows, missing=np.nan)
    lines = [",".join(map(str, p)) if isinstance(p, list) else str(p) for p in predictions.tolist()]
    return ("\n".join(lines) + "\n").encode()


def _payload_rows(body: bytes) -> np.ndarray:
    """The payload's rows as floats (empty field: NaN); a 415 with the container's message when it is not CSV."""
    try:
        lines = body.decode("utf-8").strip().splitlines()
        if not lines:
            raise ValueError("the payload has no rows")
        rows = [[float(field) if field.strip() else math.nan for field in line.split(",")] for line in lines]
        widths = {len(row) for row in rows}
        if len(widths) != 1:
            raise ValueError(f"rows have different numbers of fields: {sorted(widths)}")
    except ValueError as error:
        raise PayloadError(
            415,
            f"Loading csv data failed with Exception, please ensure data is in csv format:\n {type(error)}\n {error}",
        ) from None
    return np.asarray(rows, dtype=np.float64)
