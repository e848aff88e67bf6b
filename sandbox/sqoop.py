"""``sqoop export`` steps in the sandbox: text files from S3 into the local MySQL, read as Sqoop 1.4.7 reads them.

What Sqoop does, and so what this does:

- Arguments: Hadoop's ``-D`` properties first, then the export options; an unknown option fails the job.
  Character options follow ``SqoopOptions.toChar`` (``\\001`` is octal 1, ``\\n`` a newline); the null
  strings are pasted into Java source, so ``\\\\N`` means ``\\N`` and a lone ``\\N`` does not compile.
- Records: Hadoop's LineRecordReader ends a record at ``\\n``, ``\\r`` or ``\\r\\n`` before Sqoop looks at
  it, so a carriage return is never part of the last field and no escape can keep a line break in a value.
- Fields: Sqoop's RecordParser splits at the field delimiter; with ``--input-escaped-by`` the character
  after the escape is taken literally (``\\n`` gives ``n``, ``\\N`` gives ``N``); a dangling escape is dropped.
- NULLs are decided after unescaping, as the generated class does: a text column is NULL when it equals
  ``--input-null-string``, any other column when it equals ``--input-null-non-string`` or is empty.
- Writes: ``--columns`` (default: all) of ``--table``, ``sqoop.export.records.per.statement`` rows per
  INSERT, a commit every ``sqoop.export.statements.per.transaction`` statements, like one export mapper.
  The export is not atomic: a failure rolls back the open transaction only, and the rows committed before
  it stay (hence the DAG's staging table).

Where the sandbox differs: one writer instead of ``--num-mappers``, and an INSERT never spans two files;
a record whose field count differs from the columns fails (Sqoop ignores surplus fields and may take
missing ones as NULL); a record that is not UTF-8 fails (Hadoop substitutes U+FFFD); a delimiter option of
several characters fails (Sqoop warns and takes the first); values are converted
by MySQL in strict mode instead of by Java; only files directly in ``--export-dir`` are read, as in Sqoop,
but its subfolders (Hive partitions) fail the job by name.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, BinaryIO

import MySQLdb

Log = Callable[[str], None]

INVALID = "Invalid step arguments"
UNSUPPORTED = "Not supported by the sandbox"
FAILED = "Sqoop export failed"

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
JDBC_MYSQL = re.compile(r"^jdbc:mysql://(?P<host>[^/:?#@]+)(:(?P<port>[0-9]+))?/(?P<database>[^/?#]+)(\?.*)?$")
S3_URI = re.compile(r"^s3[an]?://(?P<bucket>[^/]+)/(?P<key>.*)$")
LINE_END = re.compile(rb"\r\n|\r|\n")
TEXT_TYPES = frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json"})
CHAR_ESCAPES = {"b": "\b", "n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\"}
JAVA_ESCAPES = {**CHAR_ESCAPES, "f": "\f"}
JAVA_ESCAPE = re.compile(r'\\([0-3][0-7]{0,2}|[4-7][0-7]?|.)|\\$|"', re.DOTALL)

VALUE_OPTIONS = frozenset(
    {
        "--connect",
        "--username",
        "--password-file",
        "--table",
        "--columns",
        "--export-dir",
        "--input-fields-terminated-by",
        "--input-lines-terminated-by",
        "--input-escaped-by",
        "--input-null-string",
        "--input-null-non-string",
        "--num-mappers",
    }
)
FLAGS = frozenset({"--batch"})
ALIASES = {"-m": "--num-mappers"}
PROPERTIES = {
    "sqoop.export.records.per.statement": "records_per_statement",
    "sqoop.export.statements.per.transaction": "statements_per_transaction",
}
REFUSED = {
    "--password": "puts the password in the step's arguments, which the EMR console and API show: use --password-file",
    "-P": "reads the password from a console, which a step does not have: use --password-file",
}
NOT_SUPPORTED = frozenset(
    {
        "--update-key",
        "--update-mode",
        "--staging-table",
        "--clear-staging-table",
        "--direct",
        "--call",
        "--input-enclosed-by",
        "--input-optionally-enclosed-by",
        "--hcatalog-database",
        "--hcatalog-table",
        "--driver",
        "--connection-manager",
        "--connection-param-file",
        "--password-alias",
        "--validate",
    }
)


class SqoopError(Exception):
    """A failed export: its reason and message become the step's FailureDetails."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class BadRecord(ValueError):
    """A line Sqoop's generated class cannot load."""


# -- arguments ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    text: bool  # a column Sqoop maps to a Java String: compared with --input-null-string


@dataclass(frozen=True)
class RecordFormat:
    """How Sqoop's generated class turns one record into column values."""

    delimiter: str = ","
    escape: str | None = None
    null_string: str = "null"
    null_non_string: str = "null"

    def values(self, line: str, columns: Sequence[Column]) -> tuple[str | None, ...]:
        fields = split_fields(line, self.delimiter, self.escape)
        if len(fields) != len(columns):
            names = ", ".join(column.name for column in columns)
            raise BadRecord(f"{len(fields)} fields for {len(columns)} columns ({names})")
        return tuple(self._value(field, column.text) for field, column in zip(fields, columns, strict=True))

    def _value(self, field: str, text: bool) -> str | None:
        if text:
            return None if field == self.null_string else field
        return None if field in (self.null_non_string, "") else field


@dataclass(frozen=True)
class SqoopExportArgs:
    """A ``sqoop export`` command line, parsed."""

    connect: str
    table: str
    export_dir: str
    username: str | None
    password_file: str | None
    columns: tuple[str, ...] | None
    record_format: RecordFormat
    num_mappers: int = 4
    batch: bool = False
    records_per_statement: int = 100
    statements_per_transaction: int = 100


def is_sqoop_export(jar: str, args: Sequence[str]) -> bool:
    return jar.endswith("command-runner.jar") and list(args[:2]) == ["sqoop", "export"]


def parse_export_args(args: Sequence[str]) -> SqoopExportArgs:
    """The options of ``sqoop export ...``; anything Sqoop would refuse, or the sandbox cannot do, raises."""
    properties, rest = _properties(list(args[2:]))
    values, flags = _options(rest)
    missing = [option for option in ("--connect", "--table", "--export-dir") if option not in values]
    if missing:
        raise SqoopError(INVALID, f"sqoop export: {', '.join(missing)} required")
    return SqoopExportArgs(
        connect=values["--connect"],
        table=values["--table"],
        export_dir=values["--export-dir"],
        username=values.get("--username"),
        password_file=values.get("--password-file"),
        columns=_columns(values["--columns"]) if "--columns" in values else None,
        record_format=_record_format(values),
        num_mappers=_count("--num-mappers", values.get("--num-mappers", "4")),
        batch="--batch" in flags,
        **{PROPERTIES[name]: _count(f"-D {name}", value) for name, value in properties.items()},
    )


def _properties(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """Hadoop's generic ``-D name=value`` options, which must come before the tool's own."""
    properties = {}
    while args and args[0].startswith("-D"):
        definition = args[1] if args[0] == "-D" and len(args) > 1 else args[0][2:]
        args = args[2:] if args[0] == "-D" else args[1:]
        name, equals, value = definition.partition("=")
        if not equals:
            raise SqoopError(INVALID, f"-D needs name=value, got {definition!r}")
        if name not in PROPERTIES:
            raise SqoopError(UNSUPPORTED, f"-D {name}: the sandbox only reads {', '.join(PROPERTIES)}")
        properties[name] = value
    return properties, args


def _options(args: list[str]) -> tuple[dict[str, str], set[str]]:
    values: dict[str, str] = {}
    flags: set[str] = set()
    rest = iter(args)
    for arg in rest:
        option = ALIASES.get(arg, arg)
        if option in FLAGS:
            flags.add(option)
        elif option in VALUE_OPTIONS:
            value = next(rest, None)
            if value is None:
                raise SqoopError(INVALID, f"Error parsing arguments for export: {option} needs a value")
            values[option] = value
        elif option in REFUSED:
            raise SqoopError(UNSUPPORTED, f"{option} {REFUSED[option]}")
        elif option in NOT_SUPPORTED:
            raise SqoopError(UNSUPPORTED, f"{option}: a Sqoop option the sandbox does not support")
        else:
            hint = " (Hadoop's -D options go right after 'export')" if arg.startswith("-D") else ""
            raise SqoopError(INVALID, f"Error parsing arguments for export: Unrecognized argument: {arg}{hint}")
    return values, flags


def _columns(value: str) -> tuple[str, ...]:
    columns = tuple(name.strip() for name in value.split(","))
    if not all(columns):
        raise SqoopError(INVALID, f"--columns has an empty name: {value!r}")
    return columns


def _count(option: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise SqoopError(INVALID, f"{option} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _record_format(values: dict[str, str]) -> RecordFormat:
    """Sqoop's input delimiters; an option left out (or given as NUL) keeps Sqoop's default."""
    lines = sqoop_char("--input-lines-terminated-by", values.get("--input-lines-terminated-by", "\\n"))
    if lines not in (None, "\n"):
        raise SqoopError(UNSUPPORTED, "--input-lines-terminated-by: records end at \\n, \\r or \\r\\n in Hadoop")
    nulls = {
        name: java_string(option, values[option])
        for name, option in (("null_string", "--input-null-string"), ("null_non_string", "--input-null-non-string"))
        if option in values
    }
    return RecordFormat(
        delimiter=sqoop_char("--input-fields-terminated-by", values.get("--input-fields-terminated-by", ",")) or ",",
        escape=sqoop_char("--input-escaped-by", values.get("--input-escaped-by", "\\0")),
        **nulls,
    )


def sqoop_char(option: str, value: str) -> str | None:
    """A character as ``SqoopOptions.toChar`` reads it: ``x``, ``\\t``, ``\\0ooo`` (octal), ``\\0xhh``; None: NUL."""
    try:
        if value[:3] in ("\\0x", "\\0X"):
            char = chr(int(value[3:], 16))
        elif value.startswith("\\0"):
            char = chr(int(value[2:] or "0", 8))
        elif value == "\\":
            char = "\\"
        elif value.startswith("\\"):
            char = CHAR_ESCAPES[value[1:]]
        elif len(value) == 1:
            char = value
        else:
            raise ValueError
    except (KeyError, ValueError):
        raise SqoopError(INVALID, f"{option}: cannot understand character argument {value!r}") from None
    return None if char == "\0" else char


def java_string(option: str, value: str) -> str:
    """The string a Java string literal holding ``value`` compiles to (Sqoop pastes the null strings into Java)."""

    def unescape(match: re.Match[str]) -> str:
        code = match[1]
        if code is None or not (code[0].isdigit() or code in JAVA_ESCAPES):
            raise SqoopError(
                INVALID,
                f"{option} {value!r} does not compile in Sqoop's generated Java: "
                "a backslash is written \\\\ (Hive's \\N is '\\\\N') and a double quote \\\"",
            )
        return chr(int(code, 8)) if code[0].isdigit() else JAVA_ESCAPES[code]

    return JAVA_ESCAPE.sub(unescape, value)


# -- records -----------------------------------------------------------------------------------------


def read_lines(binary: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` per record, split where Hadoop's LineRecordReader splits: \\n, \\r, \\r\\n."""
    number = 0
    for chunk in binary:  # chunks end at \n, so a \r\n is never cut in two
        pieces = LINE_END.split(chunk)
        if not pieces[-1]:
            pieces.pop()
        for piece in pieces:
            number += 1
            yield number, piece


def split_fields(line: str, delimiter: str, escape: str | None) -> list[str]:
    """The fields of a record as Sqoop's RecordParser splits them (no enclosing character)."""
    if not line:
        return []
    if escape is None or escape not in line:
        return line.split(delimiter)
    fields: list[str] = []
    value: list[str] = []
    escaped = False
    for char in line:
        if escaped:
            value.append(char)
            escaped = False
        elif char == escape:
            escaped = True
        elif char == delimiter:
            fields.append("".join(value))
            value = []
        else:
            value.append(char)
    fields.append("".join(value))
    return fields


# -- the table ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    database: str


def parse_connect(connect: str) -> Target:
    """Host, port and database of ``jdbc:mysql://host[:port]/database``, which must be the sandbox's MySQL."""
    match = JDBC_MYSQL.match(connect)
    if match is None:
        raise SqoopError(INVALID, f"--connect must be jdbc:mysql://host[:port]/database, got {connect!r}")
    if match["host"] not in _sandbox_hosts():
        raise SqoopError(UNSUPPORTED, f"--connect {connect}: the sandbox only exports to its own MySQL")
    return Target(match["host"], int(match["port"] or 3306), match["database"])


def _sandbox_hosts() -> frozenset[str]:
    from sandbox.site import SandboxSettings

    return LOOPBACK | {SandboxSettings().mysql["host"]}


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def table_columns(cursor: Any, target: Target, table: str, wanted: tuple[str, ...] | None) -> list[Column]:
    """The columns the records fill, in field order; a table or column MySQL lacks fails as in Sqoop."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (target.database, table),
    )
    found = {name.lower(): Column(name, kind.lower() in TEXT_TYPES) for name, kind in cursor.fetchall()}
    if not found:
        raise SqoopError(FAILED, f"Table {target.database}.{table} does not exist (No columns to generate)")
    if wanted is None:
        return list(found.values())
    unknown = [name for name in wanted if name.lower() not in found]
    if unknown:
        raise SqoopError(FAILED, f"Column name '{unknown[0]}' not in table {table}")
    return [found[name.lower()] for name in wanted]


class ExportFailure(Exception):
    """Where the export stopped: a record that does not load, or an INSERT MySQL refused."""

    def __init__(self, uri: str, lines: tuple[int, int], reason: str, record: str | None = None) -> None:
        first, last = lines
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        super().__init__(f"{uri} {where}: {reason}")
        self.uri, self.where, self.reason, self.record = uri, where, reason, record


class TableWriter:
    """INSERTs as an export mapper sends them: N records per statement, a commit every M statements."""

    def __init__(self, connection: Any, table: str, columns: Sequence[Column], export: SqoopExportArgs) -> None:
        names = ", ".join(quote(column.name) for column in columns)
        places = ", ".join(["%s"] * len(columns))
        self._sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({places})"  # noqa: S608 (quoted names)
        self._connection = connection
        self._per_statement = export.records_per_statement
        self._per_transaction = export.statements_per_transaction
        self._rows: list[tuple[str | None, ...]] = []
        self._lines = (0, 0)
        self._statements = 0
        self.sent = 0
        self.committed = 0

    def add(self, uri: str, line: int, values: tuple[str | None, ...]) -> None:
        self._lines = (self._lines[0] if self._rows else line, line)
        self._rows.append(values)
        if len(self._rows) >= self._per_statement:
            self.flush(uri)

    def flush(self, uri: str) -> None:
        """Send the pending records as one statement (a file's last records too: no statement spans files)."""
        if not self._rows:
            return
        try:
            self._connection.cursor().executemany(self._sql, self._rows)
        except MySQLdb.Error as error:
            raise ExportFailure(uri, self._lines, f"MySQL refused the INSERT: {error.args[-1]}") from None
        self.sent += len(self._rows)
        self._rows = []
        self._statements += 1
        if self._statements % self._per_transaction == 0:
            self.commit()

    def commit(self) -> None:
        self._connection.commit()
        self.committed = self.sent


# -- the export --------------------------------------------------------------------------------------


def run_export(args: Sequence[str], s3: Any, log: Log) -> int:
    """Run a ``sqoop export`` step against the sandbox's S3 and MySQL; the number of records exported."""
    export = parse_export_args(args)
    target = parse_connect(export.connect)
    password = read_password(s3, export.password_file)
    bucket, keys = input_files(s3, export.export_dir)
    _log(log, "INFO", "mapreduce.ExportJobBase", f"Beginning export of {export.table}")
    _log(log, "INFO", "input.FileInputFormat", f"Total input files to process : {len(keys)}")
    statement = "JDBC batches" if export.batch else "INSERTs"
    log(
        f"sandbox: one writer stands in for --num-mappers {export.num_mappers}; {statement} of "
        f"{export.records_per_statement} records, a commit every {export.statements_per_transaction} statements"
    )
    with closing(_connect(target, export.username, password)) as connection:
        columns = table_columns(connection.cursor(), target, export.table, export.columns)
        writer = TableWriter(connection, export.table, columns, export)
        try:
            for key in keys:
                _export_file(s3, bucket, key, export.record_format, columns, writer)
            writer.commit()
        except ExportFailure as failure:
            connection.rollback()
            _log_failure(log, failure, writer.committed, export.table)
            raise SqoopError(FAILED, f"Export job failed! {failure}") from None
    _log(log, "INFO", "mapreduce.ExportJobBase", f"Exported {writer.committed} records.")
    return writer.committed


def read_password(s3: Any, uri: str | None) -> str | None:
    """The password file's content exactly as stored: Sqoop keeps a trailing newline as part of the password."""
    if uri is None:
        return None
    bucket, key = _split(uri, "--password-file")
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket):
        raise SqoopError(FAILED, f"The provided password file {uri} does not exist!") from None


def input_files(s3: Any, export_dir: str) -> tuple[str, list[str]]:
    """The bucket and the keys of the data files directly in ``--export-dir`` (Hadoop skips ``_*`` and ``.*``)."""
    bucket, key = _split(export_dir, "--export-dir")
    prefix = f"{key.strip('/')}/" if key.strip("/") else ""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = sorted(item["Key"] for page in pages for item in page.get("Contents", []))
    if not keys:
        raise SqoopError(FAILED, f"Input path does not exist: {export_dir}")
    files = []
    for found in keys:
        name, slash, _ = found[len(prefix) :].partition("/")
        if not name or name.startswith(("_", ".")):
            continue
        if slash:
            raise SqoopError(FAILED, f"Path is not a file: s3://{bucket}/{prefix}{name} (--export-dir must be flat)")
        files.append(found)
    return bucket, files


def _split(uri: str, option: str) -> tuple[str, str]:
    match = S3_URI.match(uri)
    if match is None:
        raise SqoopError(UNSUPPORTED, f"{option} {uri}: the sandbox reads s3:// paths only")
    return match["bucket"], match["key"]


def _connect(target: Target, username: str | None, password: str | None) -> Any:
    """A connection as Sqoop's mapper has one: autocommit off, and strict SQL mode for bad values."""
    login = {"user": username} if username is not None else {}
    try:
        connection = MySQLdb.connect(
            host=target.host,
            port=target.port,
            database=target.database,
            password=password or "",
            charset="utf8mb4",
            connect_timeout=10,
            **login,
        )
    except MySQLdb.Error as error:
        raise SqoopError(FAILED, f"Cannot connect to jdbc:mysql://{target.host}:{target.port}: {error}") from None
    connection.cursor().execute("SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')")
    return connection


def _export_file(
    s3: Any, bucket: str, key: str, record_format: RecordFormat, columns: Sequence[Column], writer: TableWriter
) -> None:
    uri = f"s3://{bucket}/{key}"
    with tempfile.TemporaryFile() as handle:
        s3.download_fileobj(bucket, key, handle)
        handle.seek(0)
        for number, raw in read_lines(handle):
            try:
                values = record_format.values(raw.decode(), columns)
            except (UnicodeDecodeError, BadRecord) as error:
                reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else str(error)
                raise ExportFailure(uri, (number, number), reason, raw.decode(errors="replace")) from None
            writer.add(uri, number, values)
    writer.flush(uri)


def _log(log: Log, level: str, logger: str, message: str) -> None:
    """A line in Sqoop's console format (``yy/MM/dd HH:mm:ss LEVEL logger: message``)."""
    log(f"{time.strftime('%y/%m/%d %H:%M:%S')} {level} {logger}: {message}")


def _log_failure(log: Log, failure: ExportFailure, committed: int, table: str) -> None:
    for message in (
        "Exception raised during data export",
        f"Exception: {failure.reason}",
        f"On input: {failure.record!r}" if failure.record is not None else "On input: the records of one INSERT",
        f"On input file: {failure.uri}",
        f"At {failure.where}",
    ):
        _log(log, "ERROR", "mapreduce.TextExportMapper", message)
    _log(log, "ERROR", "mapreduce.ExportJobBase", "Export job failed!")
    _log(log, "ERROR", "tool.ExportTool", "Error during export: Export job failed!")
    log(f"sandbox: {committed} records committed before the failure stay in {table}: an export is not atomic")
