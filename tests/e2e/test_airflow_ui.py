"""The Airflow UI in a real browser: sign in through the login form, every DAG of dags/ listed, no import errors.

Airflow's API server and DAG processor run against the sandbox (ui_stack.py starts and stops them); headless
Debian Chromium signs in as the simple auth manager's admin with the password Airflow generated, opens the DAG
list, and checks it against the dag_ids read from the files of dags/ (so a new DAG is covered unedited). Import
errors are checked in the UI (the DAG list's "Dag Import Error" badge, once the page has fetched them) and in the
REST API. The DAG list is saved to docs/images/airflow-ui.png for the README, only when every check passed.
"""

from __future__ import annotations

import ast
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_stack import AirflowUI, airflow_ui, chromium, wait_for

from sandbox.runner import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DAGS_DIR = ROOT / "dags"
SCREENSHOT = ROOT / "docs" / "images" / "airflow-ui.png"
PARSE_TIMEOUT_SECONDS = 120
PAGE_TIMEOUT_SECONDS = 60
# The DAG list's import-error badge (aria-label "Dag Import Error"; the Home page's says "Dag Import Errors").
IMPORT_ERROR_BADGE = "[aria-label^='Dag Import Error'], [title^='Dag Import Error']"


@pytest.fixture(scope="module")
def airflow_server(sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowUI]:
    """Airflow's UI over this repo's dags/, in an Airflow home of its own, pointed at the session's sandbox."""
    home = tmp_path_factory.mktemp("airflow-ui-home")
    env = {**os.environ, **sandbox.env()}
    try:
        with airflow_ui(home, env) as ui:
            yield ui
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (selenium), a new empty profile; quit, and its processes checked gone, after."""
    with chromium() as driver:
        yield driver


def _name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def dag_ids_in(path: Path) -> set[str]:
    """The dag_ids a DAG file declares, read from its source: ``DAG(dag_id=...)``/``DAG("...")``, ``@dag(dag_id=...)``,
    and a ``@dag`` function's name when it gives no dag_id."""
    ids = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and _name(node) in ("DAG", "dag"):
            for keyword in node.keywords:
                if keyword.arg == "dag_id" and isinstance(keyword.value, ast.Constant):
                    ids.add(str(keyword.value.value))
            if _name(node) == "DAG" and node.args and isinstance(node.args[0], ast.Constant):
                ids.add(str(node.args[0].value))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if _name(decorator) != "dag":
                    continue
                given = isinstance(decorator, ast.Call) and (
                    any(k.arg == "dag_id" for k in decorator.keywords) or decorator.args
                )
                if not given:
                    ids.add(node.name)
    return ids


def expected_dags(folder: Path = DAGS_DIR) -> dict[str, set[str]]:
    """Each DAG file of ``folder`` (every ``*.py`` in it, as the integrity tests take them) and its dag_ids."""
    files = {path.name: dag_ids_in(path) for path in sorted(folder.glob("*.py"))}
    unread = sorted(name for name, ids in files.items() if not ids)
    assert not unread, f"no dag_id could be read from {unread} in {folder}: give DAG/@dag a literal dag_id"
    assert files, f"no DAG file in {folder}"
    return files


def _import_error_report(errors: list[dict]) -> str:
    return "\n".join(f"--- {e['filename']} ---\n{e['stack_trace']}" for e in errors)


def wait_until_parsed(airflow_server, files: dict[str, set[str]], token: str) -> tuple[set[str], list[dict]]:
    """Wait until the DAG processor has reported on every file (a DAG or an import error); the DAGs and errors."""

    def reported() -> tuple[set[str], list[dict]] | None:
        airflow_server.check_alive()
        dags = airflow_server.api("dags", token, limit=1000)["dags"]
        errors = airflow_server.api("importErrors", token, limit=1000)["import_errors"]
        done = {Path(d["fileloc"]).name for d in dags} | {Path(e["filename"]).name for e in errors}
        return ({d["dag_id"] for d in dags}, errors) if set(files) <= done else None

    try:
        return wait_for(reported, PARSE_TIMEOUT_SECONDS, f"the DAG processor to parse {sorted(files)}")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{airflow_server.log_tails()}") from None


def sign_in(browser, airflow_server) -> None:
    """Open the DAG list; Airflow sends the browser to its login form; fill it in and come back signed in."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{airflow_server.base_url}/dags")
    wait = WebDriverWait(browser, PAGE_TIMEOUT_SECONDS)
    wait.until(ec.presence_of_element_located((By.NAME, "username")))
    assert "/auth/login" in browser.current_url, f"not sent to the login form: {browser.current_url}"
    browser.find_element(By.NAME, "username").send_keys(airflow_server.username)
    browser.find_element(By.NAME, "password").send_keys(airflow_server.password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda driver: "/auth/login" not in driver.current_url and driver.current_url.endswith("/dags"))


def listed_dag_ids(browser, dag_ids: set[str]) -> set[str]:
    """The expected dag_ids the page links to, once all are there or the page timeout has passed."""
    from selenium.webdriver.common.by import By

    def linked() -> set[str]:
        hrefs = {a.get_attribute("href") or "" for a in browser.find_elements(By.CSS_SELECTOR, "a[href*='/dags/']")}
        return {dag_id for dag_id in dag_ids if any(href.endswith(f"/dags/{dag_id}") for href in hrefs)}

    deadline = time.monotonic() + PAGE_TIMEOUT_SECONDS
    while (found := linked()) != dag_ids and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def import_error_badges(browser) -> list[str]:
    """The import-error badges the page shows, once it has fetched the import errors and rendered the answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    fetched = (
        "return performance.getEntriesByType('resource')"
        ".some(e => e.name.includes('/api/v2/importErrors') && e.responseEnd > 0)"
    )
    WebDriverWait(browser, PAGE_TIMEOUT_SECONDS).until(lambda driver: driver.execute_script(fetched))
    deadline = time.monotonic() + 3  # the badge renders within milliseconds of the answer; allow for a busy machine
    while time.monotonic() < deadline:
        if badges := browser.find_elements(By.CSS_SELECTOR, IMPORT_ERROR_BADGE):
            return [f"{b.get_attribute('aria-label')}: {b.text}" for b in badges]
        time.sleep(0.25)
    return []


def show_table_view(browser, dag_ids: set[str]) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Show table view']").click()
    listed_dag_ids(browser, dag_ids)
    browser.execute_script("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()")
    # Grow the window until the last row is in view, so the screenshot shows every DAG however many there are.
    overflow = browser.execute_script(
        "const rows = [...document.querySelectorAll('tbody tr')];"
        "return rows.length ? Math.ceil(Math.max(...rows.map(r => r.getBoundingClientRect().bottom)) - innerHeight) : 0"
    )
    if overflow > -24:
        size = browser.get_window_size()
        browser.set_window_size(size["width"], size["height"] + overflow + 24)
    time.sleep(1)  # let the table settle after the resize


def test_ui_lists_every_dag_without_import_errors(airflow_server, browser, tmp_path):
    files = expected_dags()
    dag_ids = set().union(*files.values())

    # The API first: it says when the DAG processor is done, and what went wrong if a file failed to import.
    token = airflow_server.token()
    api_dags, api_errors = wait_until_parsed(airflow_server, files, token)
    assert not api_errors, f"/api/v2/importErrors reports DAG import errors:\n{_import_error_report(api_errors)}"
    assert dag_ids <= api_dags, f"/api/v2/dags lacks {sorted(dag_ids - api_dags)}; it lists {sorted(api_dags)}"

    sign_in(browser, airflow_server)
    try:
        found = listed_dag_ids(browser, dag_ids)
        assert found == dag_ids, f"the UI's DAG list lacks {sorted(dag_ids - found)} (files: {files})"
        badges = import_error_badges(browser)
        assert not badges, f"the UI's DAG list shows import errors: {badges}"
        show_table_view(browser, dag_ids)
    except BaseException:
        failed = tmp_path / "airflow-ui-failed.png"
        browser.save_screenshot(str(failed))
        print(f"screenshot of the failing page: {failed}")
        raise
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT)), f"could not write {SCREENSHOT}"
