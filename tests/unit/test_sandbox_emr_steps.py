"""The sandbox EMR's step arguments and S3 mirror, without Spark (a bare moto server for S3)."""

from __future__ import annotations

import pytest

from sandbox.extensions.emr import S3Mirror, StepRejected, outermost_prefixes, parse_hive_script_step


def test_hive_script_arguments_in_every_spelling() -> None:
    args = ["hive-script", "--run-hive-script", "--args", "-f", "s3://b/s.hql", "-d", "A=s3://b/x/"]
    args += ["-dB=1=2", "--hivevar", "C="]

    step = parse_hive_script_step("command-runner.jar", args)

    assert step.script == "s3://b/s.hql"
    assert step.variables == {"A": "s3://b/x/", "B": "1=2", "C": ""}


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["sqoop", "export", "--table", "loans"], "not supported by the sandbox yet"),
        (["hive-script", "--args", "-f", "s3://b/s.hql", "-d", "NOEQUALS"], "needs NAME=value"),
        (["hive-script", "--args", "-f", "s3://b/s.hql", "--hiveconf", "x=1"], "unexpected argument '--hiveconf'"),
        (["hive-script", "--args", "-f", "/local/s.hql"], "needs -f s3://"),
    ],
)
def test_steps_the_sandbox_cannot_run_are_rejected_with_a_reason(args: list[str], reason: str) -> None:
    with pytest.raises(StepRejected, match=reason):
        parse_hive_script_step("command-runner.jar", args)


def test_nested_prefixes_are_synced_once() -> None:
    locations = [("b", "out/loans/"), ("b", "out"), ("b", "outer/x"), ("c", "out/loans")]

    assert outermost_prefixes(locations) == [("b", "out"), ("b", "outer/x"), ("c", "out/loans")]


def test_mirror_syncs_data_both_ways_and_never_hidden_files(s3_bucket, tmp_path) -> None:
    s3, bucket = s3_bucket
    s3.put_object(Bucket=bucket, Key="out/a=1/part-0", Body=b"old")
    s3.put_object(Bucket=bucket, Key="out/a=2/part-0", Body=b"gone soon")
    s3.put_object(Bucket=bucket, Key="out/_SUCCESS", Body=b"")
    s3.put_object(Bucket=bucket, Key="outside/part-0", Body=b"not mine")
    mirror = S3Mirror(tmp_path, s3)
    local = tmp_path / bucket / "out"

    assert mirror.pull(bucket, "out") == (2, 0)
    assert not (local / "_SUCCESS").exists() and not (tmp_path / bucket / "outside").exists()

    s3.delete_object(Bucket=bucket, Key="out/a=2/part-0")
    (local / "a=1" / ".part-0.crc").write_bytes(b"checksum of the old bytes")
    s3.put_object(Bucket=bucket, Key="out/a=1/part-0", Body=b"new")
    assert mirror.pull(bucket, "out") == (1, 1)
    assert (local / "a=1" / "part-0").read_bytes() == b"new"
    assert not (local / "a=1" / ".part-0.crc").exists(), "a stale checksum makes Spark refuse the file"
    assert not (local / "a=2").exists()

    (local / "a=1" / "part-0").unlink()
    (local / "a=3").mkdir()
    (local / "a=3" / "part-1").write_bytes(b"written by a step")
    (local / "a=3" / "._SUCCESS.crc").write_bytes(b"")
    assert mirror.push(bucket, "out") == (1, 1)
    remaining = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert remaining == ["out/_SUCCESS", "out/a=3/part-1", "outside/part-0"]
