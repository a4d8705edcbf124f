"""Every stage script has the same shape: a ``main()`` that the ``__main__`` guard calls, so a stage can be
imported (by tests, by a driver) without running."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

SCRIPTS = sorted((REPO / "stages").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_a_stage_script_runs_only_through_main(script):
    tree = ast.parse(script.read_text())
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    guards = [node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)]
    assert "main" in functions
    assert len(guards) == 1 and "main(" in ast.unparse(guards[0]) and len(guards[0].body) == 1


def test_every_dvc_stage_has_a_script():
    import yaml

    commands = [s.get("do", s)["cmd"] for s in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].values()]
    assert {c.split()[1] for c in commands} == {f"stages/{p.name}" for p in SCRIPTS}
