"""Migrations run as the release phase runs them: ``migrate --database direct``, while ``default`` may
point at the same database through another connection (the pooler, or the same URL)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _data_migration_functions():
    for path in sorted(ROOT.glob("*/migrations/0*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and [a.arg for a in node.args.args] == ["apps", "schema_editor"]:
                yield path, node


def test_every_data_migration_reads_and_writes_through_the_connection_it_migrates():
    # A query on another alias would open a second connection and wait for the locks the
    # migration's own transaction holds on the same database: the release phase would hang.
    unbound = [
        f"{path.name}: {function.name}"
        for path, function in _data_migration_functions()
        if re.search(r"\.objects(?!\.using\()", ast.unparse(function))
    ]

    assert unbound == [], "query with .objects.using(schema_editor.connection.alias)"
