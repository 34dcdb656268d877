"""Which files of the corpus folders may be read, and reading them safely.

The corpus folders are untrusted input (a git clone can carry symlinks). The rules:

- only regular files are read; a symlink is resolved and read only if its target lies inside
  one of the configured folders (so `env.md -> /proc/self/environ` or `x.md -> /etc/passwd`
  are skipped); folder symlinks are not followed; loops are caught by the resolution;
- nothing on the kernel's pseudo file systems (/proc, /sys, /dev) is read, even through a
  configured folder there: their files lie about their size and can hold secrets;
- a file is opened with O_NOFOLLOW | O_NONBLOCK and checked again on the open descriptor
  (regular file, same inode as listed), so one swapped for a symlink or a fifo after listing is
  refused, and reading never blocks;
- a file larger than the size cap is skipped before it is read, and reading stops at the cap
  whatever the size said (bounded memory);
- a file with more than one hard link is skipped: a hard link is indistinguishable from the
  file it links to, which may lie anywhere on the same file system (`ln /etc/passwd
  corpus/x.txt`); copy such a file into the corpus instead.

Every file refused is reported once as a `SkippedFile` (path relative to its folder, reason).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Files bigger than this are skipped: the index is for documents, not dumps.
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
_PSEUDO_FS = ("/proc", "/sys", "/dev")


class SkipFile(Exception):
    """This file is not indexed; the message is the reason shown to the user."""


@dataclass(frozen=True)
class CorpusFile:
    """A regular file inside a corpus folder, as listed."""

    root_index: int
    rel: str  # posix path relative to its folder: the machine-independent name
    path: str  # the listed path (may be a symlink whose target was checked)
    real: str  # the resolved target, inside a corpus folder
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @property
    def signature(self) -> tuple[int, int, int, int]:
        """What says the file changed: size, mtime and ctime in ns, inode. ctime cannot be set
        by a user (unlike mtime), so a rewrite that restores size and mtime is still seen."""
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode)

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.rel)[1].lower()

    @property
    def stem(self) -> str:
        return os.path.splitext(os.path.basename(self.rel))[0]


@dataclass(frozen=True)
class SkippedFile:
    rel: str
    reason: str

    def line(self) -> str:
        return f"skipped {self.rel}: {self.reason}"


@dataclass
class Listing:
    files: list[CorpusFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def is_pseudo_fs(path: Path | str) -> bool:
    return any(_inside(str(path), pseudo) for pseudo in _PSEUDO_FS)


def _inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or below it (both absolute and normalised)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def list_files(
    roots: Sequence[Path],
    suffixes: frozenset[str],
    exclude: Path | None = None,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Listing:
    """The readable files with one of `suffixes` under the (resolved) `roots`, in a stable
    order; every other candidate file is in `skipped` with its reason. (Strings and os calls,
    not pathlib: this runs for every file of the corpus at every open.)"""
    listing = Listing()
    folders = [str(r) for r in roots]
    for index, root in enumerate(folders):
        for path, rel in _walk(root, str(exclude) if exclude else None, listing, roots, index):
            if os.path.splitext(rel)[1].lower() not in suffixes:
                continue
            try:
                listing.files.append(_check(index, path, rel, folders, max_bytes))
            except SkipFile as skip:
                listing.skipped.append(SkippedFile(_display(roots, index, rel), str(skip)))
    return listing


def _display(roots: Sequence[Path], index: int, rel: str) -> str:
    return rel if len(roots) == 1 else f"{roots[index].name}/{rel}"


def _walk(
    root: str, exclude: str | None, listing: Listing, roots: Sequence[Path], index: int
) -> Iterator[tuple[str, str]]:
    """(path, relative posix name) of every non-hidden file entry under `root`; folder
    symlinks are reported, not followed; the kernel's pseudo file systems are not entered."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else f"{rel_dir}/"
        kept = []
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if name.startswith(".") or full == exclude or is_pseudo_fs(full):
                continue
            if os.path.islink(full):
                display = _display(roots, index, prefix + name)
                listing.skipped.append(SkippedFile(display, "folder symlink (not followed)"))
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.startswith("."):
                yield os.path.join(dirpath, name), prefix + name


def _check(index: int, path: str, rel: str, roots: list[str], max_bytes: int) -> CorpusFile:
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise SkipFile(f"cannot be read ({exc.strerror or exc})") from exc
    real = path
    if stat.S_ISLNK(info.st_mode):
        real, info = _follow(path, roots)
    if is_pseudo_fs(real):
        raise SkipFile(f"on a kernel pseudo file system ({real.split(os.sep)[1]})")
    if not stat.S_ISREG(info.st_mode):
        raise SkipFile(f"not a regular file ({_kind(info.st_mode)})")
    if info.st_nlink > 1:
        raise SkipFile(_hard_link(info.st_nlink))
    if info.st_size > max_bytes:
        raise SkipFile(f"too large ({_size(info.st_size)} > {_size(max_bytes)} cap)")
    return CorpusFile(
        root_index=index,
        rel=rel,
        path=path,
        real=real,
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        ctime_ns=info.st_ctime_ns,
        inode=info.st_ino,
        device=info.st_dev,
    )


def _follow(path: str, roots: list[str]) -> tuple[str, os.stat_result]:
    """The symlink's final target and its stat, if it stays inside a corpus folder."""
    try:
        real = os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SkipFile("symlink loop") from exc
        if exc.errno == errno.ENOENT:
            raise SkipFile("broken symlink") from exc
        raise SkipFile(f"cannot be read ({exc.strerror or exc})") from exc
    if is_pseudo_fs(real):
        raise SkipFile(f"on a kernel pseudo file system ({real.split(os.sep)[1]})")
    if not any(_inside(real, root) for root in roots):
        raise SkipFile("symlink leads outside the corpus folders")
    try:
        return real, os.stat(real)
    except OSError as exc:
        raise SkipFile(f"cannot be read ({exc.strerror or exc})") from exc


def read_bytes(file: CorpusFile, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """The file's bytes, read from the checked target with bounded memory; SkipFile if it is
    no longer the file that was listed, is not a regular file, or is over the cap."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(file.real, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SkipFile("replaced by a symlink after listing") from exc
        raise SkipFile(f"cannot be read ({exc.strerror or exc})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SkipFile(f"not a regular file ({_kind(info.st_mode)})")
        if (info.st_dev, info.st_ino) != (file.device, file.inode):
            raise SkipFile("replaced after listing")
        if info.st_nlink > 1:
            raise SkipFile(_hard_link(info.st_nlink))
        chunks = []
        total = 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise SkipFile(f"too large (over the {_size(max_bytes)} cap when read)")
        return b"".join(chunks)
    except OSError as exc:
        raise SkipFile(f"cannot be read ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)


def _hard_link(links: int) -> str:
    # One inode, several names: it looks like an ordinary file of the corpus, yet it is the same
    # file as its other names, which may be anywhere on the file system (`ln /etc/passwd x.txt`).
    return f"hard link ({links} names for one file; could be a file from outside the corpus)"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a fifo"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "special file"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
