"""Where evaluations write: a private working directory that is each evaluation's CWD and
temporary-file root.

Why: simulators write relative paths and temporary files. Run in the user's CWD, they would
write into it, from every worker at once; and a killed evaluation would leak its temporary
directories. So every evaluation of a run starts in an empty private directory (its CWD, and
``TMPDIR``/``tempfile.tempdir``), which is emptied when the evaluation ends. The directories
live under the run's scratch root (:func:`run_scratch_root`: named after the run directory, so
the next resume of a run killed by ``SIGKILL`` finds and removes what it left behind).

Entering and leaving costs a few µs (two ``chdir`` calls and a look at whether the directory
is still empty), not a directory creation per evaluation.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import weakref
from pathlib import Path

__all__ = ["EvaluationDirectory", "remove_run_scratch", "run_scratch_root"]

_RUN_PREFIX = "archgym-run-"


def run_scratch_root(out: str | Path) -> Path:
    """The scratch root of the run written to ``out``: one directory under the system temporary
    directory per run directory (the same for every resume of it), holding the evaluation
    directories of the loop's process and of its workers."""
    digest = hashlib.sha256(str(Path(out).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"{_RUN_PREFIX}{digest}"


def remove_run_scratch(out: str | Path) -> None:
    """Remove the run's scratch root and everything in it: at the end of a run, and at the start
    of a resume (which holds the run's lock, so whatever is there was left by a killed run)."""
    shutil.rmtree(run_scratch_root(out), ignore_errors=True)


class EvaluationDirectory:
    """A private directory, created under ``root``, that is the CWD and temporary-file root of
    each evaluation run inside :meth:`entered`/:meth:`left`, and is emptied after each.

    Removed when this object is closed, collected or the process exits; a worker's whole scratch
    directory is removed by the loop when the worker is killed.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        if root is not None:
            Path(root).mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="archgym-cwd-", dir=root))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)
        self._saved: tuple[str | None, str | None, str | None] | None = None

    def enter(self) -> None:
        """Make this directory the CWD and temporary root (what an evaluation sees)."""
        try:
            cwd: str | None = os.getcwd()
        except OSError:  # the CWD was deleted under us: evaluate here, return to nowhere
            cwd = None
        self._saved = (cwd, tempfile.tempdir, os.environ.get("TMPDIR"))
        path = str(self.path)
        os.chdir(path)
        tempfile.tempdir = path
        os.environ["TMPDIR"] = path

    def leave(self) -> None:
        """Return to the caller's CWD and temporary root, and empty the directory."""
        if self._saved is None:
            return
        cwd, saved_tempdir, saved_env = self._saved
        self._saved = None
        if cwd is not None:
            os.chdir(cwd)
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        self._empty()

    def _empty(self) -> None:
        try:
            with os.scandir(self.path) as entries:
                if next(entries, None) is None:
                    return
        except FileNotFoundError:  # removed by the evaluation itself
            pass
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self.leave()
        self._finalizer()
