"""Ingest throughput and memory: the streamed portal-to-S3 path against two baselines, in one run.

For each input size (raw bytes of the extracted files) the same zip is moved three ways, each in a
child process so its peak memory and CPU time are its own, all into the same moto S3:

- streamed: the ingest's path (portal login, download stream, stream-unzip, multipart upload), with the
  part size and parts in flight the ingest task uses;
- upload_file: boto3 ``upload_file`` of the already extracted files from local disk (S3's own pace);
- naive: download the zip to disk, extract it to disk, then ``upload_file`` each member.

S3 and the Freddie Mac portal are remote services in production: each runs in its own process here
(moto server, ``python -m sandbox.portal``), never in the measured child's interpreter, and all are
stopped at the end. Being remote, they also have CPUs of their own: on a machine with two or more CPUs
the servers are pinned to one half of them and the measured child to the other half, the same for all
three methods. As a check, upload_file and the streamed path on loopback are also measured with the
servers sharing every CPU with the child (moto then takes what the child leaves idle, which favours a
baseline that leaves most of it idle).

Two scenarios:

- loopback: the portal on 127.0.0.1 with no limit. Downloading costs almost nothing, so this shows how
  close the streamed path comes to S3's own pace: target (a), streamed >= 0.8x upload_file, is judged here.
- internet: the same portal with each zip download paced to a fixed, typical rate for one HTTPS download
  from a public web server to a cloud worker, 200 Mbit/s = 25 MB/s (``LOANLAKE_BENCH_LINK_MBIT``
  overrides it). The rate was fixed before measuring, not tuned to the targets. This is where overlapping
  the download with the upload pays off: target (b), streamed >= 1.8x naive, is judged here. S3 stays on
  loopback in both: the workers run in S3's region.

No streamed ingest can finish before its download has ended and S3 has then completed the multipart
upload (moto's CompleteMultipartUpload copies every part, in one thread): ``naive / (download + complete
step)`` is printed as the most (b) can be with that link and that S3.

Throughput is raw bytes landed per second; each measurement runs ``LOANLAKE_BENCH_REPEATS`` times
(default 3), interleaved, and the medians are reported with the range of the ratios.
``LOANLAKE_BENCH_SIZES_MB`` sets the sizes (default ``50,500``). The 1-minute load average is printed
before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.results import record

BUCKET = "bench"
USER, PASSWORD = "bench", "bench-password"
DEFAULT_LINK_MBIT = 200
TARGET_VS_UPLOAD, TARGET_VS_NAIVE = 0.8, 1.8
SPLIT, SHARED = "split", "shared"  # the servers on CPUs of their own, or on the measured child's CPUs too
MB = 1_000_000


def _s3(endpoint: str):
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def build_input(folder: Path, raw_mb: int) -> Path:
    """A legacy quarterly zip of about ``raw_mb`` MB of extracted files (whole lines), from generator records."""
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
            remaining = raw_mb * MB - len(orig)
            while remaining > 0:  # whole lines, up to the size asked for
                block = perf if len(perf) <= remaining else perf[: perf.rfind(b"\n", 0, remaining) + 1]
                if not block:
                    break
                member.write(block)
                remaining -= len(block)
    return target


def streamed_settings() -> dict[str, int]:
    """What the ingest task uses: the ``upload_part_mb`` default and the transfer's parts in flight."""
    from loanlake.config import LoanlakeConfig
    from loanlake.freddie_mac.transfer import DEFAULT_PARTS_IN_FLIGHT

    return {
        "part_size": LoanlakeConfig.model_fields["upload_part_mb"].default * 1024 * 1024,
        "parts_in_flight": DEFAULT_PARTS_IN_FLIGHT,
    }


def child(mode: str, endpoint: str, login_url: str, zip_name: str, workdir: Path) -> dict[str, float]:
    """One measurement; runs in its own process. Times are seconds from the start of the transfer."""
    from loanlake.freddie_mac.layouts import parse_archive_name
    from loanlake.freddie_mac.portal import PortalSource
    from loanlake.freddie_mac.transfer import land_zip

    s3 = _s3(endpoint)
    completing = _time_calls(s3, "CompleteMultipartUpload")
    archive = parse_archive_name(zip_name)
    source = PortalSource(login_url, USER, PASSWORD)
    file = next(f for f in source.list_files() if f.name == zip_name) if mode != "upload_file" else None
    phases: dict[str, float] = {}
    cpu_started = _cpu_seconds()
    started = time.perf_counter()

    def downloaded(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            phases["download"] = time.perf_counter() - started  # when the last chunk arrived, in the end
            yield chunk

    if mode == "streamed":
        with source.open(file) as chunks:
            landed = land_zip(downloaded(chunks), file, s3, BUCKET, f"{mode}/raw", **streamed_settings())
        raw_bytes = landed.raw_bytes
    else:
        extracted = workdir / "extracted"
        if mode == "naive":
            extracted = workdir / "naive-extracted"
            local_zip = workdir / zip_name
            with source.open(file) as chunks, local_zip.open("wb") as out:
                for chunk in downloaded(chunks):
                    out.write(chunk)
            with zipfile.ZipFile(local_zip) as zf:
                zf.extractall(extracted)
            phases["extract"] = time.perf_counter() - started - phases["download"]
        upload_started = time.perf_counter()
        raw_bytes = 0
        for path in sorted(extracted.iterdir()):
            s3.upload_file(str(path), BUCKET, f"{mode}/raw/{archive.period}/{path.name}")
            raw_bytes += path.stat().st_size
        phases["upload"] = time.perf_counter() - upload_started
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "raw_bytes": raw_bytes,
        "peak_mb": peak_rss_mb(),
        "cpu_seconds": _cpu_seconds() - cpu_started,
        "complete": completing["seconds"],
        **phases,
    }


def _time_calls(client, operation: str) -> dict[str, float]:
    """Seconds spent in ``operation`` calls of ``client`` (one at a time), summed as they happen."""
    spent = {"seconds": 0.0, "since": 0.0}

    def before(**_: object) -> None:
        spent["since"] = time.perf_counter()

    def after(**_: object) -> None:
        spent["seconds"] += time.perf_counter() - spent["since"]

    client.meta.events.register(f"before-call.s3.{operation}", before)
    client.meta.events.register(f"after-call.s3.{operation}", after)
    return spent


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident memory since exec (VmHWM; ru_maxrss would include the forking parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of another process so far (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_moto() -> None:
    """The moto server in this process until stdin closes (the parent ending it, or dying)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print("http://{}:{}".format(*server.get_host_and_port()), flush=True)
    sys.stdin.read()
    server.stop()


@contextmanager
def _process(args: list[str], what: str, log: Path, *, interrupt: bool) -> Iterator[tuple[subprocess.Popen, str]]:
    """A server process and the first line it prints; stopped on exit by closing its stdin (and with SIGINT when
    ``interrupt``), killed if it has not ended 30 s later."""
    with log.open("w") as errors:
        process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True
        )
    try:
        banner = process.stdout.readline().strip()
        if not banner:
            raise RuntimeError(f"{what} did not start: {log.read_text()[-2000:]}")
        yield process, banner
    finally:
        process.stdin.close()
        if interrupt and process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def moto_process(log_dir: Path):
    args = [sys.executable, "-m", "benchmarks.ingest_throughput", "--moto"]
    return _process(args, "moto server", log_dir / "moto.log", interrupt=False)


def portal_process(files: Path, log_dir: Path, bytes_per_second: float | None):
    args = [sys.executable, "-m", "sandbox.portal", "--files", str(files), "--port", "0"]
    args += ["--username", USER, "--password", PASSWORD]
    if bytes_per_second:
        args += ["--bytes-per-second", str(bytes_per_second)]
    name = f"portal-{int(bytes_per_second or 0)}"
    return _process(args, f"sandbox portal ({name})", log_dir / f"{name}.log", interrupt=True)


def cpu_halves() -> tuple[set[int], set[int]] | None:
    """The CPUs for the measured child and for the servers, or None with fewer than two CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return set(cpus[: len(cpus) // 2]), set(cpus[len(cpus) // 2 :])


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` onto ``cpus`` (threads it starts later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # a request thread that just ended
            os.sched_setaffinity(int(task.name), cpus)


def _measure(
    mode: str,
    endpoint: str,
    login_url: str,
    zip_path: Path,
    workdir: Path,
    servers: dict[str, int],
    cpus: set[int],
) -> dict[str, float]:
    args = [sys.executable, "-m", "benchmarks.ingest_throughput", "--cpus", ",".join(map(str, sorted(cpus)))]
    args += ["--child", mode, endpoint, login_url, zip_path.name, str(workdir)]
    cpu_before = {name: process_cpu_seconds(pid) for name, pid in servers.items()}
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for name, pid in servers.items():
        figures[f"{name}_cpu_seconds"] = process_cpu_seconds(pid) - cpu_before[name]
    return figures


def _empty_bucket(s3) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])


def _load() -> float:
    return os.getloadavg()[0]


def _busy_cpu_seconds() -> float:
    """CPU time every process on the machine has used since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU time of this benchmark: this process and its ended children (the measured ones and the servers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else "-"


def main() -> None:
    sizes = [int(s) for s in os.environ.get("LOANLAKE_BENCH_SIZES_MB", "50,500").split(",")]
    repeats = int(os.environ.get("LOANLAKE_BENCH_REPEATS", "3"))
    link_mbit = float(os.environ.get("LOANLAKE_BENCH_LINK_MBIT", str(DEFAULT_LINK_MBIT)))
    scenarios = {"loopback": None, "internet": link_mbit * MB / 8}
    every_cpu = set(os.sched_getaffinity(0))
    halves = cpu_halves()
    placements = {SPLIT: halves, SHARED: (every_cpu, every_cpu)} if halves else {SHARED: (every_cpu, every_cpu)}
    settings = streamed_settings()
    print(
        f"ingest throughput, raw MB/s landed in S3: medians of {repeats} interleaved runs (range of the ratios); "
        f"streamed: {settings['part_size'] // 2**20} MiB parts, {settings['parts_in_flight']} in flight; internet "
        f"scenario: zip downloads paced to {link_mbit:g} Mbit/s = {link_mbit / 8:g} MB/s (a fixed typical figure, "
        "not tuned)"
    )
    if halves:
        print(
            f"moto and the portals in their own processes on CPU(s) {_cpu_list(halves[1])}, the measured child on "
            f"CPU(s) {_cpu_list(halves[0])}; check: the same with every CPU shared"
        )
    else:
        print("one CPU only: moto and the portals in their own processes, sharing it with the measured child")
    print(f"1-minute load average at the start: {_load():.2f} (it counts this benchmark's processes too)", flush=True)
    busy_before, own_before, started = _busy_cpu_seconds(), _own_cpu_seconds(), time.monotonic()
    results = {}
    with tempfile.TemporaryDirectory(prefix="loanlake-bench-") as tmp, moto_process(Path(tmp)) as (moto, endpoint):
        s3 = _s3(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        for size in sizes:
            zip_path = build_input(Path(tmp), size)
            workdir = Path(tmp) / f"work-{size}"
            (workdir / "extracted").mkdir(parents=True)
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(workdir / "extracted")
            with (
                portal_process(zip_path.parent, Path(tmp), scenarios["loopback"]) as (loopback, loopback_banner),
                portal_process(zip_path.parent, Path(tmp), scenarios["internet"]) as (internet, internet_banner),
            ):
                portals = {"loopback": (loopback.pid, loopback_banner), "internet": (internet.pid, internet_banner)}
                plan = [(placement, "upload_file", None) for placement in placements]
                plan += [(placement, "streamed", "loopback") for placement in placements]
                plan += [(SPLIT if halves else SHARED, mode, s) for s in scenarios for mode in ("streamed", "naive")]
                plan = list(dict.fromkeys(plan))  # with one CPU the lists overlap
                runs: dict[str, list[dict[str, float]]] = {}
                for _ in range(repeats):
                    for placement, mode, scenario in plan:
                        child_cpus, server_cpus = placements[placement]
                        for pid in (moto.pid, loopback.pid, internet.pid):
                            pin(pid, server_cpus)
                        pid, banner = portals[scenario or "loopback"]
                        servers = {"moto": moto.pid} | ({"portal": pid} if scenario else {})
                        login_url = banner.split(" at ")[1].split()[0]
                        figures = _measure(mode, endpoint, login_url, zip_path, workdir, servers, child_cpus)
                        runs.setdefault("/".join(filter(None, (placement, scenario, mode))), []).append(figures)
                        _empty_bucket(s3)
                        shutil.rmtree(workdir / "naive-extracted", ignore_errors=True)
                        (workdir / zip_path.name).unlink(missing_ok=True)
            shutil.rmtree(workdir)
            results[size] = (zip_path.stat().st_size, runs)
    others = _busy_cpu_seconds() - busy_before - (_own_cpu_seconds() - own_before)
    available = (time.monotonic() - started) * len(every_cpu)
    print(
        f"1-minute load average at the end: {_load():.2f}; other processes on the machine used {max(others, 0):.0f} "
        f"CPU s of the {available:.0f} available during the run ({max(others, 0) / available:.0%})"
    )
    _report(results, scenarios, link_mbit, SPLIT if halves else SHARED)


def _cpu_list(cpus: set[int]) -> str:
    return ",".join(map(str, sorted(cpus)))


def _report(results: dict[int, tuple[int, dict[str, list[dict[str, float]]]]], scenarios, link_mbit, judged) -> None:
    print(
        f"{'scenario':<9} {'raw MB':>6} {'zip MB':>6} {'streamed':>9} {'upload_file':>11} {'(a)':>5} {'range':>9} "
        f"{'naive':>6} {'(b)':>5} {'range':>9} {'peak MB':>7} {'CPU s':>6} {'moto CPU s':>10}"
    )
    peaks: dict[str, list[tuple[float, float, float]]] = {}
    placement = "" if judged == SHARED else ", servers on their own CPUs"
    for zip_bytes, runs in results.values():
        uploads = runs[f"{judged}/upload_file"]
        raw_bytes = uploads[0]["raw_bytes"]
        upload_rate = raw_bytes / _median(uploads, "seconds") / MB
        upload_peak = _median(uploads, "peak_mb")
        print(
            f"{'(disk)':<9} {raw_bytes / MB:>6.0f} {zip_bytes / MB:>6.0f} {'':>9} {upload_rate:>11.1f} {'':>5} "
            f"{'':>9} {'':>6} {'':>5} {'':>9} {upload_peak:>7.0f} {_median(uploads, 'cpu_seconds'):>6.1f} "
            f"{_median(uploads, 'moto_cpu_seconds'):>10.1f}   upload_file; S3 complete step "
            f"{_median(uploads, 'complete'):.1f} s"
        )
        for scenario, rate_limit in scenarios.items():
            streamed, naive = runs[f"{judged}/{scenario}/streamed"], runs[f"{judged}/{scenario}/naive"]
            vs_upload = [u["seconds"] / s["seconds"] for s, u in zip(streamed, uploads, strict=True)]
            vs_naive = [n["seconds"] / s["seconds"] for s, n in zip(streamed, naive, strict=True)]
            bound = [n["seconds"] / (n["download"] + s["complete"]) for s, n in zip(streamed, naive, strict=True)]
            a, b = statistics.median(vs_upload), statistics.median(vs_naive)
            rate = raw_bytes / _median(streamed, "seconds") / MB
            naive_rate = raw_bytes / _median(naive, "seconds") / MB
            peak = _median(streamed, "peak_mb")
            peaks.setdefault(scenario, []).append((raw_bytes, peak, upload_peak))
            print(
                f"{scenario:<9} {raw_bytes / MB:>6.0f} {zip_bytes / MB:>6.0f} {rate:>9.1f} {upload_rate:>11.1f} "
                f"{a:>5.2f} {_spread(vs_upload):>9} {naive_rate:>6.1f} {b:>5.2f} {_spread(vs_naive):>9} {peak:>7.0f} "
                f"{_median(streamed, 'cpu_seconds'):>6.1f} {_median(streamed, 'moto_cpu_seconds'):>10.1f}"
            )
            print(
                f"{'':<9} streamed: last byte in at {_median(streamed, 'download'):.1f} s of "
                f"{_median(streamed, 'seconds'):.1f} s, S3 complete step {_median(streamed, 'complete'):.1f} s; "
                f"naive: download {_median(naive, 'download'):.1f} s + extract {_median(naive, 'extract'):.1f} s "
                f"+ upload {_median(naive, 'upload'):.1f} s, peak {_median(naive, 'peak_mb'):.0f} MB; the most (b) "
                f"can be, naive / (download + complete step): {statistics.median(bound):.2f}"
            )
            where = "loopback" if rate_limit is None else f"a {link_mbit:g} Mbit/s link"
            label = f"{raw_bytes / MB:.0f} MB raw, portal on {where}{placement}"
            judged_a, judged_b = rate_limit is None, rate_limit is not None
            record(
                "ingest_throughput",
                f"streamed ingest vs boto3 upload_file of the extracted files from disk, {label}",
                f"{rate:.1f} MB/s",
                f"{upload_rate:.1f} MB/s",
                f"{a:.2f}x",
                f">= {TARGET_VS_UPLOAD}x" if judged_a else "reported; (a) is judged on loopback",
                _verdict(a, TARGET_VS_UPLOAD) if judged_a else "",
            )
            record(
                "ingest_throughput",
                f"streamed ingest vs download-to-disk-then-upload, {label}",
                f"{rate:.1f} MB/s",
                f"{naive_rate:.1f} MB/s",
                f"{b:.2f}x",
                f">= {TARGET_VS_NAIVE}x" if judged_b else "reported; (b) is judged on the internet link",
                _verdict(b, TARGET_VS_NAIVE) if judged_b else "",
            )
        if judged == SPLIT:
            _report_shared(runs, raw_bytes)
    settings = streamed_settings()
    pool_mb = (settings["parts_in_flight"] + 1) * settings["part_size"] / MB
    for scenario, points in peaks.items():
        (small_raw, small_peak, _), (large_raw, large_peak, large_base) = min(points), max(points)
        if large_raw > small_raw:
            growth = large_peak / small_peak
            bound = large_base + pool_mb
            flat = large_peak <= bound
            print(
                f"streamed peak memory, portal on {scenario}: {small_peak:.0f} MB at {small_raw / MB:.0f} MB raw, "
                f"{large_peak:.0f} MB at {large_raw / MB:.0f} MB raw ({growth:.2f}x for {large_raw / small_raw:.1f}x "
                f"the input); bound: upload_file's {large_base:.0f} MB + {pool_mb:.0f} MB of part buffers = "
                f"{bound:.0f} MB, whatever the size: {'within' if flat else 'EXCEEDED'}"
            )
            record(
                "ingest_throughput",
                f"peak memory of the streamed ingest as the input grows {small_raw / MB:.0f} -> {large_raw / MB:.0f} "
                f"MB raw, portal on {scenario}",
                f"{small_peak:.0f} -> {large_peak:.0f} MB",
                f"bound {bound:.0f} MB (upload_file {large_base:.0f} MB + {pool_mb:.0f} MB of part buffers)",
                f"{growth:.2f}x",
                "flat: within the bound, which does not grow with the input",
                "met" if flat else "not met",
            )


def _report_shared(runs: dict[str, list[dict[str, float]]], raw_bytes: int) -> None:
    """The check with the servers on the child's CPUs too: (a) on loopback, reported, not judged."""
    uploads, streamed = runs[f"{SHARED}/upload_file"], runs[f"{SHARED}/loopback/streamed"]
    ratios = [u["seconds"] / s["seconds"] for s, u in zip(streamed, uploads, strict=True)]
    rate, upload_rate = (raw_bytes / _median(r, "seconds") / MB for r in (streamed, uploads))
    ratio = statistics.median(ratios)
    print(
        f"{'shared':<9} {raw_bytes / MB:>6.0f} {'':>6} {rate:>9.1f} {upload_rate:>11.1f} {ratio:>5.2f} "
        f"{_spread(ratios):>9}   loopback, moto on every CPU: it uses {_median(uploads, 'moto_cpu_seconds'):.1f} "
        f"CPU s beside upload_file's {_median(uploads, 'cpu_seconds'):.1f}, "
        f"{_median(streamed, 'moto_cpu_seconds'):.1f} beside the streamed path's {_median(streamed, 'cpu_seconds'):.1f}"
    )
    record(
        "ingest_throughput",
        f"streamed ingest vs boto3 upload_file, {raw_bytes / MB:.0f} MB raw, portal on loopback, moto sharing every "
        "CPU with the ingest (check)",
        f"{rate:.1f} MB/s",
        f"{upload_rate:.1f} MB/s",
        f"{ratio:.2f}x",
        "reported; (a) is judged with the servers on their own CPUs",
        "",
    )


def _verdict(ratio: float, target: float) -> str:
    return "met" if ratio >= target else "not met"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=5, metavar=("MODE", "ENDPOINT", "LOGIN_URL", "ZIP", "WORKDIR"))
    parser.add_argument("--cpus", help="comma-separated CPUs to run the child on")
    parser.add_argument("--moto", action="store_true", help="serve moto until stdin closes")
    options = parser.parse_args()
    if options.cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in options.cpus.split(",")})  # before any thread starts
    if options.moto:
        serve_moto()
    elif options.child:
        mode, endpoint, login_url, zip_name, workdir = options.child
        print(json.dumps(child(mode, endpoint, login_url, zip_name, Path(workdir))))
    else:
        main()
