"""The apps depend one way: ``accounts`` (people, sign-in) ← ``courses`` (courses, enrollments, the
policy) ← ``grading`` (tests, results, history, reports). No module imports from an app above its own."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["accounts", "courses", "grading"]


def _imported_apps(path: Path) -> set[str]:
    apps = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        apps.update(name.split(".")[0] for name in names)
    return apps & set(LAYERS)


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_nothing_from_the_apps_built_on_it(app):
    above = set(LAYERS[LAYERS.index(app) + 1 :])
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_apps(path) & above)
        for path in sorted((ROOT / app).rglob("*.py"))
        if _imported_apps(path) & above
    }
    assert offenders == {}


def test_the_apis_shared_plumbing_imports_no_app():
    # gradingsite/api/ lies under every app: the project's URLconf hands it the apps' routers, and
    # settings name the models it stores (IDEMPOTENCY_KEY_MODEL).
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_apps(path))
        for path in sorted((ROOT / "gradingsite" / "api").rglob("*.py"))
        if _imported_apps(path)
    }
    assert offenders == {}
