"""The sandbox's Hive engine: HQL scripts run by Spark SQL with Hive support and a local Derby metastore.

``HiveEngine.shared(home)`` starts one SparkSession per process (one SparkContext per JVM, and Derby
allows one JVM per metastore) and ``run_script`` runs a script as EMR's ``hive-script`` step does:
Hive CLI ``-d NAME=value`` variables, statements split on ``;``, run in order, stopping at the first
failure with a ``HiveScriptError``.

Differences from Hive, and what this module does about them:

- Variables: ``${NAME}`` and ``${hivevar:NAME}`` are substituted here, outside comments (Hive CLI
  skips comment lines too). An undefined variable raises instead of becoming an empty string, and
  Spark's own substitution is off. Other namespaces (``${hiveconf:...}``, ``${env:...}``) are refused.
- Virtual columns (the only rewrite of the HQL text, outside strings and comments):
  ``INPUT__FILE__NAME`` becomes ``input_file_name()``, and ``BLOCK__OFFSET__INSIDE__FILE`` becomes
  ``monotonically_increasing_id()``. The latter is not a byte offset, but within one file it grows
  with the position of the line (split index in the high bits, row within the split in the low bits;
  splits of a file are numbered in file order), so ordering a file's lines by it gives file order,
  which is all a line number needs. Only compare values within one file. Both are nondeterministic to
  Spark, which therefore pushes no filter below them: a query that reads them through a view scans every
  partition of the table (same result, slower; Hive prunes).
- Session settings make bad values NULL as in Hive (ANSI mode off, legacy store assignment and time
  parsing) and allow dynamic partitions (``hive.exec.dynamic.partition.mode=nonstrict``).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar

__all__ = ["HiveEngine", "HiveScriptError", "split_statements", "substitute"]


class HiveScriptError(RuntimeError):
    """A script that cannot run: an undefined variable, or a statement that failed."""


_SEGMENT = re.compile(
    r"""(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))"""
    r"""|(?P<string>'(?:\\.|[^'\\])*(?:'|\Z)|"(?:\\.|[^"\\])*(?:"|\Z)|`[^`]*(?:`|\Z))"""
    r"""|(?P<code>[^'"`\-/]+|[\-/])""",
    re.S,
)
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VIRTUAL_COLUMNS = (
    (re.compile(r"\bINPUT__FILE__NAME\b", re.I), "input_file_name()"),
    (re.compile(r"\bBLOCK__OFFSET__INSIDE__FILE\b", re.I), "monotonically_increasing_id()"),
)


def _segments(text: str) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` pieces of HQL, kind being ``comment``, ``string`` (quoted, backquoted too) or ``code``."""
    for match in _SEGMENT.finditer(text):
        yield match.lastgroup or "code", match.group()


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with ``${NAME}`` and ``${hivevar:NAME}`` replaced outside comments; undefined ones raise."""

    def value(match: re.Match[str]) -> str:
        name = match[1].removeprefix("hivevar:")
        if ":" in name:
            raise HiveScriptError(f"unsupported variable {match[0]}: only ${{NAME}} and ${{hivevar:NAME}} are set")
        if name not in variables:
            defined = ", ".join(sorted(variables)) or "none"
            raise HiveScriptError(f"undefined variable {match[0]} (defined: {defined})")
        return str(variables[name])

    return "".join(part if kind == "comment" else _VARIABLE.sub(value, part) for kind, part in _segments(text))


def split_statements(text: str) -> list[str]:
    """Statements of a script, split on ``;`` outside quotes and comments; empty ones (comments only) dropped."""
    statements: list[str] = []
    current: list[str] = []
    for kind, part in _segments(text):
        pieces = part.split(";") if kind == "code" else [part]
        for index, piece in enumerate(pieces):
            if index:
                statements.append("".join(current))
                current = []
            current.append(piece)
    statements.append("".join(current))
    return [statement.strip() for statement in statements if _first_line(statement)]


def _first_line(statement: str) -> str:
    """The first line of a statement that holds code, comments removed; '' for a statement without code."""
    code = "".join(part for kind, part in _segments(statement) if kind != "comment")
    return next((line.strip() for line in code.splitlines() if line.strip()), "")


def _translate(statement: str) -> str:
    """Hive's virtual columns as Spark expressions, outside strings and comments."""
    parts = []
    for kind, part in _segments(statement):
        if kind == "code":
            for pattern, replacement in _VIRTUAL_COLUMNS:
                part = pattern.sub(replacement, part)
        parts.append(part)
    return "".join(parts)


def _one_line(error: BaseException) -> str:
    """The first line of an error's message (Spark's messages go on with the plan and a stack trace)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:500]


class HiveEngine:
    """One SparkSession with Hive support over a Derby metastore and a warehouse under ``home``."""

    _instance: ClassVar[HiveEngine | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, home: Path) -> None:
        from pyspark.logger import PySparkLogger
        from pyspark.sql import SparkSession

        self.home = Path(home).resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        local = self.home / "spark-local"
        settings = {
            "spark.driver.memory": "1g",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={self.home}",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.local.dir": str(local),
            "spark.sql.warehouse.dir": str(self.home / "warehouse"),
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={self.home / 'metastore_db'};create=true"
            ),
            "spark.sql.shuffle.partitions": "4",
            "spark.sql.ansi.enabled": "false",
            "spark.sql.storeAssignmentPolicy": "LEGACY",
            "spark.sql.legacy.timeParserPolicy": "LEGACY",
            "spark.sql.variable.substitute": "false",
            "spark.hadoop.hive.exec.dynamic.partition": "true",
            "spark.hadoop.hive.exec.dynamic.partition.mode": "nonstrict",
            "spark.sql.session.timeZone": "UTC",
        }
        builder = SparkSession.builder.master("local[2]").appName("loanlake-sandbox-hive")
        for key, value in settings.items():
            builder = builder.config(key, value)
        self.spark = builder.enableHiveSupport().getOrCreate()
        self.spark.sparkContext.setLogLevel("WARN")
        # PySpark logs every SQL error with its Java stack trace; run_script reports failures itself.
        PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        logging.getLogger("py4j").setLevel(logging.WARNING)  # not a line per closed gateway connection

    @classmethod
    def shared(cls, home: Path) -> HiveEngine:
        """The process's engine, started on first use; asking for another ``home`` while it runs raises."""
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls(home)
            elif cls._instance.home != Path(home).resolve():
                raise RuntimeError(
                    f"a Hive engine with home {cls._instance.home} is running; stop it before using {home}"
                )
            return cls._instance

    @classmethod
    def running(cls) -> HiveEngine | None:
        """The process's engine if one is running."""
        return cls._instance

    def run_script(self, text: str, variables: Mapping[str, str], *, log: Callable[[str], None] = print) -> None:
        """Run each statement of ``text`` in order, with ``variables``; the first failure raises HiveScriptError."""
        raw_statements = split_statements(text)
        statements = [substitute(statement, variables) for statement in raw_statements]  # all, before any runs
        for number, (raw, statement) in enumerate(zip(raw_statements, statements, strict=True), 1):
            first = _first_line(raw)
            started = time.monotonic()
            try:
                rows = self._execute(statement)
            except Exception as error:
                raise HiveScriptError(f"statement {number} ({first}) failed: {_one_line(error)}") from None
            affected = "" if rows is None else f", {rows} rows"
            log(f"statement {number}/{len(statements)}: {first} ({time.monotonic() - started:.1f} s{affected})")

    def sql(self, statement: str) -> list[tuple]:
        """Run one statement (variables already substituted) and return its rows as tuples."""
        return [tuple(row) for row in self.spark.sql(_translate(statement)).collect()]

    def stop(self) -> None:
        """Stop the session and its JVM (which releases the Derby metastore); ``shared`` starts anew afterwards."""
        from pyspark import SparkContext

        with HiveEngine._lock:
            self.spark.stop()
            gateway = SparkContext._gateway
            if gateway is not None:
                jvm_pid = gateway.jvm.java.lang.ProcessHandle.current().pid()
                gateway.shutdown()
                process = getattr(gateway, "proc", None)
                if process is not None:  # the JVM exits when its stdin closes
                    process.stdin.close()
                    process.wait(timeout=60)
                SparkContext._gateway = SparkContext._jvm = None
                _wait_for_exit(jvm_pid, timeout=60)
            if HiveEngine._instance is self:
                HiveEngine._instance = None

    def _execute(self, statement: str) -> int | None:
        """Run a statement; the rows it wrote (for writes Spark counts) or returned (for queries), else None."""
        frame = self.spark.sql(_translate(statement))
        rows = frame.collect()
        plan = frame._jdf.queryExecution().executedPlan()
        if plan.nodeName() != "CommandResult":
            return len(rows)
        command = plan.commandPhysicalPlan()
        while command.nodeName() in ("AdaptiveSparkPlan", "ResultQueryStage"):  # a write after a shuffle
            command = command.executedPlan() if command.nodeName() == "AdaptiveSparkPlan" else command.plan()
        metric = command.metrics().get("numOutputRows")
        return int(metric.get().value()) if metric.isDefined() else None


def _wait_for_exit(pid: int, timeout: float) -> None:
    """Wait until process ``pid`` has exited (the JVM takes a few seconds for its shutdown hooks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the Spark JVM (pid {pid}) did not exit within {timeout:.0f} s")
