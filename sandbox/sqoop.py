"""``sqoop export`` steps in the sandbox: text files from S3 into the local MySQL, read as Sqoop 1.4.7 reads them.

What Sqoop does, and so what this does:

- Arguments: Hadoop's ``-D`` properties first, then the export options; an unknown option fails the job.
  Character options follow ``SqoopOptions.toChar`` (``\\001`` is octal 1, ``\\n`` a newline); the null
  strings are pasted into Java source, so ``\\\\N`` means ``\\N`` and a lone ``\\N`` does not compile.
- Splits and mappers: the input files' bytes (in name order) are cut into ``--num-mappers`` ranges of about
  equal size, as Sqoop's ExportInputFormat (a CombineFileInputFormat) cuts them, and each range is exported
  by a mapper of its own: a thread with its own MySQL connection and transactions. A mapper loads the
  records that start in its range, the last one read to its end, as Hadoop's LineRecordReader does.
- Records: LineRecordReader ends a record at ``\\n``, ``\\r`` or ``\\r\\n`` before Sqoop looks at it, so a
  carriage return is never part of the last field and no escape can keep a line break in a value.
- Fields: Sqoop's RecordParser splits at the field delimiter; with ``--input-escaped-by`` the character
  after the escape is taken literally (``\\n`` gives ``n``, ``\\N`` gives ``N``); a dangling escape is dropped.
- NULLs are decided after unescaping, as the generated class does: a text column is NULL when it equals
  ``--input-null-string``, any other column when it equals ``--input-null-non-string`` or is empty.
- Writes: ``--columns`` (default: all) of ``--table``; each mapper sends multi-row INSERTs of
  ``sqoop.export.records.per.statement`` records and commits every ``sqoop.export.statements.per.transaction``
  statements and at the end of its range. The export is not atomic: a failing mapper rolls back its open
  transaction only, what it committed before stays, and so do the ranges the other mappers committed
  (hence the DAG's staging table).

How: without an escape character (the project's Hive text format), a mapper parses its records a few MB at a
time with pyarrow's CSV reader (quoting off, the delimiter, the null string as its null value) and builds
each INSERT's text column by column with pyarrow compute, every value a MySQL string literal (MySQL converts it
to the column's type, in strict mode); no Python runs per value. A block the reader refuses (a wrong
field count, an empty line, bytes that are not UTF-8) is read again record by record, so the failure names its
file, line and reason and the records before it are loaded as Sqoop would load them. With an escape character
every record goes through Sqoop's parser rules in Python (``split_fields``) and MySQLdb.

Where the sandbox differs: a mapper that fails is not retried (Hadoop tries a map task four times) and the
other mappers finish their ranges; an INSERT never spans two files; a record whose field count differs from
the columns fails (Sqoop ignores surplus fields and may take missing ones as NULL); a record that is not UTF-8
fails (Hadoop substitutes U+FFFD); a delimiter option of several characters fails (Sqoop warns and takes the
first); values are converted by MySQL in strict mode instead of by Java; only files directly in
``--export-dir`` are read, as in Sqoop, but its subfolders (Hive partitions) fail the job by name.
"""

from __future__ import annotations

import re
import threading
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


# -- input splits ------------------------------------------------------------------------------------

BLOCK_BYTES = 8 << 20  # how much of its range a mapper reads, parses and sends at a time
PEEK_BYTES = 64 << 10  # how far past its range a mapper reads for the end of its last record
ROW_NUMBER = re.compile(r"\bat row (\d+)\s*$")  # MySQL's "... at row 37": the statement's 37th record
NULL_MARK = "\n"  # stands for NULL while rows are built: no record holds a line break
NULL_LITERAL = f"'{NULL_MARK}'".encode()


@dataclass(frozen=True)
class InputFile:
    key: str
    size: int


@dataclass(frozen=True)
class Segment:
    """Bytes ``[start, end)`` of one input file, part of a mapper's split."""

    key: str
    start: int
    end: int
    size: int  # of the whole file


def plan_splits(files: Sequence[InputFile], mappers: int) -> list[list[Segment]]:
    """The input's bytes, files in order, cut into at most ``mappers`` splits of about equal size.

    As Sqoop's ExportInputFormat does (CombineFileInputFormat, maximum split size total / mappers): a split may
    take the end of one file and the start of the next, and a large file is shared by several splits.
    """
    total = sum(file.size for file in files)
    if total == 0:
        return []
    size = -(-total // mappers)
    splits: list[list[Segment]] = []
    current: list[Segment] = []
    room = size
    for file in files:
        position = 0
        while position < file.size:
            take = min(room, file.size - position)
            current.append(Segment(file.key, position, position + take, file.size))
            position += take
            room -= take
            if room == 0:
                splits.append(current)
                current, room = [], size
    if current:
        splits.append(current)
    return splits


class S3Object:
    """Ranged reads of one input file in the sandbox's S3."""

    def __init__(self, s3: Any, bucket: str, key: str, size: int) -> None:
        self._s3 = s3
        self.bucket, self.key, self.size = bucket, key, size
        self.uri = f"s3://{bucket}/{key}"

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``."""
        if start >= end:
            return b""
        response = self._s3.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end - 1}")
        return response["Body"].read()

    def stream(self, start: int, end: int, chunk: int) -> Iterator[bytes]:
        """Bytes ``[start, end)`` in pieces of ``chunk`` bytes, from one request."""
        if start >= end:
            return
        body = self._s3.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end - 1}")["Body"]
        with closing(body):
            yield from iter(lambda: body.read(chunk), b"")

    def line_number(self, offset: int) -> int:
        """The line (1-based) of the record that starts at byte ``offset``: one more than the records before it."""
        before = self.read(0, offset)
        return 1 + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")


def _line_end(data: bytes, index: int, at_eof: bool) -> int | None:
    """Index just past the first line terminator at or after ``index``; None until more data can tell."""
    match = LINE_END.search(data, index)
    if match is None:
        return len(data) if at_eof else None
    if match.group() == b"\r" and match.end() == len(data) and not at_eof:
        return None  # a \n may follow in the next bytes
    return match.end()


def record_blocks(
    source: S3Object, start: int, end: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[tuple[int, bytes]]:
    """``(offset, bytes)`` blocks of the whole records that start in bytes ``[start, end)`` of the file.

    Hadoop's rule: a split that does not start the file skips the record in progress at its start (the split
    before reads it to its end), and the last record starting in the split is read past its end.
    """
    begin = max(start - 1, 0)  # the byte before the range tells whether a record starts right at ``start``
    pieces = source.stream(begin, min(end + PEEK_BYTES, source.size), block_bytes)
    data, base = b"", begin  # base: the file offset of data[0]

    def pull() -> bool:
        nonlocal data
        piece = next(pieces, None)
        if piece is None:
            fetched = base + len(data)
            piece = source.read(fetched, min(fetched + PEEK_BYTES, source.size))
        data += piece
        return bool(piece)

    def at_eof() -> bool:
        return base + len(data) >= source.size

    if start > 0:
        while (skip := _line_end(data, 0, at_eof())) is None:
            if not pull():
                return
        data, base = data[skip:], base + skip
    while base < end:
        if base + len(data) >= end:  # the record holding byte end - 1 is the split's last
            last = _line_end(data, end - 1 - base, at_eof())
            if last is not None:
                yield base, data[:last]
                return
        else:
            cut = max(data.rfind(b"\n"), data.rfind(b"\r", 0, len(data) - 1)) + 1
            if cut:
                yield base, data[:cut]
                data, base = data[cut:], base + cut
        if not pull():
            if data:
                yield base, data
            return


def record_spans(block: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of each record of a block of whole records, terminators left out."""
    spans, start = [], 0
    for match in LINE_END.finditer(block):
        spans.append((start, match.start()))
        start = match.end()
    if start < len(block):
        spans.append((start, len(block)))
    return spans


# -- rows as SQL -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """Records as the row constructors of a multi-row INSERT: ``data[offsets[i]:offsets[i + 1]]`` is
    ``(...),`` for record ``i``; NULL may still be written as the marker ``'\\n'``."""

    data: Any  # bytes or a buffer
    offsets: Any  # count + 1 positions

    @property
    def count(self) -> int:
        return len(self.offsets) - 1

    def part(self, first: int, last: int) -> bytes:
        return bytes(memoryview(self.data)[int(self.offsets[first]) : int(self.offsets[last])])


def literal_rows(connection: Any, records: Sequence[tuple[str | None, ...]]) -> Rows:
    """Values as MySQL literals, escaped by the client library as MySQLdb escapes its parameters."""
    parts = [
        b"(" + b",".join(b"NULL" if v is None else connection.string_literal(v.encode()) for v in values) + b"),"
        for values in records
    ]
    offsets = [0]
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    return Rows(b"".join(parts), offsets)


class ArrowEncoder:
    """Blocks of records straight into INSERT rows with pyarrow: parsed as Sqoop splits them, no Python per value.

    For formats without an escape character and with a one-byte delimiter; ``encode`` answers None for a block
    it cannot read exactly as Sqoop would (an empty line, a wrong field count, bytes that are not UTF-8), which
    then goes record by record.
    """

    def __init__(self, columns: Sequence[Column], record_format: RecordFormat, escapes: Sequence[tuple[str, str]]):
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        self._pa = pa
        self._texts = [column.text for column in columns]
        self._format = record_format
        self._escapes = escapes
        self._one_null = record_format.null_string == record_format.null_non_string
        names = [f"f{index}" for index in range(len(columns))]
        self._read = pa_csv.ReadOptions(column_names=names, use_threads=True)
        self._parse = pa_csv.ParseOptions(
            delimiter=record_format.delimiter,
            quote_char=False,
            double_quote=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
        )
        nulls = [record_format.null_string] if self._one_null else []
        self._convert = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=nulls,
            strings_can_be_null=self._one_null,
            quoted_strings_can_be_null=False,
        )

    @staticmethod
    def reads(record_format: RecordFormat) -> bool:
        delimiter = record_format.delimiter
        return record_format.escape is None and len(delimiter.encode()) == 1 and delimiter not in "\r\n"

    def encode(self, block: bytes) -> Rows | None:
        import numpy as np
        import pyarrow.csv as pa_csv

        pa = self._pa
        if block[:1] in (b"\n", b"\r") or any(empty in block for empty in (b"\n\n", b"\r\r", b"\n\r")):
            return None  # an empty line: pyarrow would fill it with empty fields, Sqoop finds no field at all
        try:
            table = pa_csv.read_csv(pa.BufferReader(block), self._read, self._parse, self._convert)
        except pa.ArrowInvalid:
            return None
        escapes = self._needed_escapes(block, table)
        data, offsets, size = [], [np.zeros(1, dtype=np.int64)], 0
        for batch in table.to_batches():
            rows = self._rows(batch, escapes)
            ends = np.frombuffer(rows.buffers()[1], dtype=np.int32)[rows.offset : rows.offset + len(rows) + 1]
            offsets.append(ends[1:].astype(np.int64) - ends[0] + size)
            data.append(memoryview(rows.buffers()[2])[ends[0] : ends[-1]])
            size += int(ends[-1] - ends[0])
        return Rows(b"".join(data), np.concatenate(offsets))

    def _rows(self, batch: Any, escapes: Sequence[tuple[str, str]]) -> Any:
        """``('v1','v2',...),`` per record, NULL as ``'\\n'``: every value quoted, escaped as MySQL reads it."""
        import pyarrow.compute as pc

        pa = self._pa
        no_value = pa.scalar(None, pa.string())
        columns = []
        for index, text in enumerate(self._texts):
            values = batch.column(index)
            if not self._one_null:
                null = self._format.null_string if text else self._format.null_non_string
                values = pc.if_else(pc.equal(values, null), no_value, values)
            if not text:  # an empty field is NULL for every column that is no string
                empty = pc.equal(pc.binary_length(values), 0)
                if pc.any(empty).as_py():
                    values = pc.if_else(empty, no_value, values)
            columns.append(values)
        for plain, escaped in escapes:
            columns = [
                pc.replace_substring(values, plain, escaped)
                if pc.any(pc.match_substring(values, plain)).as_py()
                else values
                for values in columns
            ]
        first = pc.fill_null(columns[0], NULL_MARK)
        columns[0] = pc.binary_join_element_wise("('", first, "")
        columns[-1] = pc.binary_join_element_wise(pc.fill_null(columns[-1], NULL_MARK), "'),", "")
        return pc.binary_join_element_wise(*columns, "','", null_handling="replace", null_replacement=NULL_MARK)

    def _needed_escapes(self, block: bytes, table: Any) -> list[tuple[str, str]]:
        """The escapes a block's values need: none for most blocks, found without looking at each value.

        A backslash that only the null markers hold (Hive's ``\\N``, counted by the parser as nulls) needs none.
        """
        needed = []
        for plain, escaped in self._escapes:
            found = plain.encode() in block
            if found and plain == "\\" and self._one_null:
                markers = sum(column.null_count for column in table.columns)
                found = block.count(b"\\") > markers * self._format.null_string.count("\\")
            if found:
                needed.append((plain, escaped))
        return needed


def escapes_for(sql_mode: str) -> list[tuple[str, str]]:
    """How a value becomes a MySQL string literal in this session: backslash escapes unless the mode forbids them."""
    if "NO_BACKSLASH_ESCAPES" in sql_mode.upper().split(","):
        return [("'", "''")]
    return [("\\", "\\\\"), ("'", "\\'"), ("\x00", "\\0")]


# -- writing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a statement's first record is: record ``index`` of the block read at ``offset``."""

    source: S3Object
    offset: int
    block: bytes
    index: int

    def record_offset(self) -> int:
        return self.offset + record_spans(self.block)[self.index][0]


class InsertWriter:
    """One mapper's INSERTs: ``records_per_statement`` rows each, a commit every ``statements_per_transaction``.

    Takes rows already written as SQL (``Rows``); a file's last rows go out as a shorter statement, so no
    statement spans two files. A statement MySQL refuses fails with the file, the line and the record.
    """

    def __init__(self, connection: Any, table: str, columns: Sequence[Column], export: SqoopExportArgs) -> None:
        names = ", ".join(quote(column.name) for column in columns)
        self._prefix = f"INSERT INTO {quote(table)} ({names}) VALUES ".encode()  # noqa: S608 (quoted names)
        self._connection = connection
        self._cursor = connection.cursor()
        self._per_statement = export.records_per_statement
        self._per_transaction = export.statements_per_transaction
        self._parts: list[bytes] = []
        self._pending = 0
        self._origin: Origin | None = None
        self._statements = 0
        self.sent = 0
        self.committed = 0

    def add(self, origin: Origin, rows: Rows) -> None:
        """Rows of the block ``origin`` names, from its record ``origin.index`` on."""
        first = 0
        while first < rows.count:
            if not self._pending:
                self._origin = Origin(origin.source, origin.offset, origin.block, origin.index + first)
            last = min(first + self._per_statement - self._pending, rows.count)
            self._parts.append(rows.part(first, last))
            self._pending += last - first
            first = last
            if self._pending == self._per_statement:
                self.flush()

    def flush(self) -> None:
        """Send the pending rows as one statement."""
        if not self._pending:
            return
        values = b"".join(self._parts)[:-1].replace(NULL_LITERAL, b"NULL")
        try:
            self._cursor.execute(self._prefix + values)
        except MySQLdb.Error as error:
            raise self._refused(error) from None
        self.sent += self._pending
        self._parts, self._pending = [], 0
        self._statements += 1
        if self._statements % self._per_transaction == 0:
            self.commit()

    def commit(self) -> None:
        self._connection.commit()
        self.committed = self.sent

    def _refused(self, error: MySQLdb.Error) -> ExportFailure:
        """The failure of the pending statement: its record when MySQL names one (``at row n``), else its lines."""
        assert self._origin is not None
        source, message = self._origin.source, str(error.args[-1])
        offset = self._origin.record_offset()
        first = source.line_number(offset)
        row = ROW_NUMBER.search(message)
        if row is None or not 1 <= int(row[1]) <= self._pending:
            return ExportFailure(source.uri, (first, first + self._pending - 1), f"MySQL refused the INSERT: {message}")
        number = int(row[1])
        record = _record_at(source, offset, number - 1)
        line = first + number - 1
        return ExportFailure(source.uri, (line, line), f"MySQL refused the INSERT: {message}", record)


def _record_at(source: S3Object, offset: int, skip: int) -> str | None:
    """The text of the record ``skip`` records after the one starting at ``offset``."""
    data = b""
    while True:
        more = source.read(offset + len(data), min(offset + len(data) + PEEK_BYTES, source.size))
        data += more
        spans = record_spans(data)
        complete = spans if not more or offset + len(data) >= source.size else spans[:-1]
        if len(complete) > skip:
            start, end = complete[skip]
            return data[start:end].decode(errors="replace")
        if not more:
            return None


# -- mappers -----------------------------------------------------------------------------------------


@dataclass
class MapperResult:
    """What a mapper did: the records it sent and committed, and its failure."""

    index: int
    segments: list[Segment]
    sent: int = 0
    committed: int = 0
    failure: ExportFailure | None = None
    error: BaseException | None = None  # anything else: a connection that failed, S3, a sandbox bug


@dataclass(frozen=True)
class Job:
    """What every mapper of one export shares."""

    export: SqoopExportArgs
    target: Target
    password: str | None
    bucket: str
    columns: list[Column]
    escapes: list[tuple[str, str]]
    s3: Any


def run_mapper(job: Job, result: MapperResult) -> None:
    """Export one split with a connection of its own; failures are recorded in ``result``, never raised."""
    try:
        with closing(_connect(job.target, job.export.username, job.password)) as connection:
            if ArrowEncoder.reads(job.export.record_format):
                writer: InsertWriter | TableWriter = InsertWriter(connection, job.export.table, job.columns, job.export)
                encoder = ArrowEncoder(job.columns, job.export.record_format, job.escapes)
                export = _fast_segment
            else:
                writer = TableWriter(connection, job.export.table, job.columns, job.export)
                encoder = None
                export = _record_by_record_segment
            try:
                for segment in result.segments:
                    source = S3Object(job.s3, job.bucket, segment.key, segment.size)
                    export(job, source, segment, writer, encoder, connection)
                writer.commit()
            except ExportFailure as failure:
                connection.rollback()
                result.failure = failure
            finally:
                result.sent, result.committed = writer.sent, writer.committed
    except Exception as error:  # reported by run_export once every mapper has ended
        result.error = error


def _fast_segment(job: Job, source: S3Object, segment: Segment, writer: Any, encoder: Any, connection: Any) -> None:
    """A segment's records through pyarrow; a block it cannot read goes record by record."""
    for offset, block in record_blocks(source, segment.start, segment.end):
        rows = encoder.encode(block)
        if rows is not None:
            writer.add(Origin(source, offset, block, 0), rows)
            continue
        records, failure = [], None
        for start, end in record_spans(block):
            raw = block[start:end]
            try:
                records.append(job.export.record_format.values(raw.decode(), job.columns))
            except (UnicodeDecodeError, BadRecord) as error:
                failure = (offset + start, raw, error)
                break
        if records:
            writer.add(Origin(source, offset, block, 0), literal_rows(connection, records))
        if failure is not None:
            position, raw, error = failure
            line = source.line_number(position)
            reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else str(error)
            raise ExportFailure(source.uri, (line, line), reason, raw.decode(errors="replace"))
    writer.flush()


def _record_by_record_segment(
    job: Job, source: S3Object, segment: Segment, writer: Any, encoder: Any, connection: Any
) -> None:
    """A segment's records through Sqoop's field rules in Python (formats with an escape character)."""
    line = None
    for offset, block in record_blocks(source, segment.start, segment.end):
        if line is None:
            line = source.line_number(offset)
        for start, end in record_spans(block):
            raw = block[start:end]
            try:
                values = job.export.record_format.values(raw.decode(), job.columns)
            except (UnicodeDecodeError, BadRecord) as error:
                reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else str(error)
                raise ExportFailure(source.uri, (line, line), reason, raw.decode(errors="replace")) from None
            writer.add(source.uri, line, values)
            line += 1
    writer.flush(source.uri)


# -- the export --------------------------------------------------------------------------------------


def run_export(args: Sequence[str], s3: Any, log: Log) -> int:
    """Run a ``sqoop export`` step against the sandbox's S3 and MySQL; the number of records exported."""
    export = parse_export_args(args)
    target = parse_connect(export.connect)
    password = read_password(s3, export.password_file)
    bucket, files = input_files(s3, export.export_dir)
    _log(log, "INFO", "mapreduce.ExportJobBase", f"Beginning export of {export.table}")
    with closing(_connect(target, export.username, password)) as connection:  # Sqoop's code generation
        columns = table_columns(connection.cursor(), target, export.table, export.columns)
        cursor = connection.cursor()
        cursor.execute("SELECT @@SESSION.sql_mode")
        escapes = escapes_for(cursor.fetchone()[0] or "")
    splits = plan_splits(files, export.num_mappers)
    _log(log, "INFO", "input.FileInputFormat", f"Total input files to process : {len(files)}")
    _log(log, "INFO", "mapreduce.JobSubmitter", f"number of splits:{len(splits)}")
    how = "with pyarrow" if ArrowEncoder.reads(export.record_format) else "record by record (an escape character)"
    log(
        f"sandbox: {len(splits)} mappers for --num-mappers {export.num_mappers}, threads with a MySQL connection "
        f"each, records read {how}; INSERTs of {export.records_per_statement} records, a commit every "
        f"{export.statements_per_transaction} statements and at the end of each split"
    )
    job = Job(export, target, password, bucket, columns, escapes, s3)
    started = time.monotonic()
    results = [MapperResult(index, segments) for index, segments in enumerate(splits)]
    threads = [
        threading.Thread(target=run_mapper, args=(job, result), name=f"sandbox-sqoop-m{result.index:05d}", daemon=True)
        for result in results
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    committed = sum(result.committed for result in results)
    if errors := [result for result in results if result.error is not None]:
        raise errors[0].error  # type: ignore[misc]
    if failed := [result for result in results if result.failure is not None]:
        for result in failed:
            _log_failure(log, result)
        _log(log, "ERROR", "mapreduce.ExportJobBase", "Export job failed!")
        _log(log, "ERROR", "tool.ExportTool", "Error during export: Export job failed!")
        log(
            f"sandbox: {committed} records committed before the failure stay in {export.table} "
            f"({', '.join(f'm_{r.index:06d}: {r.committed}' for r in results)}): an export is not atomic"
        )
        raise SqoopError(FAILED, f"Export job failed! {failed[0].failure}")
    size = sum(file.size for file in files)
    rate = size / seconds if seconds else float(size)
    _log(
        log,
        "INFO",
        "mapreduce.ExportJobBase",
        f"Transferred {size} bytes in {seconds:.4f} seconds ({rate:.0f} bytes/sec)",
    )
    _log(log, "INFO", "mapreduce.ExportJobBase", f"Exported {committed} records.")
    return committed


def read_password(s3: Any, uri: str | None) -> str | None:
    """The password file's content exactly as stored: Sqoop keeps a trailing newline as part of the password."""
    if uri is None:
        return None
    bucket, key = _split(uri, "--password-file")
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket):
        raise SqoopError(FAILED, f"The provided password file {uri} does not exist!") from None


def input_files(s3: Any, export_dir: str) -> tuple[str, list[InputFile]]:
    """The bucket and the data files directly in ``--export-dir``, by name (Hadoop skips ``_*`` and ``.*``)."""
    bucket, key = _split(export_dir, "--export-dir")
    prefix = f"{key.strip('/')}/" if key.strip("/") else ""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    objects = sorted((item["Key"], item["Size"]) for page in pages for item in page.get("Contents", []))
    if not objects:
        raise SqoopError(FAILED, f"Input path does not exist: {export_dir}")
    files = []
    for found, size in objects:
        name, slash, _ = found[len(prefix) :].partition("/")
        if not name or name.startswith(("_", ".")):
            continue
        if slash:
            raise SqoopError(FAILED, f"Path is not a file: s3://{bucket}/{prefix}{name} (--export-dir must be flat)")
        files.append(InputFile(found, size))
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


def _log(log: Log, level: str, logger: str, message: str) -> None:
    """A line in Sqoop's console format (``yy/MM/dd HH:mm:ss LEVEL logger: message``)."""
    log(f"{time.strftime('%y/%m/%d %H:%M:%S')} {level} {logger}: {message}")


def _log_failure(log: Log, result: MapperResult) -> None:
    failure = result.failure
    assert failure is not None
    for message in (
        f"Exception raised during data export (mapper m_{result.index:06d})",
        f"Exception: {failure.reason}",
        f"On input: {failure.record!r}" if failure.record is not None else "On input: the records of one INSERT",
        f"On input file: {failure.uri}",
        f"At {failure.where}",
    ):
        _log(log, "ERROR", "mapreduce.TextExportMapper", message)
