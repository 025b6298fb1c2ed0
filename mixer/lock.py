"""One run per folder: the lock file a run holds in its folder while it writes there.

A run claims its folder by creating `.lock` in it exclusively (`O_CREAT | O_EXCL`: of two runs started at the same
moment exactly one creates it) and writing into it its process id, host, start time and command line; it keeps an
advisory lock (`flock`) on that file until it releases the folder, which removes the file. The operating system drops
the flock when the process ends in any way (kill -9 and out-of-memory kills included), so a lock file whose flock can
be taken was left by a process that no longer runs: a stale lock. It is taken over -- removed by the process that
holds its flock, then created anew -- and the run says so in a note naming the process that left it. Taking over is
safe where refusing would only add a step: the holder has ended, so no two processes write into the folder, and
everything else the folder holds is still judged by the usual rules (a folder holding a run is refused unless
--resume continues it or --overwrite replaces it). A live holder is named in the refusal. Where flock is missing
(Windows) a lock file is never judged stale: the message says to delete it once its process has ended.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

from .errors import UserError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
UNREADABLE = {"unreadable": True}  # the holder of a lock file this process may not read


class FolderInUse(UserError, ValueError):
    """The folder is claimed by a run that is still running."""


def _try_flock(fd: int) -> bool:
    """Take the exclusive flock of `fd` without waiting; False if another open file holds it."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read(fd: int) -> dict[str, Any]:
    """What the lock file of `fd` says about its holder ({} if it holds nothing readable)."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    try:
        holder = json.loads(b"".join(chunks).decode())
    except (ValueError, UnicodeDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


def describe(holder: dict[str, Any]) -> str:
    """"process 1234 on host h, started 2026-12-04 14:02:11 (python train.py ...)" from what is known."""
    if holder == UNREADABLE:
        return "a process of another user (its lock file cannot be read)"
    if not holder:
        return "a process that left no details"
    text = f"process {holder.get('pid', '?')} on host {holder.get('host', '?')}"
    if holder.get("started"):
        text += f", started {holder['started']}"
    if holder.get("command"):
        text += f" ({holder['command']})"
    return text


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd` (a releasing run removes the file before it lets go)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


class FolderLock:
    """The claim of one folder: `acquire` (refuses with FolderInUse if a running process holds it; takes over a
    stale one, recording its holder in `took_over`), `release`."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / LOCK_NAME
        self.fd: int | None = None
        self.took_over: dict[str, Any] | None = None

    @staticmethod
    def holder(folder: str | Path) -> dict[str, Any] | None:
        """The holder of the folder's lock if a running process holds it; None if there is no lock or a stale one.
        Changes nothing."""
        path = Path(folder) / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except PermissionError:
            return UNREADABLE
        try:
            return None if _try_flock(fd) else _read(fd)
        finally:
            os.close(fd)  # closing drops a flock taken here

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": datetime.datetime.now().isoformat(sep=" ", timespec="seconds"),
              "command": shlex.join([Path(sys.executable).name, *sys.argv])}
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                self._remove_if_stale()
                continue
            if fcntl is not None and not (_try_flock(fd) and _same_file(fd, self.path)):
                os.close(fd)  # judged stale and removed by another run in the instant before the flock: look again
                continue
            os.write(fd, (json.dumps(me) + "\n").encode())
            self.fd = fd
            return

    def _remove_if_stale(self) -> None:
        """Remove the lock file if its holder has ended (recording the holder in `took_over`); refuse with
        FolderInUse if a running process holds it. Only the process holding a file's flock removes it, so a live
        lock is never removed."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:  # released in between
            return
        except PermissionError:
            raise FolderInUse(self._in_use(UNREADABLE)) from None
        try:
            if not _try_flock(fd):
                raise FolderInUse(self._in_use(_read(fd)))
            if not _same_file(fd, self.path):  # its holder removed it while releasing it
                return
            holder = _read(fd)
            try:
                self.path.unlink()
            except PermissionError:
                raise FolderInUse(f"{self.path} is the lock of {describe(holder)}, which has ended, but this process "
                                  "may not remove it: delete it, or choose another folder") from None
            self.took_over = holder
        finally:
            os.close(fd)

    def _in_use(self, holder: dict[str, Any]) -> str:
        folder = self.path.parent
        if fcntl is None:
            return (f"{folder} is in use by {describe(holder)} (its lock file {self.path}); once that process has "
                    "ended, delete the lock file, or choose another folder")
        return (f"{folder} is in use by {describe(holder)}: one run per folder; wait for it to finish, or choose "
                "another folder")

    def release(self) -> None:
        """Remove the lock file and let go of it (nothing if not held)."""
        if self.fd is None:
            return
        if _same_file(self.fd, self.path):
            self.path.unlink()
        os.close(self.fd)
        self.fd = None


def in_use_message(folder: str | Path, holder: dict[str, Any]) -> str:
    """The refusal of a folder held by a running process."""
    return FolderLock(folder)._in_use(holder)
