"""Writing outputs safely: atomically, with the user's umask, and never over another run.

One home for the write-temp-then-rename pattern. `tempfile.mkstemp`/`mkdtemp` create 0600
files and 0700 directories whatever the umask; renamed into place, they would make a
user's report, dataset or checkpoint private. Every helper here chmods what it created to
what a plain `open()`/`mkdir()` would have given (`0o666 & ~umask`, `0o777 & ~umask`).

The output policy (`check_output_dir`): a command refuses to write into a directory that
already holds files it would write (a previous run) unless `--force`; with `--force` it
replaces only those files, never anything else in the directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pathrl.errors import PathrlError


def cache_dir() -> Path:
    """Where generated artefacts live (the demo database, converted models, answer caches):
    $PATHRL_HOME or ~/.cache/pathrl."""
    root = Path(os.environ.get("PATHRL_HOME") or Path.home() / ".cache" / "pathrl")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error("create", root, exc) from None
    return root


def current_umask() -> int:
    """The process umask (read from /proc where possible: setting it to read it races)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Permissions of a new plain file under the current umask."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Permissions of a new directory under the current umask."""
    return 0o777 & ~current_umask()


def apply_umask(root: str | Path) -> None:
    """Give `root` (a file, or a directory and everything under it) the umask's permissions.

    For libraries that write private files themselves (safetensors writes 0600)."""
    root = Path(root)
    entries = [root, *root.rglob("*")] if root.is_dir() else [root]
    files, dirs = file_mode(), dir_mode()
    for entry in entries:
        if not entry.is_symlink():
            entry.chmod(dirs if entry.is_dir() else files)


def _nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _os_error(action: str, path: Path, exc: OSError) -> PathrlError:
    return PathrlError(f"cannot {action} {path}: {exc.strerror or exc}")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file beside it, then rename: a reader (or
    a crash) never sees half a file. An existing file keeps its permissions."""
    path = Path(path)
    if path.is_dir():
        raise PathrlError(f"{path} is a directory; give a file path")
    blocker = _nearest_existing(path.parent)
    if not blocker.is_dir():
        raise PathrlError(f"cannot write {path}: {blocker} is a file, not a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.is_file() else file_mode()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _os_error("write", path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _os_error("write", path, exc) from None
        raise
    return path


def atomic_torch_save(path: str | Path, obj: object) -> Path:
    """`torch.save` through `atomic_write_bytes` (checkpoints: never half a file)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """`atomic_write_bytes` for text."""
    return atomic_write_bytes(path, text.encode(encoding))


def check_output_dir(path: str | Path, force: bool, what: str,
                     owned: Iterable[str] = ()) -> list[Path]:
    """Apply the output policy to directory `path` before anything is computed or written
    (it creates nothing, so a later user error leaves no empty directory behind).

    `owned` names the entries (files or sub-directories, relative to `path`) the command
    writes. Returns those that exist and will be replaced. Raises `PathrlError` when `path`
    is a file, when it could not be created or written, or when it already holds some of
    `owned` (another run's output) and `force` is off. Other entries are never touched."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PathrlError(f"{what} {path} is a file, not a directory")
    existing = [path / name for name in owned if (path / name).exists()]
    if existing and not force:
        shown = ", ".join(p.name for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise PathrlError(f"{what} {path} already holds a previous run ({shown}); pass "
                          "--force to replace those files, or choose another directory")
    check_writable(path, what)
    return existing


def check_output_file(path: str | Path, force: bool, what: str) -> Path:
    """The output policy for one file: not a directory, not overwritten without `force`,
    and its directory writable (nothing is created)."""
    path = Path(path)
    if path.is_dir():
        raise PathrlError(f"{what} {path} is a directory; give a file path")
    if path.exists() and not force:
        raise PathrlError(f"{what} {path} exists (pass --force to overwrite it)")
    check_writable(path.parent, what)
    return path


def check_writable(directory: str | Path, what: str) -> None:
    """`directory`, or the nearest ancestor that exists, is a writable directory (an empty
    directory is created there and removed at once: nothing is left behind)."""
    directory = Path(directory).absolute()
    probe = _nearest_existing(directory)
    if not probe.is_dir():
        raise PathrlError(f"cannot create {what} {directory}: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PathrlError(f"cannot write {what} {directory}: {probe} is not writable")
    try:  # access() says yes to root almost everywhere: only creating something tells
        os.rmdir(tempfile.mkdtemp(prefix=".pathrl-probe.", dir=probe))
    except OSError as exc:
        raise PathrlError(f"cannot write {what} {directory}: {probe} is not writable "
                          f"({exc.strerror or exc})") from None


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory to fill; on success it replaces `path` in one
    rename (an existing `path` is moved aside first and deleted after), on failure it is
    removed and `path` is left as it was. Call `check_output_dir` first: this replaces the
    whole of `path`, so only use it for a directory the command owns entirely."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise _os_error("create", path, exc) from None
    try:
        yield tmp
        apply_umask(tmp)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old{os.getpid()}")
            path.rename(old)
        tmp.rename(path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _os_error("write", path, exc) from None
        raise
