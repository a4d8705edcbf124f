"""Stage outputs on disk: atomic files and directories, and the base of the typed JSON outputs.

Everything a stage declares as an output is written to a temporary sibling first and moved into place
with ``os.replace`` only once complete, so a rerun (or DVC) never trusts a partial file. Every JSON a
stage writes is an :class:`Output` (a frozen pydantic model) with ``save``/``load``; the models live
in :mod:`worldprobe.spacetime.outputs` and :mod:`worldprobe.karel.outputs`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError


@contextmanager
def atomic_path(target: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write instead of ``target``; move it into place on success.

    With ``directory=True`` the yielded path is an empty directory and ``target`` is replaced whole.
    On an exception (or a kill) the temporary path is removed or, if the process died, left under a
    ``.tmp-`` name that no reader looks at.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".tmp-{target.name}-", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        # mkstemp/mkdtemp create owner-only files; outputs should look like any other file
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod((0o777 if directory else 0o666) & ~umask)
        if directory and target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically, with sorted keys so that diffs of committed metrics stay readable."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


class OutputError(ValueError):
    """A stage output is missing or malformed; the message names the file and the key."""


class Saved:
    """``save``/``load`` for a model written as one JSON file."""

    def save(self, path: str | Path) -> None:
        write_json(path, self.model_dump(mode="json", exclude_unset=True))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        path = Path(path)
        if not path.is_file():
            raise OutputError(f"{path}: no such metrics file (run the stage that writes it first)")
        try:
            data = read_json(path)
        except ValueError as exc:
            raise OutputError(f"{path}: not valid JSON ({exc})") from None
        return cls.parse(data, path)

    @classmethod
    def parse(cls, data: Any, source: str | Path) -> Self:
        """Validate already-loaded JSON; numbers must be numbers (no strings), finite or null."""
        try:
            return cls.model_validate(data, strict=True)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors())
            raise OutputError(f"{source}: {problems}") from None


class Output(Saved, BaseModel):
    """A JSON file a stage writes: frozen, unknown keys refused, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
