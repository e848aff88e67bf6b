"""The Sqoop export step: its spec, and how the sandbox reads its arguments and Hive's text files as Sqoop does."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from loanlake.emr.sqoop import SqoopExport
from sandbox.sqoop import (
    BadRecord,
    Column,
    ExportFailure,
    RecordFormat,
    SqoopError,
    SqoopExportArgs,
    TableWriter,
    is_sqoop_export,
    java_string,
    parse_connect,
    parse_export_args,
    read_lines,
    split_fields,
    sqoop_char,
)

CONNECT = "jdbc:mysql://loanlake.abc123.us-east-1.rds.amazonaws.com:3306/loanlake"
PASSWORD_FILE = "s3://loanlake-secrets/sqoop/mysql-password"
EXPORT_DIR = "s3://loanlake-data/export/acquisition/period=2017Q1/"
HIVE = RecordFormat("\x01", None, "\\N", "\\N")
ESCAPED = replace(HIVE, escape="\\")
COLUMNS = (Column("loan_id", text=False), Column("seller", text=True), Column("upb", text=False))


def export(**overrides: object) -> SqoopExport:
    spec = {
        "name": "2017Q1 export acquisition",
        "connect": CONNECT,
        "username": "loanlake_loader",
        "password_file": PASSWORD_FILE,
        "table": "acquisition_staging",
        "export_dir": EXPORT_DIR,
        "columns": ("loan_id", "seller", "upb"),
    }
    return SqoopExport(**(spec | overrides))


def args_of(step: SqoopExport) -> list[str]:
    return step.to_emr()["HadoopJarStep"]["Args"]


# -- the spec ----------------------------------------------------------------------------------------


def test_step_is_a_command_runner_sqoop_export_with_exact_args() -> None:
    assert export().to_emr() == {
        "Name": "2017Q1 export acquisition",
        "ActionOnFailure": "CANCEL_AND_WAIT",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "sqoop",
                "export",
                "-Dsqoop.export.records.per.statement=100",
                "--connect",
                CONNECT,
                "--username",
                "loanlake_loader",
                "--password-file",
                PASSWORD_FILE,
                "--table",
                "acquisition_staging",
                "--columns",
                "loan_id,seller,upb",
                "--export-dir",
                EXPORT_DIR,
                "--input-fields-terminated-by",
                "\\001",
                "--input-lines-terminated-by",
                "\\n",
                "--input-null-string",
                "\\\\N",
                "--input-null-non-string",
                "\\\\N",
                "--num-mappers",
                "4",
            ],
        },
    }


def test_the_format_args_are_the_characters_sqoop_documents() -> None:
    """No shell between command-runner and Sqoop: these are the exact characters Sqoop parses."""
    args = args_of(export())
    after = {option: args[args.index(option) + 1] for option in args if option.startswith("--input-")}

    assert after == {
        "--input-fields-terminated-by": "\\" + "001",  # backslash, 0, 0, 1: octal 1 (^A)
        "--input-lines-terminated-by": "\\" + "n",
        "--input-null-string": "\\" + "\\" + "N",  # doubled: Sqoop pastes it into a Java string literal
        "--input-null-non-string": "\\" + "\\" + "N",
    }
    assert "--input-escaped-by" not in args, "Sqoop unescapes before it looks for NULL: \\N would load as 'N'"
    assert "--update-key" not in args, "exports append to a staging table"


def test_tuning_options() -> None:
    args = args_of(export(num_mappers=2, batch=True, records_per_statement=500, action_on_failure="CONTINUE"))

    assert args[2] == "-Dsqoop.export.records.per.statement=500", "Hadoop's -D options come right after the tool"
    assert args[args.index("--num-mappers") + 1] == "2"
    assert args[-1] == "--batch"
    assert export(action_on_failure="CONTINUE").to_emr()["ActionOnFailure"] == "CONTINUE"


def test_no_password_anywhere_in_the_step() -> None:
    step = export().to_emr()
    text = json.dumps(step)

    assert "--password" not in step["HadoopJarStep"]["Args"]
    assert "password=" not in text.lower() and "@" not in text
    assert step["HadoopJarStep"]["Args"].count("--password-file") == 1


@pytest.mark.parametrize(
    "connect",
    [
        "jdbc:mysql://loader:s3cr3t@db.example.com/loanlake",
        "jdbc:mysql://db.example.com/loanlake?user=loader&password=s3cr3t",
        "jdbc:mysql://db.example.com/loanlake?useSSL=true&PASSWORD=s3cr3t",
    ],
)
def test_credentials_in_the_url_are_refused_without_repeating_them(connect: str) -> None:
    with pytest.raises(ValueError, match="must not carry credentials") as refused:
        export(connect=connect)

    assert "s3cr3t" not in str(refused.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"connect": "jdbc:postgresql://db/loanlake"}, "jdbc:mysql://host"),
        ({"connect": "jdbc:mysql://db.example.com"}, "jdbc:mysql://host"),
        ({"username": "two words"}, "username must be one word"),
        ({"password_file": "/home/hadoop/.password"}, "password_file must be an s3:// object"),
        ({"password_file": "s3://loanlake-secrets/sqoop/"}, "password_file must be an s3:// object"),
        ({"table": "acquisition; DROP TABLE loans"}, "table must be a plain MySQL identifier"),
        ({"table": "loanlake.acquisition"}, "table must be a plain MySQL identifier"),
        ({"columns": ()}, "at least one column"),
        ({"columns": "loan_id,seller"}, "not one string"),
        ({"columns": ("loan_id", "seller name")}, "plain MySQL identifiers"),
        ({"columns": ("loan_id", "LOAN_ID")}, "must not repeat"),
        ({"export_dir": "hdfs:///export/acquisition"}, "export_dir must be an s3:// folder"),
        ({"name": " "}, "name must not be empty"),
        ({"num_mappers": 0}, "num_mappers must be at least 1"),
        ({"records_per_statement": 0}, "records_per_statement must be at least 1"),
    ],
)
def test_invalid_specs_are_refused_clearly(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        export(**overrides)


def test_columns_may_come_as_a_list() -> None:
    assert export(columns=["loan_id", "seller"]).columns == ("loan_id", "seller")


# -- the sandbox reads the spec's args as Sqoop does -------------------------------------------------


def test_the_sandbox_reads_the_spec_as_hive_text() -> None:
    step = export(batch=True, records_per_statement=250).to_emr()["HadoopJarStep"]
    assert is_sqoop_export(step["Jar"], step["Args"])

    parsed = parse_export_args(step["Args"])

    assert parsed == SqoopExportArgs(
        connect=CONNECT,
        table="acquisition_staging",
        export_dir=EXPORT_DIR,
        username="loanlake_loader",
        password_file=PASSWORD_FILE,
        columns=("loan_id", "seller", "upb"),
        record_format=RecordFormat(delimiter="\x01", escape=None, null_string="\\N", null_non_string="\\N"),
        num_mappers=4,
        batch=True,
        records_per_statement=250,
    )


@pytest.mark.parametrize(
    ("value", "char"),
    [
        ("\\001", "\x01"),
        ("\\0001", "\x01"),
        ("\\0x1", "\x01"),
        ("\\t", "\t"),
        ("\\n", "\n"),
        ("\\\\", "\\"),
        ("\\", "\\"),
        ("|", "|"),
        ("\\0", None),
    ],
)
def test_character_arguments_as_sqoop_reads_them(value: str, char: str | None) -> None:
    assert sqoop_char("--input-fields-terminated-by", value) == char


@pytest.mark.parametrize("value", ["\\q", "\\009", "\\0xZZ", "||", "", "\\\\001"])
def test_character_arguments_sqoop_cannot_read(value: str) -> None:
    with pytest.raises(SqoopError, match="cannot understand character argument"):
        sqoop_char("--input-fields-terminated-by", value)


def test_null_strings_are_java_string_literals() -> None:
    assert java_string("--input-null-string", "\\\\N") == "\\N"
    assert java_string("--input-null-string", "null") == "null"
    assert java_string("--input-null-string", "") == ""
    for single in ("\\N", 'say "x"', "ends with \\"):
        with pytest.raises(SqoopError, match="does not compile in Sqoop's generated Java"):
            java_string("--input-null-string", single)


BASE = ["sqoop", "export", "--connect", "jdbc:mysql://127.0.0.1/loanlake", "--table", "t", "--export-dir", "s3://b/d"]


@pytest.mark.parametrize(
    ("args", "reason", "message"),
    [
        (["--frobnicate"], "Invalid step arguments", "Unrecognized argument: --frobnicate"),
        (["-Dsqoop.export.records.per.statement=5"], "Invalid step arguments", "go right after 'export'"),
        (["--password", "s3cr3t"], "Not supported by the sandbox", "use --password-file"),
        (["--update-key", "loan_id"], "Not supported by the sandbox", "--update-key"),
        (["--input-lines-terminated-by", "|"], "Not supported by the sandbox", "records end at"),
        (["--input-null-string", "\\N"], "Invalid step arguments", "does not compile"),
        (["--num-mappers", "0"], "Invalid step arguments", "at least 1"),
        (["--columns", "a,,b"], "Invalid step arguments", "empty name"),
        (["--table"], "Invalid step arguments", "--table needs a value"),
    ],
)
def test_arguments_sqoop_or_the_sandbox_refuse(args: list[str], reason: str, message: str) -> None:
    with pytest.raises(SqoopError, match=message) as refused:
        parse_export_args([*BASE, *args])

    assert refused.value.reason == reason
    assert "s3cr3t" not in refused.value.message


def test_generic_properties_come_first_in_either_spelling() -> None:
    properties = ["-D", "sqoop.export.statements.per.transaction=7", "-Dsqoop.export.records.per.statement=3"]

    parsed = parse_export_args([*BASE[:2], *properties, *BASE[2:]])

    assert (parsed.records_per_statement, parsed.statements_per_transaction) == (3, 7)
    with pytest.raises(SqoopError, match="the sandbox only reads"):
        parse_export_args(["sqoop", "export", "-Dmapreduce.job.queuename=etl", *BASE[2:]])
    with pytest.raises(SqoopError, match="--connect, --export-dir required"):
        parse_export_args(["sqoop", "export", "--table", "t"])


def test_connect_must_be_the_sandbox_mysql() -> None:
    target = parse_connect("jdbc:mysql://127.0.0.1:3307/loanlake?useSSL=false")

    assert (target.host, target.port, target.database) == ("127.0.0.1", 3307, "loanlake")
    assert parse_connect("jdbc:mysql://localhost/loanlake").port == 3306
    with pytest.raises(SqoopError, match="only exports to its own MySQL"):
        parse_connect(CONNECT)
    with pytest.raises(SqoopError, match="must be jdbc:mysql://"):
        parse_connect("jdbc:postgresql://127.0.0.1/loanlake")


# -- records and fields ------------------------------------------------------------------------------


def lines(data: bytes) -> list[tuple[int, bytes]]:
    return list(read_lines(io.BytesIO(data)))


def test_records_end_where_hadoop_ends_them() -> None:
    """\\n, \\r\\n and a lone \\r each end a record; a last line without one still counts."""
    assert lines(b"a\nb\r\nc\rd") == [(1, b"a"), (2, b"b"), (3, b"c"), (4, b"d")]
    assert lines(b"a\n\nb\n") == [(1, b"a"), (2, b""), (3, b"b")]
    assert lines(b"") == []


def test_crlf_never_lands_in_the_last_field() -> None:
    ((_, raw),) = lines(b"7\x01Bank\x01100.5\r\n")

    assert HIVE.values(raw.decode(), COLUMNS) == ("7", "Bank", "100.5")


def test_hive_text_fields() -> None:
    assert HIVE.values("1\x01  Alpha Bank  \x01100.50", COLUMNS) == ("1", "  Alpha Bank  ", "100.50")
    assert HIVE.values("2\x01\\N\x01\\N", COLUMNS) == ("2", None, None)
    assert HIVE.values("3\x01\x01", COLUMNS) == ("3", "", None), "empty: '' for text, NULL for other columns"
    assert HIVE.values("4\x01N\x01\\N", COLUMNS) == ("4", "N", None), "a Y/N flag is not NULL"
    assert HIVE.values("5\x01C:\\loans\\new\x010", COLUMNS) == ("5", "C:\\loans\\new", "0"), "no escape character"


@pytest.mark.parametrize(
    ("line", "found"),
    [("1\x01Bank", 2), ("1\x01Bank\x01100\x01extra", 4), ("", 0)],
)
def test_a_record_with_the_wrong_field_count_does_not_load(line: str, found: int) -> None:
    with pytest.raises(BadRecord, match=f"{found} fields for 3 columns \\(loan_id, seller, upb\\)"):
        HIVE.values(line, COLUMNS)


def test_escaped_fields_as_sqoop_unescapes_them() -> None:
    """With --input-escaped-by the next character is literal: delimiters and backslashes survive, \\N does not."""
    assert ESCAPED.values("1\x01Alpha\\\x01Beta\x0110", COLUMNS) == ("1", "Alpha\x01Beta", "10")
    assert ESCAPED.values("2\x01a\\\\b\x0110", COLUMNS) == ("2", "a\\b", "10")
    assert ESCAPED.values("3\x01line\\nbreak\x0110", COLUMNS) == ("3", "linenbreak", "10")
    assert ESCAPED.values("4\x01\\N\x01\\N", COLUMNS) == ("4", "N", "N"), "Hive's NULL arrives as the letter N"


def test_an_escaped_newline_still_ends_the_record() -> None:
    """Hadoop splits the line before Sqoop sees the escape: the dangling escape is dropped, the rest is a new record."""
    (_, first), (_, second) = lines(b"1\x01two\\\nlines\x0110\n")

    assert split_fields(first.decode(), "\x01", "\\") == ["1", "two"]
    assert split_fields(second.decode(), "\x01", "\\") == ["lines", "10"]
    with pytest.raises(BadRecord, match="2 fields for 3 columns"):
        ESCAPED.values(first.decode(), COLUMNS)


# -- writing -----------------------------------------------------------------------------------------


class FakeConnection:
    """Records what a TableWriter sends; refuses the statement holding a given value."""

    def __init__(self, refuse: str | None = None) -> None:
        self.sent: list[list[tuple]] = []
        self.commits: list[int] = []
        self.refuse = refuse

    def cursor(self) -> FakeConnection:
        return self

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        import MySQLdb

        assert sql == "INSERT INTO `staging` (`loan_id`, `seller`, `upb`) VALUES (%s, %s, %s)"
        if any(self.refuse in row for row in rows):
            raise MySQLdb.DataError(1406, "Data too long for column 'seller' at row 1")
        self.sent.append(list(rows))

    def commit(self) -> None:
        self.commits.append(sum(len(rows) for rows in self.sent))


def writer_for(connection: FakeConnection) -> TableWriter:
    tuning = parse_export_args([*BASE[:2], "-Dsqoop.export.records.per.statement=2", *BASE[2:]])
    return TableWriter(connection, "staging", COLUMNS, replace(tuning, statements_per_transaction=2))


def test_rows_go_in_statements_and_commit_every_few_statements() -> None:
    """Like an export mapper: what was committed stays even if a later statement fails."""
    connection = FakeConnection()
    writer = writer_for(connection)

    for line in range(1, 6):
        writer.add("s3://b/d/part-0", line, (str(line), "Bank", "1"))
    writer.flush("s3://b/d/part-0")

    assert [len(rows) for rows in connection.sent] == [2, 2, 1]
    assert connection.commits == [4] and writer.committed == 4 and writer.sent == 5
    writer.commit()
    assert writer.committed == 5


def test_a_refused_statement_names_its_lines() -> None:
    writer = writer_for(FakeConnection(refuse="too long"))
    writer.add("s3://b/d/part-0", 1, ("1", "Bank", "1"))
    writer.add("s3://b/d/part-0", 2, ("2", "Bank", "1"))
    writer.add("s3://b/d/part-0", 3, ("3", "too long", "1"))

    with pytest.raises(ExportFailure, match=r"s3://b/d/part-0 lines 3-4: MySQL refused the INSERT: Data too long"):
        writer.add("s3://b/d/part-0", 4, ("4", "Bank", "1"))
