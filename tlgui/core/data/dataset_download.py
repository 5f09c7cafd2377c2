"""Downloading torchvision's built-in data sets, only when the user asks for it.

What to fetch comes from torchvision's own published metadata (``mirrors``/``resources``
for the MNIST family, ``url``/``filename``/``tgz_md5`` for CIFAR and STL-10,
``split_list`` for SVHN); every file streams through :func:`tlgui.core.download.download_file`
into a staging folder, its MD5 is checked against the published one, archives are unpacked
there (``tarfile`` ``filter="data"``), and only complete, verified files are moved into
``root`` in the layout :func:`tlgui.core.data.builtin_sets.read_set` reads. A failed or
cancelled download leaves ``root`` as it was.

Offline computers get a plain answer within a few seconds (the connection deadline of
``download_file``), with what to copy by hand. Folders the user located or downloaded into
are remembered in ``config_dir()/datasets.json``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from tlgui.core.base.cancel import Cancelled, StopFlag, is_cancelled
from tlgui.core.base.download import CONNECT_TIMEOUT, DownloadError, download_file
from tlgui.core.base.errors import DataError
from tlgui.core.base.files import atomic_write_text
from tlgui.core.data.builtin_sets import KNOWN_TORCHVISION
from tlgui.paths import config_dir, data_dir

DATASETS_FILE = "datasets.json"


DEBIAN_ROOTS = {"FashionMNIST": "/usr/share/datasets/fashion-mnist"}  # apt: dataset-fashion-mnist


_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One published file of a data set."""

    urls: tuple[str, ...]  # mirrors, tried in order
    file_name: str
    md5: str | None
    folder: str  # where it goes, relative to root ("" for root itself)
    extract: str | None = None  # a tar archive: the folder it unpacks to


DownloadStage = Literal["download", "verify", "extract"]


@dataclass(frozen=True)
class DownloadProgress:
    """What :func:`download_dataset` is doing; ``total`` None while unknown."""

    file_name: str
    index: int  # 0-based file number
    count: int
    done: int  # bytes
    total: int | None
    stage: DownloadStage = "download"


@dataclass(frozen=True)
class DatasetDownload:
    name: str
    root: Path
    spec: str  # "torchvision:NAME:ROOT", ready for open_source
    downloaded: list[str]  # files fetched now
    skipped: list[str]  # files that were already there
    bytes: int
    message: str


def canonical_name(name: str) -> str:
    lookup = {n.lower(): n for n in KNOWN_TORCHVISION}
    found = lookup.get(str(name).strip().lower())
    if found is None:
        raise DataError(f"unknown built-in data set {name!r} (known: {', '.join(KNOWN_TORCHVISION)})")
    return found


def dataset_files(name: str) -> list[RemoteFile]:
    """The files torchvision publishes for ``name`` (train and test splits only)."""
    import torchvision.datasets as tvd

    name = canonical_name(name)
    cls = getattr(tvd, name)
    if hasattr(cls, "resources"):  # MNIST family: every mirror serves every file
        mirrors = [m if m.endswith("/") else m + "/" for m in cls.mirrors]
        return [
            RemoteFile(tuple(m + file_name for m in mirrors), file_name, md5, f"{name}/raw")
            for file_name, md5 in cls.resources
        ]
    if name == "SVHN":
        return [
            RemoteFile((url,), file_name, md5, "")
            for url, file_name, md5 in (cls.split_list["train"], cls.split_list["test"])
        ]
    return [RemoteFile((cls.url,), cls.filename, cls.tgz_md5, "", extract=cls.base_folder)]


def expected_files(name: str) -> list[str]:
    """Paths (relative to root) that must exist once ``name`` is complete."""
    import torchvision.datasets as tvd

    name = canonical_name(name)
    cls = getattr(tvd, name)
    if name in ("CIFAR10", "CIFAR100"):
        names = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        return [f"{cls.base_folder}/{f}" for f in names]
    if name == "STL10":
        return [f"{cls.base_folder}/{f}" for f, _ in cls.train_list[:2] + cls.test_list]
    return [f"{f.folder}/{f.file_name}" if f.folder else f.file_name for f in dataset_files(name)]


def md5_of(path: Path, cancel: StopFlag = None) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            if is_cancelled(cancel):
                raise Cancelled(f"checking {path.name} was cancelled")
            digest.update(block)
    return digest.hexdigest()


def download_dataset(
    name: str,
    root: str | Path,
    progress: Callable[[DownloadProgress], None] | None = None,
    cancel: StopFlag = None,
    opener: Callable[..., Any] | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> DatasetDownload:
    """Download torchvision's ``name`` into ``root`` (files already there and intact are kept).

    Raises :class:`DownloadError` (offline, server error, MD5 mismatch, bad archive),
    :class:`Cancelled` (nothing new is left in ``root``) or :class:`DataError` (unknown name).
    """
    name = canonical_name(name)
    root = Path(root).expanduser().absolute()
    files = dataset_files(name)
    staging = root / f".tlgui-download-{name}"
    try:
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {staging}: {exc.strerror or exc}") from None
    downloaded, skipped, total_bytes = [], [], 0
    try:
        for index, remote in enumerate(files):
            if is_cancelled(cancel):
                raise Cancelled(f"download of {name} cancelled; nothing more was saved")

            def report(
                done: int, total: int | None, stage: DownloadStage = "download",
                _r: RemoteFile = remote, _i: int = index,
            ) -> None:
                if progress is not None:
                    progress(DownloadProgress(_r.file_name, _i, len(files), done, total, stage))

            if _already_there(name, root, remote, cancel, report):
                skipped.append(remote.file_name)
                continue
            staged = _fetch(remote, staging, report, cancel, opener, timeout, name)
            size = staged.stat().st_size
            report(size, size, "verify")
            if remote.md5 and md5_of(staged, cancel) != remote.md5:
                staged.unlink(missing_ok=True)
                raise DownloadError(
                    f"the downloaded {remote.file_name} does not match the checksum torchvision "
                    f"publishes (MD5 {remote.md5}); the file is damaged, nothing was saved"
                )
            if remote.extract:
                report(0, None, "extract")
                _extract(staged, staging, root, remote.extract, cancel)
            else:
                dest = root / remote.folder / remote.file_name
                dest.parent.mkdir(parents=True, exist_ok=True)
                staged.replace(dest)
            downloaded.append(remote.file_name)
            total_bytes += size
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    spec = f"torchvision:{name}:{root}"
    what = (
        f"downloaded {len(downloaded)} file(s), {total_bytes / 2**20:.1f} MB" if downloaded else "nothing to download"
    )
    kept = f"; {len(skipped)} file(s) were already there" if skipped else ""
    return DatasetDownload(name, root, spec, downloaded, skipped, total_bytes, f"{name}: {what}{kept} ({root})")


def _already_there(name: str, root: Path, remote: RemoteFile, cancel: StopFlag, report) -> bool:
    if remote.extract:
        return all((root / rel).is_file() for rel in expected_files(name))
    dest = root / remote.folder / remote.file_name
    if not dest.is_file():
        return False
    report(dest.stat().st_size, dest.stat().st_size, "verify")
    return remote.md5 is None or md5_of(dest, cancel) == remote.md5


def _fetch(remote, staging, report, cancel, opener, timeout, name) -> Path:
    """Try each mirror; a mirror that timed out ends the search (offline stays fast)."""
    from urllib.request import urlopen

    errors: list[tuple[str, BaseException | None, DownloadError]] = []
    for url in remote.urls:
        seen: dict[str, BaseException] = {}
        real = opener or urlopen

        def recording(request, timeout=None, _real=real, _seen=seen):
            try:
                return _real(request, timeout=timeout)
            except BaseException as exc:
                _seen["error"] = exc
                raise

        started = time.monotonic()
        try:
            return download_file(
                url, staging, remote.file_name, progress=report, cancel=cancel,
                opener=recording, timeout=timeout,
            )
        except DownloadError as exc:
            errors.append((url, seen.get("error"), exc))
            if time.monotonic() - started >= timeout:
                break
    raise _explain(name, remote, errors, timeout)


def _explain(name: str, remote: RemoteFile, errors, timeout: float) -> DownloadError:
    url, cause, _exc = errors[0]
    offline = [e for e in errors if _is_connection_error(e[1], e[2])]
    if len(offline) < len(errors):  # a server answered: its own error says most
        return errors[-1][2]
    host = urlparse(url).netloc or url
    reason = _reason(cause) if cause is not None else f"no answer within {timeout:g} s"
    base = url.rsplit("/", 1)[0] + "/"
    if remote.extract:
        how = (
            f"get {url} on a computer with internet, unpack it here (it holds {remote.extract}/) "
            f"and use Locate folder on the folder that holds {remote.extract}"
        )
    else:
        names = ", ".join(f.file_name for f in dataset_files(name))
        how = (
            f"get {names} from {base} on a computer with internet, put them in one folder "
            "here and use Locate folder on it"
        )
    return DownloadError(
        f"cannot reach {host}: no network connection? ({reason}). On an offline computer, {how} "
        f"(or: tlgui train --data torchvision:{name}:FOLDER)"
    )


def _is_connection_error(cause: BaseException | None, exc: DownloadError) -> bool:
    if cause is None:  # the opener never answered: the deadline ran out
        return "cannot reach" in str(exc)
    return isinstance(cause, (urllib.error.URLError, OSError)) and not isinstance(
        cause, urllib.error.HTTPError
    )


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(getattr(reason, "strerror", None) or reason or type(reason).__name__).strip()[:160]


def _extract(archive: Path, staging: Path, root: Path, folder: str, cancel: StopFlag) -> None:
    """Unpack ``archive`` in staging, then move ``folder`` (or its missing files) into root."""
    out = staging / "unpacked"
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                if is_cancelled(cancel):
                    raise Cancelled(f"unpacking {archive.name} was cancelled; nothing was saved")
                tar.extract(member, out, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DownloadError(f"cannot unpack {archive.name}: {exc}; nothing was saved") from None
    archive.unlink(missing_ok=True)
    unpacked = out / folder
    if not unpacked.is_dir():
        raise DownloadError(f"{archive.name} does not hold the folder {folder}; nothing was saved")
    target = root / folder
    if not target.exists():
        unpacked.replace(target)
        return
    for path in sorted(unpacked.rglob("*")):  # never overwrite what the user already has
        dest = target / path.relative_to(unpacked)
        if path.is_dir():
            dest.mkdir(exist_ok=True)
        elif not dest.exists():
            path.replace(dest)


def default_root() -> Path:
    """Where downloads go unless the user says otherwise."""
    return data_dir() / "datasets"


def _datasets_file() -> Path:
    return config_dir() / DATASETS_FILE


def remembered_roots() -> dict[str, str]:
    """Data set name -> the folder it was last found in (empty when none or unreadable)."""
    try:
        raw = json.loads(_datasets_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    roots = raw.get("roots") if isinstance(raw, dict) else None
    if not isinstance(roots, dict):
        return {}
    return {k: v for k, v in roots.items() if isinstance(k, str) and isinstance(v, str)}


def remember_root(name: str, root: str | Path) -> None:
    """Remember where ``name`` lives; a file that cannot be written only costs a re-locate."""
    roots = remembered_roots()
    roots[canonical_name(name)] = str(root)
    try:
        atomic_write_text(_datasets_file(), json.dumps({"version": 1, "roots": roots}, indent=2) + "\n")
    except OSError:
        pass


def candidate_roots(name: str) -> list[Path]:
    """Folders worth trying for ``name`` without asking: remembered, downloaded, Debian's."""
    name = canonical_name(name)
    found = []
    for text in (remembered_roots().get(name), str(default_root()), DEBIAN_ROOTS.get(name)):
        if text and Path(text).is_dir() and Path(text) not in found:
            found.append(Path(text))
    return found
