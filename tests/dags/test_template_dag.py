"""The template DAG passes what every file in dags/ must pass, and the runbook has a section for every DAG.

The template (docs/templates/example_dag.py) is copied into a folder of its own and parsed by the integrity tests'
guarded parse (the ``parse_folder`` fixture of conftest.py) with the same environment and the same flipped
defaults, then held to every rule of test_dag_integrity.POLICY and to the same parse-time limit. It stays out of
dags/: the demo runs every DAG there.

Alerts link to ``<alerts.runbook_url>#<dag_id>`` (``loanlake.alerts.runbook_link``), and a DAG's deadline alert
to the section of the DAG its callback names, so docs/runbook.md needs one ``## <dag_id>`` heading per DAG, whose
GitHub anchor is the DAG id. Those tests take ``dag_file``: they run once per file in dags/, so a new DAG without a
runbook section fails them unedited.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_dag_integrity import PARSE_SECONDS_LIMIT, POLICY

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docs" / "templates" / "example_dag.py"
RUNBOOK = ROOT / "docs" / "runbook.md"


def _integrity_conftest(config: pytest.Config) -> ModuleType:
    """tests/dags/conftest.py as pytest loaded it: every conftest.py outside a package is module ``conftest``, so
    importing it by name may give another folder's."""
    path = Path(__file__).with_name("conftest.py").resolve()
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, ModuleType) and plugin.__file__ and Path(plugin.__file__).resolve() == path:
            return plugin
    raise LookupError(f"pytest has not loaded {path}")


@pytest.fixture(scope="module")
def integrity(pytestconfig: pytest.Config) -> ModuleType:
    return _integrity_conftest(pytestconfig)


@pytest.fixture(scope="module")
def template_parse(integrity, parse_folder, tmp_path_factory) -> tuple[Any, dict[str, Any]]:
    """The template copied alone into a folder and parsed as dag_parse parses dags/: once with the configured
    defaults, once with flipped ones; the first parse and the flipped parse's DAGs by id."""
    folder = tmp_path_factory.mktemp("template-dag")
    shutil.copy(TEMPLATE, folder / TEMPLATE.name)
    with pytest.MonkeyPatch.context() as mp:
        if "AIRFLOW_HOME" not in os.environ:
            mp.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow-home")))
        for key, value in integrity.DEV_ENV.items():
            mp.setenv(key, value)
        import airflow.dag_processing.dagbag  # noqa: F401 - imported before the parse is timed, as for dags/

        parsed = parse_folder(folder, integrity.DEFAULTS)[TEMPLATE.name]
        flipped = parse_folder(folder, integrity.FLIPPED_DEFAULTS)[TEMPLATE.name]
    return parsed, {dag.dag_id: dag for dag in flipped.dags}


def test_the_template_is_outside_dags(integrity):
    assert TEMPLATE.is_file()
    assert TEMPLATE.name not in {path.name for path in integrity.dag_files()}, "the demo would run the template"


def test_the_template_parses_cleanly_fast_and_without_io(template_parse):
    parsed, _ = template_parse
    assert parsed.import_error is None, f"{TEMPLATE.name} does not import:\n{parsed.import_error}"
    assert not parsed.io_attempts, f"{TEMPLATE.name} does I/O at parse time: " + "; ".join(parsed.io_attempts)
    assert [dag.dag_id for dag in parsed.dags] == ["loan_quality_audit"]
    assert parsed.seconds < PARSE_SECONDS_LIMIT, f"{parsed.seconds:.2f} s to parse (limit {PARSE_SECONDS_LIMIT} s)"


@pytest.mark.parametrize("rule", list(POLICY.values()), ids=list(POLICY))
def test_the_template_follows_the_dag_policy(template_parse, rule):
    parsed, flipped = template_parse
    assert parsed.dags, f"{TEMPLATE.name} gave no DAG: {parsed.import_error}"
    problems = [f"{dag.dag_id}: {problem}" for dag in parsed.dags if (problem := rule(dag, flipped.get(dag.dag_id)))]
    assert not problems, f"{TEMPLATE.name}: " + "; ".join(problems)


def test_the_template_documents_what_it_does_and_its_failures(template_parse):
    (dag,) = template_parse[0].dags
    assert "**What it does.**" in dag.doc_md and "**On failure.**" in dag.doc_md
    assert dag.params.get_param("periods").schema["items"]["pattern"], "the Param has a schema"


# GitHub's anchors: https://github.com/Flet/github-slugger (lower case, punctuation dropped, a space becomes "-",
# a repeated anchor gets "-1", "-2", ...), on the heading's text without its Markdown.
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def github_anchors(markdown: str) -> dict[str, str]:
    """Anchor -> the heading line it points to, as GitHub renders ``markdown``; fenced code holds no headings."""
    anchors: dict[str, str] = {}
    seen: dict[str, int] = {}
    fence = ""
    for line in markdown.splitlines():
        if marker := _FENCE.match(line):
            if not fence:
                fence = marker.group(1)
            elif marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence):
                fence = ""
            continue
        heading = None if fence else _HEADING.match(line)
        if heading is None:
            continue
        text = _LINK.sub(r"\1", heading.group(2)).replace("`", "").replace("*", "")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors[slug if count == 0 else f"{slug}-{count}"] = line
    return anchors


def test_github_anchors_follow_githubs_rules():
    text = "# Runbook\n## loan_data_processing\n### `wait_for_step`: is FAILED\n```\n## not_a_heading\n```\n"
    text += "### `wait_for_step`: is FAILED\n"
    assert github_anchors(text) == {
        "runbook": "# Runbook",
        "loan_data_processing": "## loan_data_processing",
        "wait_for_step-is-failed": "### `wait_for_step`: is FAILED",
        "wait_for_step-is-failed-1": "### `wait_for_step`: is FAILED",
    }


@pytest.fixture(scope="module")
def runbook() -> str:
    return RUNBOOK.read_text()


def test_the_runbook_has_a_section_for_every_dag(dag_parse, dag_file, runbook):
    headings = runbook.splitlines()
    for dag in dag_parse.files[dag_file].dags:
        count = headings.count(f"## {dag.dag_id}")
        assert count == 1, f"docs/runbook.md has {count} '## {dag.dag_id}' headings for dags/{dag_file}: add one"


def test_every_runbook_link_an_alert_sends_resolves(dag_parse, dag_file, runbook, integrity):
    from loanlake.alerts import runbook_link
    from loanlake.config import parse_config

    config = parse_config(integrity.DEV_ENV["AIRFLOW_VAR_LOANLAKE_CONFIG"])
    assert urlsplit(config.alerts.runbook_url).path.endswith("/docs/runbook.md"), config.alerts.runbook_url
    anchors = github_anchors(runbook)
    for dag in dag_parse.files[dag_file].dags:
        deadlines = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline] if dag.deadline else []
        linked = [dag.dag_id] + [alert.callback.kwargs["dag_id"] for alert in deadlines]
        assert set(linked) == {dag.dag_id}, f"{dag.dag_id}: a deadline alert names another DAG: {linked}"
        link = runbook_link(config, dag.dag_id)  # what the failure alert and the deadline alert send
        base, _, anchor = link.partition("#")
        assert base == config.alerts.runbook_url
        assert anchors.get(anchor) == f"## {dag.dag_id}", f"{link} does not lead to the '## {dag.dag_id}' section"


def test_the_runbooks_own_links_resolve(runbook):
    anchors = github_anchors(runbook)
    broken = [target for target in re.findall(r"\]\(#([^)\s]*)\)", runbook) if target not in anchors]
    assert not broken, f"docs/runbook.md links to anchors it lacks: {broken}"
