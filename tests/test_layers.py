"""The apps depend one way: ``accounts`` (people, sign-in) ← ``courses`` (courses, enrollments, the
policy) ← ``grading`` (tests, results, history, reports). No module imports from an app above its own,
nor reaches its models by another route (a relation, a string)."""

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db.models import ForeignObjectRel

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


class _Above:
    """What names the models of the apps above ``app``, read from the app registry."""

    def __init__(self, app: str):
        self.apps = LAYERS[LAYERS.index(app) + 1 :]
        above = [m for label in self.apps for m in apps.get_app_config(label).get_models(include_auto_created=True)]
        below = [m for label in LAYERS[: LAYERS.index(app) + 1] for m in apps.get_app_config(label).get_models()]
        self.labels = {m._meta.label_lower for m in above}
        tables = "|".join(sorted(re.escape(m._meta.db_table) for m in above))
        self.tables = re.compile(rf"\b({tables})\b", re.IGNORECASE)
        # The relations the apps above define toward this app's models and the ones below it (a
        # course's ``tests``, a user's ``test_results``): the name a lookup uses, and the attribute.
        reverse = [
            f
            for m in below
            for f in m._meta.get_fields()
            if isinstance(f, ForeignObjectRel) and f.related_model._meta.app_label in self.apps and not f.hidden
        ]
        self.relations = {f.name for f in reverse} | {f.get_accessor_name() for f in reverse}

    def is_lookup(self, text: str) -> bool:
        return text.split("__")[0] in self.relations


def _reaches(source: str, where: str, above: _Above) -> list[str]:
    """Where ``source`` (the module ``where``) reaches a model of an app above, as ``where:line what``
    (the rule: ``test_an_app_reaches_no_model_of_the_apps_built_on_it``)."""
    found = []

    def reach(node, what):
        found.append(((node.lineno, node.col_offset), f"{where}:{node.lineno} {what}"))

    tree = ast.parse(source, filename=where)
    call_arguments = {id(arg) for node in ast.walk(tree) if isinstance(node, ast.Call) for arg in node.args}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr == "related_model" or node.attr in above.relations:
                reach(node, f".{node.attr}")
        elif isinstance(node, ast.keyword) and node.arg and above.is_lookup(node.arg):
            reach(node, f"{node.arg}=")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if name in ("get_model", "get_app_config", "get_models"):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and str(arg.value).split(".")[0] in above.apps:
                        reach(arg, f"{name}({arg.value!r})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text.lower() in above.labels:
                reach(node, repr(text))
            elif match := above.tables.search(text):
                reach(node, f"table {match.group(0)}")
            elif above.is_lookup(text) and ("__" in text or id(node) in call_arguments):
                reach(node, repr(text))
    return [line for _, line in sorted(found, key=lambda found: found[0])]


@pytest.mark.parametrize("app", LAYERS[:-1])
def test_an_app_reaches_no_model_of_the_apps_built_on_it(app):
    """Nor by a relation or a string: what an app above keeps, the app above writes and hands down
    (signals, ``courses.embeds``). In this app's modules (their syntax trees), a reach is:

    - an attribute ``related_model`` (the model at the other end of a relation: an app names its own
      models and the ones below by importing them);
    - an attribute named after a relation an app above defines toward a model here or below, by
      its accessor or its query name, both from the model registry (``Course.tests``);
    - a string that is a model label of an app above (``"grading.Test"``, any case), or that holds
      one of its tables' names as a word (``grading_test``: also in SQL text and f-strings);
    - an ORM lookup starting with such a relation: a keyword argument ``tests=`` or ``tests__…=``
      (``filter``, ``Q``), any string ``tests__…``, and the bare string ``tests`` where it is an
      argument of a call (``F("tests")``, ``prefetch_related("tests")``, ``getattr(c, "tests")``).
      A bare ``"tests"`` anywhere else (a key of the representation, a docstring) is a word, not
      a lookup, and passes;
    - an app above's label as an argument of ``get_model``, ``get_app_config`` or ``get_models``.
    """
    above = _Above(app)
    offenders = [
        line
        for path in sorted((ROOT / app).rglob("*.py"))
        for line in _reaches(path.read_text(), str(path.relative_to(ROOT)), above)
    ]
    assert not offenders, "\n".join(offenders)


def test_the_reach_check_finds_each_route_and_passes_words():
    source = '''"""A course's tests, prose."""
model = Course.tests.rel.related_model
Course.objects.filter(tests__date=day).values("tests__name")
Course.objects.annotate(n=Count("tests")).filter(Q(tests=None))
getattr(course, "test_results")
apps.get_model("grading", "Test")
label = "grading.TestResult"
sql = f"SELECT 1 FROM grading_testresult r WHERE r.id = {pk}"
representation = {"tests": [], "teachers": []}
ignored_fields = ("id", "tests")
fields = ("tests_json", "contests__name")
'''
    assert _reaches(source, "m.py", _Above("courses")) == [
        "m.py:2 .related_model",
        "m.py:2 .tests",
        "m.py:3 tests__date=",
        "m.py:3 'tests__name'",
        "m.py:4 'tests'",
        "m.py:4 tests=",
        "m.py:5 'test_results'",
        "m.py:6 get_model('grading')",
        "m.py:7 'grading.TestResult'",
        "m.py:8 table grading_testresult",
    ]
