"""The one base class of the errors a user can fix, and the checks of where a run or a command may write.

`UserError` marks an error whose message alone tells the user what to do (a bad flag, a malformed CSV, a folder in
use, a full disk): train.py prints it as one `error: ...` line, without a traceback. Every other exception is a bug
of the code and keeps its traceback. The classes of the package's user errors (DataError, CheckpointError,
ConfigError, RunFolderError, ...) derive from it, and also from the built-in class they always had (ValueError,
RuntimeError), so code that catches those keeps working.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class UserError(Exception):
    """An error the user can fix from its message alone (train.py: one `error:` line, no traceback)."""


class UsageError(UserError, ValueError):
    """Arguments that cannot work together, or with the files they name."""


class WriteError(UserError, OSError):
    """The operating system refused a write (disk full, quota, file size limit, permissions); the message names the
    file and the cause, and `advice` what to do."""

    def __init__(self, path: str | Path, error: OSError, advice: str = ""):
        self.path, self.cause, self.advice = Path(path), error, advice
        OSError.__init__(self, error.errno, error.strerror)

    def __str__(self) -> str:
        return f"cannot write {self.path}: {describe_os_error(self.cause)}" + (f"; {self.advice}" if self.advice
                                                                              else "")


def describe_os_error(error: OSError) -> str:
    """The cause of an OSError in words, with a hint for the usual ones."""
    hints = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
             errno.EFBIG: "the file size limit (ulimit -f) is reached", errno.EROFS: "the file system is read-only",
             errno.EACCES: "permission denied", errno.EPERM: "operation not permitted"}
    reason = error.strerror or str(error)
    hint = hints.get(error.errno)
    return f"{reason} ({hint})" if hint and hint.lower() != reason.lower() else reason


def unwritable_reason(path: str | Path) -> str | None:
    """Why this process could not write `path` (None if it could): a folder must be writable itself; a file is
    written to a temporary name beside it and renamed, so the folder it is in (or, if that does not exist yet, the
    nearest existing folder above it) must be writable. Nothing is written to find out."""
    path = Path(os.path.abspath(path))
    folder = path if path.is_dir() else path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable (permission denied)"
    return None
