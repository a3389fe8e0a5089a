"""Another revision's code beside this checkout, for the benchmarks' ``--baseline``."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def short_name(revision: str) -> str:
    """The revision's abbreviated commit id (``main`` -> ``4216094``)."""
    return subprocess.run(  # noqa: S603
        ["git", "rev-parse", "--short", revision],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def export_tree(revision: str, tree: Path) -> Path:
    """The project's files at ``revision`` written into ``tree`` (``git archive``; the .venv is this
    checkout's)."""
    tree.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(  # noqa: S603
        ["git", "archive", revision],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)  # noqa: S603, S607
    return tree
