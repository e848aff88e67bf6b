"""The Kinesis producer: batches of 500, only rejected records retried, nothing lost."""

from __future__ import annotations

import json

import boto3
from botocore.stub import Stubber

from loanlake.streaming.producer import events, main, put_events


def _kinesis(endpoint: str):
    return boto3.client(
        "kinesis", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def _read_all(kinesis, stream: str) -> list[dict]:
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    records = []
    for shard in shards:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            records += [json.loads(r["Data"]) for r in page["Records"]]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def test_every_event_lands_once_in_batches_of_500(moto_endpoint):
    kinesis = _kinesis(moto_endpoint)
    kinesis.create_stream(StreamName="t-producer", ShardCount=2)

    result = put_events(kinesis, "t-producer", events(1_203, seed=3, bad_every=100))

    assert (result.accepted, result.calls, result.retried, result.failed) == (1_203, 3, 0, [])
    landed = _read_all(kinesis, "t-producer")
    assert sorted(e["application_id"] for e in landed) == [e["application_id"] for e in events(1_203, seed=3)]
    assert sum("loan_amount" not in e for e in landed) == 12
    kinesis.delete_stream(StreamName="t-producer")


def test_only_rejected_records_are_sent_again():
    kinesis = boto3.client("kinesis", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    three = list(events(3))
    throttled = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"}
    ok = {"SequenceNumber": "1", "ShardId": "shardId-000000000000"}
    with Stubber(kinesis) as stub:
        stub.add_response("put_records", {"FailedRecordCount": 2, "Records": [ok, throttled, throttled]})
        stub.add_response("put_records", {"FailedRecordCount": 1, "Records": [ok, throttled]})
        stub.add_response("put_records", {"Records": [ok]})

        result = put_events(kinesis, "s", three, backoff_seconds=0)

        stub.assert_no_pending_responses()
    assert (result.accepted, result.calls, result.retried, result.failed) == (3, 3, 3, [])


def test_records_still_rejected_after_the_last_attempt_are_reported():
    kinesis = boto3.client("kinesis", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    (event,) = events(1)
    throttled = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
    with Stubber(kinesis) as stub:
        for _ in range(2):
            stub.add_response("put_records", {"FailedRecordCount": 1, "Records": [throttled]})

        result = put_events(kinesis, "s", [event], attempts=2, backoff_seconds=0)

    assert result.accepted == 0
    assert result.failed == [{"PartitionKey": event["application_id"], "ErrorCode": "InternalFailure"}]


def test_the_command_line_reports_what_it_put(moto_endpoint, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "t")
    _kinesis(moto_endpoint).create_stream(StreamName="t-cli", ShardCount=1)

    assert main(["--stream", "t-cli", "--count", "40"]) == 0
    assert "40 of 40 events put into t-cli" in capsys.readouterr().out
