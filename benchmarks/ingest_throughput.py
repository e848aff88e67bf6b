"""Ingest throughput and memory: the streamed portal-to-S3 path against two baselines, in one run.

For each input size (raw bytes of the extracted files) the same zip is moved three ways, each in a
child process so its peak memory is its own, all into the same moto S3 on 127.0.0.1:

- streamed: the ingest's path (portal login, download stream, stream-unzip, multipart upload);
- upload_file: boto3 ``upload_file`` of the already extracted files from local disk (S3's own pace);
- naive: download the zip to disk, extract it to disk, then ``upload_file`` each member.

Throughput is raw bytes landed per second. Targets: streamed >= 0.8x upload_file and >= 1.8x naive;
the streamed path's peak memory stays flat as the input grows. ``LOANLAKE_BENCH_SIZES_MB`` overrides
the sizes (default ``50,500``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

BUCKET = "bench"
USER, PASSWORD = "bench", "bench-password"


def _s3(endpoint: str):
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def build_input(folder: Path, raw_mb: int) -> Path:
    """A legacy quarterly zip whose performance file is about ``raw_mb`` MB, from generator records."""
    from sandbox.generator import GeneratorSpec, write_quarter

    seed = write_quarter(folder / "seed", "2017Q1", GeneratorSpec(loans=2000, seed=1))
    with zipfile.ZipFile(seed.path) as zf:
        names = zf.namelist()
        orig_name = next(n for n in names if "_time_" not in n)
        perf_name = next(n for n in names if "_time_" in n)
        orig, perf = zf.read(orig_name), zf.read(perf_name)
    target = folder / f"{raw_mb}mb" / seed.path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
        out.writestr(orig_name, orig)
        with out.open(perf_name, "w", force_zip64=True) as member:
            written = 0
            while written < raw_mb * 1_000_000:
                member.write(perf)
                written += len(perf)
    return target


def child(mode: str, endpoint: str, login_url: str, zip_name: str, workdir: Path) -> dict[str, float]:
    """One measurement; runs in its own process."""
    from loanlake.freddie_mac.layouts import parse_archive_name
    from loanlake.freddie_mac.portal import PortalSource
    from loanlake.freddie_mac.transfer import land_zip

    s3 = _s3(endpoint)
    archive = parse_archive_name(zip_name)
    source = PortalSource(login_url, USER, PASSWORD)
    file = next(f for f in source.list_files() if f.name == zip_name) if mode != "upload_file" else None
    started = time.perf_counter()
    if mode == "streamed":
        with source.open(file) as chunks:
            landed = land_zip(chunks, file, s3, BUCKET, f"{mode}/raw")
        raw_bytes = landed.raw_bytes
    else:
        extracted = workdir / "extracted"
        if mode == "naive":
            local_zip = workdir / zip_name
            with source.open(file) as chunks, local_zip.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            with zipfile.ZipFile(local_zip) as zf:
                zf.extractall(extracted)
        raw_bytes = 0
        for path in sorted(extracted.iterdir()):
            s3.upload_file(str(path), BUCKET, f"{mode}/raw/{archive.period}/{path.name}")
            raw_bytes += path.stat().st_size
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "raw_bytes": raw_bytes, "peak_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory since exec (VmHWM; ru_maxrss would include the forking parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _measure(mode: str, endpoint: str, login_url: str, zip_path: Path, workdir: Path) -> dict[str, float]:
    args = [sys.executable, "-m", "benchmarks.ingest_throughput", "--child", mode, endpoint, login_url]
    args += [zip_path.name, str(workdir)]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from moto.server import ThreadedMotoServer

    from sandbox.portal import PortalServer

    sizes = [int(s) for s in os.environ.get("LOANLAKE_BENCH_SIZES_MB", "50,500").split(",")]
    print("ingest throughput (raw MB/s landed in S3) and peak memory of the streamed path")
    print(
        f"{'raw input':>9} {'streamed':>9} {'upload_file':>12} {'ratio':>6} {'target':>7} {'naive':>7} {'ratio':>6} "
        f"{'target':>7} {'peak MB: streamed':>18} {'upload_file':>12}"
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    endpoint = "http://{}:{}".format(*moto.get_host_and_port())
    s3 = _s3(endpoint)
    s3.create_bucket(Bucket=BUCKET)
    try:
        with tempfile.TemporaryDirectory(prefix="loanlake-bench-") as tmp:
            for size in sizes:
                zip_path = build_input(Path(tmp), size)
                workdir = Path(tmp) / f"work-{size}"
                (workdir / "extracted").mkdir(parents=True)
                with zipfile.ZipFile(zip_path) as zf:
                    zf.extractall(workdir / "extracted")
                with PortalServer(zip_path.parent, USER, PASSWORD) as portal:
                    figures = {
                        m: _measure(m, endpoint, portal.login_url, zip_path, workdir)
                        for m in ("upload_file", "streamed", "naive")
                    }
                rate = {m: f["raw_bytes"] / f["seconds"] / 1e6 for m, f in figures.items()}
                vs_upload = rate["streamed"] / rate["upload_file"]
                vs_naive = rate["streamed"] / rate["naive"]
                print(
                    f"{size:>7}MB {rate['streamed']:>9.1f} {rate['upload_file']:>12.1f} {vs_upload:>6.2f} "
                    f"{'>=0.8':>7} {rate['naive']:>7.1f} {vs_naive:>6.2f} {'>=1.8':>7} "
                    f"{figures['streamed']['peak_mb']:>18.0f} {figures['upload_file']['peak_mb']:>12.0f}"
                )
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
                    for obj in page.get("Contents", []):
                        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    finally:
        moto.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=5, metavar=("MODE", "ENDPOINT", "LOGIN_URL", "ZIP", "WORKDIR"))
    options = parser.parse_args()
    if options.child:
        mode, endpoint, login_url, zip_name, workdir = options.child
        print(json.dumps(child(mode, endpoint, login_url, zip_name, Path(workdir))))
    else:
        main()
