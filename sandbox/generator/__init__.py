"""Deterministic synthetic Freddie Mac loan-level data: quarterly and sample zips in both layouts.

``write_quarter`` and ``write_sample`` write zips named and laid out like Freddie Mac's, with
realistic origination mixes, monthly performance histories whose defaults depend on credit score,
LTV, DTI and rate, and optional injected defects listed exactly in a ``<zip>.defects.json`` sidecar.
``origination_records`` and ``performance_records`` give the clean records a parser should recover.
The same spec and period always give the same bytes. Run ``python -m sandbox.generator --help``.
"""

from sandbox.generator.archive import write_quarter, write_sample
from sandbox.generator.records import origination_records, performance_records
from sandbox.generator.spec import DEFECT_KINDS, GeneratedArchive, GeneratorSpec, MemberInfo

__all__ = [
    "DEFECT_KINDS",
    "GeneratedArchive",
    "GeneratorSpec",
    "MemberInfo",
    "origination_records",
    "performance_records",
    "write_quarter",
    "write_sample",
]
