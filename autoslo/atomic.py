"""Write files and folders so that readers never see them half-written (temp file, then rename),
by one process at a time (`one_writer`), and keep a signal from cutting a write that has no
temporary file (a journal append: `uninterrupted`).

Temporary files and folders are created private (mkstemp's 0600, mkdtemp's 0700); before the
rename they get the modes a plain `open`/`mkdir` would give (0666/0777 less the umask), so the
outputs stay readable by the group and others as usual.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from autoslo.errors import AutosloError

E = TypeVar("E", bound=BaseException)


class BusyError(AutosloError):
    """Another process is writing the same output; the message names it (pid and command)."""


_depth = 0  # how many `uninterrupted` blocks the main thread is in
_pending: list[BaseException] = []  # what a signal handler asked to raise meanwhile


@contextmanager
def uninterrupted() -> Iterator[None]:
    """A block that a signal does not cut: a handler calling `raise_when_safe` raises its
    exception when the (outermost) block ends instead (e.g. after an Optuna journal append,
    which a raise half-way leaves with its lock file broken)."""
    global _depth  # signal handlers read one flag: no object to find
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending:
            exc = _pending[0]
            _pending.clear()
            raise exc


def interrupt_pending() -> bool:
    """Whether a signal is waiting for the `uninterrupted` block running to end (long waits in
    such a block poll this to stop early)."""
    return bool(_pending)


def raise_when_safe(exc: BaseException) -> None:
    """Raise `exc` now, or at the end of the `uninterrupted` block running (for signal handlers)."""
    if _depth:
        _pending.append(exc)
        return
    raise exc


def raised_within(exc: BaseException | None, kind: type[E]) -> E | None:
    """The `kind` exception behind `exc`, if any: a signal handler's exception raised while a
    library runs Python on its own behalf (numba unpickling a constant inside compiled code, say)
    comes back wrapped, as the cause or context of a `SystemError` or the library's own error."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


@contextmanager
def unwrapped(kind: type[BaseException]) -> Iterator[None]:
    """Let a `kind` exception (a signal handler's) out of the block as itself, also when a library
    wrapped it on the way (see `raised_within`)."""
    try:
        yield
    except kind:
        raise
    except BaseException as exc:
        if (found := raised_within(exc, kind)) is not None:
            raise found from None
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically: a reader sees the old file or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) atomically, with the umask's mode (e.g. 0644)."""
    write_bytes(path, text.encode("utf-8"))


@contextmanager
def replace_file(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling path for a writer that wants a path (e.g. parquet); on success it
    replaces `path` in one rename, on any error it is removed and `path` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def replace_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it replaces `path` in one rename.

    On any error the temporary folder is removed and `path` is left as it was. The folder gets
    the umask's mode (e.g. 0755) before the rename. An existing folder is swapped with the new
    one in one step where the kernel can (Linux), so a reader never finds `path` missing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())
        if path.exists() and _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # it holds the old folder now
        elif path.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, trash / path.name)
            os.replace(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux `renameat2` with RENAME_EXCHANGE); False where the
    system or the file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def remove_leftovers(path: Path, *, inside: bool = False) -> None:
    """Remove what killed writers of `path` left: its temporary siblings (`.<name>.*.tmp`,
    `.<name>.*.old`) and, with `inside`, every `.*.tmp` under the folder. Call it only while
    holding `path`'s `one_writer` lock (no one else is writing them)."""
    strays = [*path.parent.glob(f".{path.name}.*.tmp"), *path.parent.glob(f".{path.name}.*.old")]
    if inside and path.is_dir():
        strays += list(path.rglob(".*.tmp"))
    for stray in strays:
        if stray.is_dir() and not stray.is_symlink():
            shutil.rmtree(stray, ignore_errors=True)
        else:
            stray.unlink(missing_ok=True)


def _writer(record: Path, patience_s: float = 1.0) -> str:
    """Who holds a lock, as its record says ("process 123 (autoslo tune ...)"). A holder that
    has just taken the lock may not have written its record yet (the record there is then a
    dead holder's, or none): wait up to `patience_s` for a living one."""
    import time

    deadline = time.monotonic() + patience_s
    while True:
        try:
            pid, _, command = record.read_text(encoding="utf-8").strip().partition(" ")
        except OSError:
            pid, command = "", ""
        if pid.isdigit() and _alive(int(pid)):
            return f"process {pid}" + (f" ({command})" if command else "")
        if time.monotonic() >= deadline:
            return "another process"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def one_writer(target: Path, what: str, *, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the lock of `target` (`.<name>.lock` beside it, so --force can remove the target)
    while this process writes it; wait up to `wait_s` for another writer, then raise BusyError
    naming it. The lock is the kernel's (flock): a killed writer never leaves it held.
    """
    from filelock import FileLock, Timeout

    target.parent.mkdir(parents=True, exist_ok=True)
    record = target.parent / f".{target.name}.writer.lock"  # who holds it (pid, command)
    lock = FileLock(str(target.parent / f".{target.name}.lock"), timeout=wait_s)
    try:
        lock.acquire()
    except Timeout:
        raise BusyError(f"{what} is being written by {_writer(record)}; wait for it to finish "
                        "(or stop it), then run again") from None
    try:
        command = " ".join(["autoslo" if a.endswith("__main__.py") else a
                            for a in sys.argv][:12])[:200]
        write_text(record, f"{os.getpid()} {command}\n")
        yield
    finally:
        lock.release()
