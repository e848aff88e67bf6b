"""Redshift SQL on PostgreSQL: what the sandbox's Redshift Data API runs, and how.

The translation is token-based (sqlglot's Redshift tokenizer, so string literals, quoted identifiers and
comments are never touched) and keeps the author's text everywhere else. Regenerating statements with
sqlglot's PostgreSQL generator was tried and rejected: it rewrites statements that need nothing, cannot
parse column-level ``DISTKEY``/``SORTKEY``, and turns a ``MERGE ... INSERT VALUES`` into invalid SQL.

- ``CREATE TABLE``: ``DISTSTYLE``, ``DISTKEY``, ``[COMPOUND | INTERLEAVED] SORTKEY``, ``ENCODE`` and ``BACKUP``
  are removed; ``IDENTITY(seed, step)`` becomes ``GENERATED ALWAYS AS IDENTITY (START WITH seed INCREMENT BY
  step)`` (Redshift, like ``ALWAYS``, refuses explicit values); ``VARCHAR(MAX)`` becomes ``VARCHAR(65535)``
  and ``NVARCHAR`` ``VARCHAR``.
- Physical-layout statements with no PostgreSQL meaning do nothing: ``VACUUM``, ``ANALYZE COMPRESSION``,
  ``ALTER TABLE ... ALTER DISTKEY | DISTSTYLE | SORTKEY | ENCODE`` and ``ALTER TABLE ... ALTER COLUMN c ENCODE``.
- Every other statement passes through unchanged, so write DML that both engines accept.

``COPY <table> [(columns)] FROM 's3://bucket/prefix'`` is run here, in the caller's transaction. It loads
every object whose key starts with the prefix (a plain string prefix, as in Redshift), and fails with
Redshift's "The specified S3 prefix ... does not exist" when there is none. ``FORMAT [AS] PARQUET`` maps the
file's columns to the target columns by position and fails when their numbers differ, as Redshift does;
Hive partition columns (``key=value/`` in the path) are not in the files and are not loaded (load them with a
column list that leaves them out, then ``UPDATE``, or keep them in the files). Like Redshift Spectrum it skips
files whose name starts with ``_`` or ``.`` (``_SUCCESS``). ``FORMAT [AS] CSV`` (or ``CSV``) takes
``DELIMITER``, ``QUOTE``, ``NULL AS`` and ``IGNOREHEADER``. Without a column list, COPY fills every column but
``IDENTITY`` ones. Values reach PostgreSQL as text, so type checks are PostgreSQL's casts, looser than
Redshift's Parquet type rules. Credentials (``IAM_ROLE``, ``CREDENTIALS``) are accepted and not checked.
COPY takes no ``:name`` parameters (Redshift cannot bind them in COPY either); other options fail, naming it.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions as pgext
from sqlglot.dialects.redshift import Redshift
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

_DIALECT = Redshift()
_QUOTED = frozenset({TokenType.STRING, TokenType.IDENTIFIER, TokenType.HEREDOC_STRING, TokenType.BYTE_STRING})
_S3_URI = re.compile(r"^s3://(?P<bucket>[^/]+)/?(?P<prefix>.*)$")
_LAYOUT = frozenset({"DISTKEY", "DISTSTYLE", "SORTKEY", "COMPOUND", "INTERLEAVED", "ENCODE"})
_VALUED_OPTIONS = frozenset({"IAM_ROLE", "CREDENTIALS", "FORMAT", "DELIMITER", "NULL", "QUOTE", "IGNOREHEADER"})
_VALUED_OPTIONS |= {"REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"}
_SWITCH_OPTIONS = frozenset({"COMPUPDATE", "STATUPDATE"})
_SWITCHES = frozenset({"ON", "OFF", "TRUE", "FALSE", "PRESET"})
_CSV_OPTIONS = frozenset({"DELIMITER", "NULL", "QUOTE", "IGNOREHEADER"})
_SIGNED = frozenset({"int2", "int4", "int8", "float4", "float8", "numeric", "money"})
_CASE_SENSITIVE = frozenset({"varchar", "bpchar", "char", "text", "name"})
# PostgreSQL's text output of these types is what Redshift's Data API returns as stringValue
_TEXT_TYPES = (pgext.DECIMAL, pgext.PYDATE, pgext.PYTIME, pgext.PYDATETIME, pgext.PYDATETIMETZ, pgext.PYINTERVAL)
_AS_TEXT = pgext.new_type(
    (*(oid for caster in _TEXT_TYPES for oid in caster.values), 114, 3802),  # 114, 3802: json, jsonb
    "REDSHIFT_TEXT",
    lambda value, cursor: value,
)


class RedshiftError(Exception):
    """A statement failed as it would on Redshift; the message is Redshift's, without ``ERROR:``."""


STATEMENT_ERRORS = (RedshiftError, psycopg2.Error)  # how a statement fails as it would on Redshift


@dataclass(frozen=True)
class Result:
    """What a statement produced: a result set (``columns`` is not None) or a count of rows affected."""

    columns: list[dict[str, Any]] | None
    records: list[list[dict[str, Any]]]
    rows: int

    @property
    def size(self) -> int:
        return len(json.dumps(self.records)) if self.columns is not None else 0


@dataclass(frozen=True)
class Copy:
    """A ``COPY ... FROM 's3://...'``; ``table`` and ``columns`` as written."""

    table: str
    columns: tuple[str, ...] | None
    bucket: str
    prefix: str
    format: str
    delimiter: str = ","
    quote: str = '"'
    null: str | None = None
    ignore_header: int = 0


# -- tokens ------------------------------------------------------------------------------------------


def _tokens(sql: str) -> list[Token]:
    """Redshift tokens; none when sqlglot cannot tokenize the text (PostgreSQL then reports the error)."""
    try:
        return _DIALECT.tokenize(sql)
    except TokenError:
        return []


def _word(token: Token | None) -> str:
    """An unquoted word in upper case, or ``""`` (a string, quoted identifier or symbol is no keyword)."""
    return token.text.upper() if token is not None and token.token_type not in _QUOTED else ""


def _at(tokens: list[Token], index: int) -> Token | None:
    return tokens[index] if index < len(tokens) else None


def _closing(tokens: list[Token], index: int) -> int:
    """Index of the parenthesis closing the one at ``index``."""
    depth = 0
    for position in range(index, len(tokens)):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(tokens[position].token_type, 0)
        if depth == 0:
            return position
    return len(tokens) - 1


def _apply(sql: str, edits: list[tuple[int, int, str]]) -> str:
    """Replace the character ranges ``[start, end]`` (inclusive, not overlapping) of ``sql``."""
    for start, end, text in sorted(edits, reverse=True):
        sql = sql[:start] + text + sql[end + 1 :]
    return sql


def split_statements(sql: str) -> list[str]:
    """The statements of a text, split at top-level semicolons, without empty ones or comments around them."""
    try:
        tokens = _DIALECT.tokenize(sql)
    except TokenError:
        return [sql]
    groups: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            groups.append([])
        else:
            groups[-1].append(token)
    return [sql[group[0].start : group[-1].end + 1] for group in groups if group]


def bind_parameters(sql: str, parameters: Mapping[str, str]) -> str:
    """Replace each ``:name`` with its value as a string literal, as the Data API does; others stay."""
    tokens = _tokens(sql)
    edits = []
    for colon, name in itertools.pairwise(tokens):
        text = sql[name.start : name.end + 1]
        if colon.token_type == TokenType.COLON and name.start == colon.end + 1 and text in parameters:
            edits.append((colon.start, name.end, "'" + parameters[text].replace("'", "''") + "'"))
    return _apply(sql, edits)


# -- DDL ---------------------------------------------------------------------------------------------


def translate(statement: str) -> str | None:
    """The statement made PostgreSQL-ready, or None when it has nothing to do on PostgreSQL."""
    tokens = _tokens(statement)
    words = [_word(token) for token in tokens]
    if _is_layout_only(words):
        return None
    if words[:1] == ["CREATE"] and "TABLE" in words[1:4]:
        return _apply(statement, _table_edits(statement, tokens))
    return statement


def _is_layout_only(words: list[str]) -> bool:
    """VACUUM, ANALYZE COMPRESSION, ALTER TABLE ... ALTER <layout> | ALTER COLUMN c ENCODE."""
    if words[:1] == ["VACUUM"] or words[:2] == ["ANALYZE", "COMPRESSION"]:
        return True
    if words[:2] != ["ALTER", "TABLE"] or "ALTER" not in words[2:]:
        return False
    rest = [*words[words.index("ALTER", 2) + 1 :], "", "", ""]
    return rest[0] in _LAYOUT or (rest[0] == "COLUMN" and rest[2] == "ENCODE")


def _table_edits(sql: str, tokens: list[Token]) -> list[tuple[int, int, str]]:
    """Edits that make a Redshift CREATE TABLE (or its CTAS head) PostgreSQL DDL."""
    edits = []
    index, depth = 0, 0
    while index < len(tokens):
        token, word = tokens[index], _word(tokens[index])
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(token.token_type, 0)
        if depth == 0 and word == "AS":  # CREATE TABLE ... AS SELECT: the query is left alone
            break
        last, text = _table_edit(sql, tokens, index)
        if last is not None:  # a removal takes the blank before it too
            start = tokens[index - 1].end + 1 if not text and index else token.start
            edits.append((start, tokens[last].end, text))
            index = last
        index += 1
    return edits


def _table_edit(sql: str, tokens: list[Token], index: int) -> tuple[int | None, str]:
    """``(index of the last token replaced, replacement)`` for a Redshift-only construct at ``index``."""
    word, following = _word(tokens[index]), _word(_at(tokens, index + 1))
    if word in ("ENCODE", "DISTSTYLE", "BACKUP"):
        return index + 1, ""
    if word in ("COMPOUND", "INTERLEAVED") and following == "SORTKEY":
        return _key_end(tokens, index + 1), ""
    if word in ("DISTKEY", "SORTKEY"):
        return _key_end(tokens, index), ""
    if word == "IDENTITY" and _at(tokens, index + 1) and tokens[index + 1].token_type == TokenType.L_PAREN:
        close = _closing(tokens, index + 1)
        seed, _, step = sql[tokens[index + 1].end + 1 : tokens[close].start].partition(",")
        generated = "" if _word(tokens[index - 1]) == "AS" else "GENERATED ALWAYS AS "
        return close, f"{generated}IDENTITY (START WITH {seed.strip()} INCREMENT BY {step.strip() or 1})"
    if word == "MAX" and _is_between_parentheses(tokens, index):
        return index, "65535"
    if word == "NVARCHAR":
        return index, "VARCHAR"
    return None, ""


def _key_end(tokens: list[Token], index: int) -> int:
    """Last token of ``DISTKEY``/``SORTKEY`` at ``index``: its ``(columns)``, ``AUTO``, or itself."""
    following = _at(tokens, index + 1)
    if following is not None and following.token_type == TokenType.L_PAREN:
        return _closing(tokens, index + 1)
    return index + 1 if _word(following) == "AUTO" else index


def _is_between_parentheses(tokens: list[Token], index: int) -> bool:
    before, after = tokens[index - 1] if index else None, _at(tokens, index + 1)
    return bool(before and after) and (before.token_type, after.token_type) == (TokenType.L_PAREN, TokenType.R_PAREN)


# -- COPY --------------------------------------------------------------------------------------------


def parse_copy(statement: str) -> Copy | None:
    """The COPY a statement is, or None when it is no COPY; unsupported forms raise RedshiftError."""
    tokens = _tokens(statement)
    if _word(_at(tokens, 0)) != "COPY":
        return None
    if any(token.token_type == TokenType.COLON for token in tokens):
        raise RedshiftError("COPY takes no parameters (:name): write the S3 path and the role into the statement")
    words = [_word(token) for token in tokens]
    index = next((i for i, t in enumerate(tokens) if t.token_type == TokenType.L_PAREN or words[i] == "FROM"), 0)
    if index < 2:
        raise RedshiftError("syntax error in COPY: expected COPY <table> [(columns)] FROM 's3://...'")
    table = statement[tokens[1].start : tokens[index - 1].end + 1]
    columns = None
    if tokens[index].token_type == TokenType.L_PAREN:
        close = _closing(tokens, index)
        columns = tuple(statement[t.start : t.end + 1] for t in tokens[index + 1 : close] if t.text != ",")
        index = close + 1
    source = _at(tokens, index + 1)
    if words[index : index + 1] != ["FROM"] or source is None or source.token_type != TokenType.STRING:
        raise RedshiftError("syntax error in COPY: expected FROM 's3://...'")
    match = _S3_URI.match(source.text)
    if match is None:
        raise RedshiftError(f"COPY from '{source.text}' is not supported by the sandbox: only s3:// sources are")
    options = _copy_options(statement, tokens, index + 2)
    return Copy(table, columns, match["bucket"], match["prefix"], **options)


def _copy_options(sql: str, tokens: list[Token], index: int) -> dict[str, Any]:
    """The keyword arguments of ``Copy`` from the options that follow ``FROM '...'``."""
    values: dict[str, str] = {}
    while index < len(tokens):
        token, option = tokens[index], _word(tokens[index])
        index += 2 if _word(_at(tokens, index + 1)) == "AS" else 1
        if option in ("CSV", "PARQUET"):
            values["FORMAT"] = option
        elif option in _SWITCH_OPTIONS:
            index += _word(_at(tokens, index)) in _SWITCHES
        elif option in _VALUED_OPTIONS and index < len(tokens):
            values[option] = _option_value(sql, tokens[index])
            index += 1
            if option == "FORMAT" and _at(tokens, index) and tokens[index].token_type == TokenType.STRING:
                index += 1  # FORMAT AS JSON 'auto': the format's own argument
        else:
            raise RedshiftError(f"COPY option {option or token.text!r} is not supported by the sandbox")
    return _copy_settings(values)


def _option_value(sql: str, token: Token) -> str:
    """A string option as written (``'\\N'`` stays two characters), a number or a word."""
    if token.token_type == TokenType.STRING:
        return sql[token.start + 1 : token.end].replace("''", "'")
    return token.text.upper() if token.token_type != TokenType.NUMBER else token.text


def _copy_settings(values: dict[str, str]) -> dict[str, Any]:
    form = values.get("FORMAT", "")
    if form not in ("CSV", "PARQUET"):
        shown = f"FORMAT {form}" if form else "delimited text (no FORMAT)"
        raise RedshiftError(f"COPY from {shown} is not supported by the sandbox: use FORMAT AS PARQUET or CSV")
    if form == "PARQUET":
        if unsupported := sorted(_CSV_OPTIONS & values.keys()):
            raise RedshiftError(f"{unsupported[0]} argument is not supported for PARQUET based COPY")
        return {"format": form}
    settings: dict[str, Any] = {"format": form, "null": values.get("NULL")}
    settings["delimiter"] = _character(values.get("DELIMITER", ","))
    settings["quote"] = _character(values.get("QUOTE", '"'))
    settings["ignore_header"] = int(values.get("IGNOREHEADER", "0"))
    return settings


def _character(text: str) -> str:
    """A delimiter or quote as Redshift reads it: ``'\\t'`` and octal ``'\\036'`` are one character."""
    if text == "\\t":
        return "\t"
    return chr(int(text[1:], 8)) if re.fullmatch(r"\\[0-7]{3}", text) else text


def copy_from_s3(cursor: Any, copy: Copy, s3: Any) -> int:
    """Load every object under the COPY's prefix into its table, in the cursor's transaction; rows loaded."""
    keys = _object_keys(s3, copy)
    if not keys:
        raise RedshiftError(f"The specified S3 prefix '{copy.prefix}' does not exist")
    columns = list(copy.columns or _default_columns(cursor, copy.table))
    target = f"{copy.table} ({', '.join(columns)})"
    loaded = 0
    for key in keys:
        uri = f"s3://{copy.bucket}/{key}"
        body = _read_object(s3, copy.bucket, key)
        try:
            if copy.format == "PARQUET":
                loaded += _load_parquet(cursor, target, len(columns), body, uri)
            else:
                loaded += _load_csv(cursor, target, copy, body)
        except (psycopg2.DataError, psycopg2.IntegrityError) as error:
            raise RedshiftError(f"Load into table '{copy.table}' failed: {_pg_message(error)}, File: {uri}") from error
    return loaded


def _object_keys(s3: Any, copy: Copy) -> list[str]:
    """Keys starting with the prefix, except folder markers and, for Parquet, hidden files."""
    from botocore.exceptions import ClientError

    keys = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=copy.bucket, Prefix=copy.prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
    except ClientError as error:
        raise RedshiftError(_s3_message(error)) from error
    hidden = ("_", ".") if copy.format == "PARQUET" else ()
    return sorted(key for key in keys if not key.endswith("/") and not key.rpartition("/")[2].startswith(hidden))


def _read_object(s3: Any, bucket: str, key: str) -> bytes:
    from botocore.exceptions import ClientError

    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise RedshiftError(_s3_message(error)) from error


def _s3_message(error: Any) -> str:
    info, status = error.response.get("Error", {}), error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return f"S3ServiceException:{info.get('Message', '')},Status {status},Error {info.get('Code', '')}"


def _default_columns(cursor: Any, table: str) -> list[str]:
    """The table's columns in order, but IDENTITY ones: what COPY fills without a column list."""
    cursor.execute(
        "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attidentity <> 'a' ORDER BY attnum",
        (table,),
    )
    return [name for (name,) in cursor.fetchall()]


def _load_parquet(cursor: Any, target: str, width: int, body: bytes, uri: str) -> int:
    """Load a Parquet file's columns by position, batch by batch, through PostgreSQL's CSV COPY."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(body))
        if len(parquet.schema_arrow) != width:
            raise RedshiftError(
                "Spectrum Scan Error: Unmatched number of columns between table and file. "
                f"Table columns: {width}, Data columns: {len(parquet.schema_arrow)}, File name: {uri}"
            )
        loaded = 0
        for batch in parquet.iter_batches():
            buffer = io.BytesIO()
            pa_csv.write_csv(batch, buffer, pa_csv.WriteOptions(include_header=False))
            buffer.seek(0)
            cursor.copy_expert(f"COPY {target} FROM STDIN WITH (FORMAT csv)", buffer)
            loaded += batch.num_rows
    except pa.ArrowException as error:
        raise RedshiftError(f"Spectrum Scan Error: {error}, File name: {uri}") from error
    return loaded


def _load_csv(cursor: Any, target: str, copy: Copy, body: bytes) -> int:
    if copy.ignore_header:
        lines = body.split(b"\n", copy.ignore_header)
        body = lines[-1] if len(lines) > copy.ignore_header else b""
    options = cursor.mogrify("FORMAT csv, DELIMITER %s, QUOTE %s", (copy.delimiter, copy.quote)).decode()
    if copy.null is not None:
        options += cursor.mogrify(", NULL %s", (copy.null,)).decode()
    cursor.copy_expert(f"COPY {target} FROM STDIN WITH ({options})", io.BytesIO(body))
    return cursor.rowcount


# -- running a statement -----------------------------------------------------------------------------


def connect(params: Mapping[str, Any]) -> Any:
    """A connection to the local PostgreSQL that returns numbers, dates and times as Redshift's text."""
    connection = psycopg2.connect(connect_timeout=5, application_name="sandbox-redshift-data", **params)
    pgext.register_type(_AS_TEXT, connection)
    return connection


def run(cursor: Any, sql: str, parameters: Mapping[str, str], s3: Any) -> Result:
    """Run one Data API statement (a COPY, or translated with its parameters bound) in the cursor's transaction."""
    statements = split_statements(sql)
    if len(statements) > 1:
        raise RedshiftError(
            f"the sandbox runs one SQL statement per ExecuteStatement or per Sqls item, as the Data API does; "
            f"found {len(statements)}: use BatchExecuteStatement"
        )
    copy = parse_copy(statements[0]) if statements else None
    if copy is not None:
        return Result(None, [], copy_from_s3(cursor, copy, s3))
    translated = translate(bind_parameters(statements[0], parameters)) if statements else None
    if translated is None:
        return Result(None, [], 0)
    cursor.execute(translated)
    if cursor.description is None:
        return Result(None, [], max(cursor.rowcount, 0))
    description, rows = cursor.description, cursor.fetchall()
    types = _type_names(cursor, {column.type_code for column in description})
    columns = [_column_metadata(column.name, types.get(column.type_code, "unknown")) for column in description]
    return Result(columns, [[field(value) for value in row] for row in rows], len(rows))


def _type_names(cursor: Any, oids: set[int]) -> dict[int, str]:
    cursor.execute("SELECT oid, typname FROM pg_type WHERE oid = ANY(%s)", (sorted(oids),))
    return dict(cursor.fetchall())


def _column_metadata(name: str, type_name: str) -> dict[str, Any]:
    """A ``ColumnMetadata`` entry as the Data API gives it (no table, precision or scale here)."""
    return {
        "name": name,
        "label": name,
        "typeName": type_name,
        "nullable": 1,
        "isSigned": type_name in _SIGNED,
        "isCaseSensitive": type_name in _CASE_SENSITIVE,
        "isCurrency": type_name == "money",
        "schemaName": "",
        "tableName": "",
    }


def field(value: Any) -> dict[str, Any]:
    """A value in the Data API's typed ``Field`` form."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes | memoryview):
        return {"blobValue": base64.b64encode(bytes(value)).decode()}
    return {"stringValue": str(value)}


def error_text(error: Exception) -> str:
    """A failure as the Data API's ``Error``: ``ERROR: <message>`` (and PostgreSQL's detail)."""
    if isinstance(error, psycopg2.Error):
        return f"ERROR: {_pg_message(error)}"
    if isinstance(error, RedshiftError):
        return f"ERROR: {error}"
    return f"ERROR: sandbox error: {type(error).__name__}: {error}"


def _pg_message(error: psycopg2.Error) -> str:
    diag = error.diag
    if not diag.message_primary:  # a connection failure has no diagnostics
        return str(error).strip()
    parts = [diag.message_primary, diag.message_detail and f"DETAIL: {diag.message_detail}"]
    parts.append(diag.context and f"CONTEXT: {diag.context}")
    return "\n  ".join(part for part in parts if part)
