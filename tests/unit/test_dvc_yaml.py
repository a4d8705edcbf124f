"""dvc.yaml's code dependencies cannot drift: every worldprobe module a stage script imports,
directly or through other worldprobe modules, is covered by that stage's ``deps`` (a folder dep
covers the files under it). Otherwise editing such a module leaves the stage's outputs stale
without DVC noticing."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
PACKAGE = "worldprobe"
_SCRIPT = re.compile(r"\bpython\s+(stages/\S+\.py)")


def _module_file(name: str) -> Path | None:
    """The file of a worldprobe module or package, or None (another package, or a name in a module)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    path = SRC.joinpath(*parts)
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Names of the modules ``path`` imports (relative imports resolved; ``from m import x`` yields
    ``m`` and, where x is a submodule, ``m.x``)."""
    name = _module_name(path) if path.is_relative_to(SRC) else ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_closure(script: Path) -> set[Path]:
    """Every worldprobe file that running ``script`` loads: imported modules and their parent packages."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for name in _imported(todo.pop()):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                file = _module_file(".".join(parts[:i]))
                if file is not None and file not in seen:
                    seen.add(file)
                    todo.append(file)
    return seen


def stages(dvc_yaml: Path) -> dict[str, dict]:
    """Stage name -> definition (a ``foreach`` stage's ``do`` template)."""
    return {name: stage.get("do", stage) for name, stage in yaml.safe_load(dvc_yaml.read_text())["stages"].items()}


def uncovered(dvc_yaml: Path, root: Path = REPO) -> dict[str, list[str]]:
    """Per stage, the files its script loads that its ``deps`` do not cover (the script itself included)."""
    gaps = {}
    for name, stage in stages(dvc_yaml).items():
        match = _SCRIPT.search(stage["cmd"])
        assert match, f"{name}: cmd {stage['cmd']!r} does not run a script in stages/"
        script = root / match.group(1)
        deps = [str(d).rstrip("/") for d in stage.get("deps", [])]
        needed = {script.relative_to(root).as_posix()} | {
            f.relative_to(REPO).as_posix() for f in import_closure(script)
        }
        missing = sorted(f for f in needed if not any(f == d or f.startswith(d + "/") for d in deps))
        if missing:
            gaps[name] = missing
    return gaps


def test_every_stage_depends_on_every_module_its_script_loads():
    assert uncovered(REPO / "dvc.yaml") == {}


def test_the_closure_follows_imports_through_the_package():
    closure = {f.relative_to(SRC).as_posix() for f in import_closure(REPO / "stages" / "karel_eval.py")}
    # karel_eval imports karel.evaluate, which imports the model and tokens; config is read by all
    assert {"worldprobe/__init__.py", "worldprobe/karel/__init__.py", "worldprobe/config.py",
            "worldprobe/karel/evaluate.py", "worldprobe/karel/model.py", "worldprobe/karel/tokens.py"} <= closure


def test_a_removed_dependency_is_found(tmp_path):
    broken = yaml.safe_load((REPO / "dvc.yaml").read_text())
    deps = broken["stages"]["karel_eval"]["deps"]
    deps.remove("src/worldprobe/config.py")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(broken))
    assert uncovered(tmp_path / "dvc.yaml") == {"karel_eval": ["src/worldprobe/config.py"]}


def test_a_folder_dependency_covers_its_files(tmp_path):
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    widened = yaml.safe_load((tmp_path / "dvc.yaml").read_text())
    widened["stages"]["karel_eval"]["deps"] = ["stages/karel_eval.py", "src/worldprobe/"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(widened))
    assert "karel_eval" not in uncovered(tmp_path / "dvc.yaml")


@pytest.mark.parametrize("stage", ["probes", "karel_probes"])
def test_a_stage_that_lost_its_script_dependency_is_found(tmp_path, stage):
    broken = yaml.safe_load((REPO / "dvc.yaml").read_text())
    definition = broken["stages"][stage].get("do", broken["stages"][stage])
    definition["deps"] = [d for d in definition["deps"] if not d.startswith("stages/")]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(broken))
    assert f"stages/{stage}.py" in uncovered(tmp_path / "dvc.yaml")[stage]


def test_every_code_dependency_exists():
    """A dep left behind by a moved module would stop `dvc repro` (a missing dependency)."""
    for name, stage in stages(REPO / "dvc.yaml").items():
        for dep in stage.get("deps", []):
            if str(dep).startswith(("src/", "stages/")):
                assert (REPO / dep).exists(), f"{name}: {dep} does not exist"
