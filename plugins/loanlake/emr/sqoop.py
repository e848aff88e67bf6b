"""Sqoop export as an EMR step: a Hive step's text files into a MySQL staging table.

The input format is a contract with the Hive table that writes the files::

    ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\001' LINES TERMINATED BY '\\n' NULL DEFINED AS '\\N'
    STORED AS TEXTFILE

with no ``ESCAPED BY``, no partitions (Sqoop reads the files directly in ``export_dir``, a subfolder fails the
job), and values free of ``\\001``, ``\\n`` and ``\\r`` (the Hive step must clean or quarantine them). Why no
escape character: Sqoop unescapes a field before it compares it with the null string, so with
``--input-escaped-by '\\\\'`` Hive's ``\\N`` arrives as the letter ``N``: a NULL string becomes ``'N'`` and a
NULL number fails the export. And Hadoop splits records at every newline and carriage return before Sqoop
sees an escape, so an escaped line break cannot survive either.

The export is not atomic: each mapper commits every 100 statements, and a failed job leaves the rows its
mappers committed. That is why it fills a staging table (no ``--update-key``) that the DAG swaps in later.
Sqoop ships with EMR up to 7.4.0; from 7.5 on the replacement is a Spark JDBC step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loanlake.emr.steps import ActionOnFailure

JDBC_MYSQL = re.compile(r"^jdbc:mysql://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[A-Za-z0-9_]+(\?\S*)?$")
CREDENTIALS = re.compile(r"@|[?&](user|password[0-9]?|pwd)=", re.IGNORECASE)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
S3_OBJECT = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S*[^/\s]$")
S3_FOLDER = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$")

# command-runner.jar runs the command without a shell: Sqoop gets these strings as they are. It reads
# '\001' as octal 1 (^A) and '\n' as a newline (SqoopOptions.toChar), and pastes the null strings into the
# Java class it generates, where '\\N' compiles to Hive's two characters \N (a single backslash fails javac).
HIVE_TEXT_INPUT = (
    "--input-fields-terminated-by",
    "\\001",
    "--input-lines-terminated-by",
    "\\n",
    "--input-null-string",
    "\\\\N",
    "--input-null-non-string",
    "\\\\N",
)


@dataclass(frozen=True)
class SqoopExport:
    """One EMR step that exports Hive text files into a MySQL table; the password stays in an S3 file."""

    name: str
    connect: str  # jdbc:mysql://host[:port]/database, without credentials
    username: str
    password_file: str  # s3:// object holding exactly the password (no trailing newline), read through EMRFS
    table: str
    export_dir: str  # s3:// folder of the Hive export table's files
    columns: tuple[str, ...]  # the table's columns in the files' field order
    num_mappers: int = 4  # parallel writers, each with its own connection and transactions
    batch: bool = False  # JDBC batches of single-row INSERTs instead of multi-row INSERTs
    records_per_statement: int = 100
    action_on_failure: ActionOnFailure = "CANCEL_AND_WAIT"

    def __post_init__(self) -> None:
        if isinstance(self.columns, str):
            raise ValueError("columns must be a sequence of column names, not one string")
        object.__setattr__(self, "columns", tuple(self.columns))
        _check_connection(self.connect, self.username, self.password_file)
        _check_target(self.table, self.columns)
        if not S3_FOLDER.match(self.export_dir):
            raise ValueError(f"export_dir must be an s3:// folder, got {self.export_dir!r}")
        if not self.name.strip():
            raise ValueError("name must not be empty")
        for option in ("num_mappers", "records_per_statement"):
            if getattr(self, option) < 1:
                raise ValueError(f"{option} must be at least 1, got {getattr(self, option)}")

    def to_emr(self) -> dict[str, Any]:
        args = ["sqoop", "export", f"-Dsqoop.export.records.per.statement={self.records_per_statement}"]
        args += ["--connect", self.connect, "--username", self.username, "--password-file", self.password_file]
        args += ["--table", self.table, "--columns", ",".join(self.columns), "--export-dir", self.export_dir]
        args += [*HIVE_TEXT_INPUT, "--num-mappers", str(self.num_mappers)]
        if self.batch:
            args.append("--batch")
        return {
            "Name": self.name,
            "ActionOnFailure": self.action_on_failure,
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args},
        }


def _check_connection(connect: str, username: str, password_file: str) -> None:
    """Where and as whom Sqoop connects; the URL is only quoted back once it is known to hold no secret."""
    if CREDENTIALS.search(connect):
        raise ValueError("connect must not carry credentials (user:password@ or user=/password=): use password_file")
    if not JDBC_MYSQL.match(connect):
        raise ValueError(f"connect must be a jdbc:mysql://host[:port]/database URL, got {connect!r}")
    if not re.fullmatch(r"\S+", username):
        raise ValueError(f"username must be one word, got {username!r}")
    if not S3_OBJECT.match(password_file):
        raise ValueError(f"password_file must be an s3:// object URI (Sqoop reads it via EMRFS), got {password_file!r}")


def _check_target(table: str, columns: Sequence[str]) -> None:
    if not IDENTIFIER.match(table):
        raise ValueError(f"table must be a plain MySQL identifier, got {table!r}")
    if not columns:
        raise ValueError("columns must name at least one column")
    bad = [column for column in columns if not IDENTIFIER.match(column)]
    if bad:
        raise ValueError(f"columns must be plain MySQL identifiers, got {bad}")
    lowered = [column.lower() for column in columns]
    if len(set(lowered)) != len(lowered):
        raise ValueError(f"columns must not repeat (MySQL names ignore case): {list(columns)}")
