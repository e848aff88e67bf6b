"""Command line: ``python -m sandbox.generator --out DIR --quarters 2017Q1 --sample-years 2017``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from sandbox.generator.archive import write_quarter, write_sample
from sandbox.generator.spec import GeneratedArchive, GeneratorSpec, parse_quarter


def main(argv: Sequence[str] | None = None) -> int:
    """Write the requested zips and print one line per zip: name, members with records, bytes."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.quarters and not args.sample_years:
        parser.error("nothing to write: give --quarters and/or --sample-years")
    try:
        spec = GeneratorSpec(
            seed=args.seed,
            loans=args.loans,
            layout=args.layout,
            as_of=args.as_of,
            vintage_shift=args.vintage_shift,
            defect_rate=args.defect_rate,
        )
    except ValueError as error:
        parser.error(str(error))
    for quarter in args.quarters:
        print(_summary(write_quarter(args.out, quarter, spec, old_naming=args.old_naming)))
    for year in args.sample_years:
        print(_summary(write_sample(args.out, year, spec)))
    return 0


def _parser() -> argparse.ArgumentParser:
    defaults = GeneratorSpec()
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.generator", description="Write deterministic synthetic Freddie Mac loan-level zips."
    )
    parser.add_argument("--out", type=Path, required=True, help="folder the zips and their sidecars go to")
    parser.add_argument("--quarters", nargs="+", type=_quarter, default=[], metavar="YYYYQn")
    parser.add_argument("--sample-years", nargs="+", type=_year, default=[], metavar="YYYY")
    parser.add_argument("--layout", choices=("legacy", "r47"), default=defaults.layout)
    parser.add_argument("--loans", type=int, default=defaults.loans, help="loans per quarter or sample year")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--as-of", default=defaults.as_of, metavar="YYYYMM", help="last reporting month written")
    parser.add_argument("--vintage-shift", type=float, default=defaults.vintage_shift, help="0 baseline, 1 riskier")
    parser.add_argument("--defect-rate", type=float, default=defaults.defect_rate, help="share of defective records")
    parser.add_argument("--old-naming", action="store_true", help="historical_data1_QnYYYY names (legacy layout)")
    return parser


def _quarter(text: str) -> str:
    try:
        parse_quarter(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _year(text: str) -> int:
    if not (text.isdigit() and len(text) == 4):
        raise argparse.ArgumentTypeError(f"sample year must look like 2017, got {text!r}")
    return int(text)


def _summary(archive: GeneratedArchive) -> str:
    members = ", ".join(f"{info.name} {info.records} records" for info in archive.members.values())
    return f"{archive.path.name}: {members}; {archive.path.stat().st_size} bytes"
