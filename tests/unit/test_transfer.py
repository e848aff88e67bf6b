"""Streaming a zip into S3 raw/ and the manifest, against a moto server."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from loanlake.freddie_mac import manifest
from loanlake.freddie_mac.errors import CorruptZipError, NotAZipError, TransientSourceError
from loanlake.freddie_mac.layouts import FIELDS
from loanlake.freddie_mac.sources import SourceFile
from loanlake.freddie_mac.transfer import land_zip


def _lines(layout: str, kind: str, count: int) -> bytes:
    width = len(FIELDS[(layout, kind)])
    return b"".join("|".join(f"{i}-{j}" for j in range(width)).encode() + b"\n" for i in range(count))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _chunks(data: bytes, size: int = 7):
    return iter(data[i : i + size] for i in range(0, len(data), size))


FILE = SourceFile(
    "historical_data_2017Q1.zip", "https://example.test/historical_data_2017Q1.zip", "quarterly", "2017Q1"
)


def test_members_land_under_layout_kind_and_period_with_exact_bytes(s3_bucket):
    s3, bucket = s3_bucket
    members = {
        "orig_2017Q1.txt": _lines("r47", "origination", 40),
        "perf_2017Q1.txt": _lines("r47", "performance", 300),
    }
    data = _zip(members)

    landed = land_zip(_chunks(data, 1000), FILE, s3, bucket, "raw", part_size=5 * 1024 * 1024)

    assert landed.zip_bytes == len(data)
    assert landed.zip_sha256 == hashlib.sha256(data).hexdigest()
    by_name = {m.member: m for m in landed.members}
    assert by_name["orig_2017Q1.txt"].key == "raw/r47/origination/period=2017Q1/orig_2017Q1.txt"
    assert by_name["perf_2017Q1.txt"].key == "raw/r47/performance/period=2017Q1/perf_2017Q1.txt"
    for name, original in members.items():
        body = s3.get_object(Bucket=bucket, Key=by_name[name].key)["Body"].read()
        assert body == original
        assert by_name[name].sha256 == hashlib.sha256(original).hexdigest()
        assert by_name[name].lines == original.count(b"\n")


def test_multipart_upload_of_a_member_larger_than_a_part(s3_bucket):
    s3, bucket = s3_bucket
    big = _lines("legacy", "performance", 90_000)  # about 12 MB, more than two 5 MB parts
    data = _zip(
        {"historical_data_time_2017Q1.txt": big, "historical_data_2017Q1.txt": _lines("legacy", "origination", 5)}
    )

    landed = land_zip(_chunks(data, 64 * 1024), FILE, s3, bucket, "raw", part_size=5 * 1024 * 1024)

    perf = next(m for m in landed.members if m.kind == "performance")
    assert perf.layout == "legacy"
    head = s3.head_object(Bucket=bucket, Key=perf.key)
    assert head["ContentLength"] == len(big)
    assert "-" in head["ETag"], "a member larger than a part is uploaded in parts"


def test_html_instead_of_zip_names_the_url_and_what_came_back(s3_bucket):
    s3, bucket = s3_bucket
    page = b"<html><body>Please log in to continue</body></html>"
    with pytest.raises(NotAZipError, match=r"example\.test.*Please log in.*instead of a zip"):
        land_zip(_chunks(page, 2), FILE, s3, bucket, "raw")


def test_a_zip_cut_short_is_transient(s3_bucket):
    s3, bucket = s3_bucket
    data = _zip({"orig_2017Q1.txt": _lines("r47", "origination", 2000)})
    with pytest.raises(TransientSourceError, match="ended early"):
        land_zip(_chunks(data[: len(data) // 2], 4096), FILE, s3, bucket, "raw")


def test_a_corrupted_member_fails_its_integrity_check(s3_bucket):
    s3, bucket = s3_bucket
    original = _lines("r47", "origination", 2000)
    data = bytearray(_zip({"orig_2017Q1.txt": original}))
    data[len(data) // 3] ^= 0xFF
    with pytest.raises((CorruptZipError, TransientSourceError)):
        land_zip(_chunks(bytes(data), 4096), FILE, s3, bucket, "raw")


def test_manifest_entry_marks_a_file_landed_until_a_member_goes_missing(s3_bucket):
    s3, bucket = s3_bucket
    data = _zip(
        {"orig_2017Q1.txt": _lines("r47", "origination", 10), "perf_2017Q1.txt": _lines("r47", "performance", 10)}
    )
    assert manifest.landed_entry(s3, bucket, "manifests", FILE) is None

    landed = land_zip(_chunks(data, 512), FILE, s3, bucket, "raw")
    assert manifest.landed_entry(s3, bucket, "manifests", FILE) is None, "no entry until it is written"
    manifest.write_entry(s3, bucket, "manifests", landed)
    assert manifest.landed_entry(s3, bucket, "manifests", FILE) == landed

    resized = SourceFile(FILE.name, FILE.location, FILE.dataset, FILE.period, size=landed.zip_bytes + 1)
    assert manifest.landed_entry(s3, bucket, "manifests", resized) is None, "a republished zip is fetched again"

    s3.delete_object(Bucket=bucket, Key=landed.members[0].key)
    assert manifest.landed_entry(s3, bucket, "manifests", FILE) is None
