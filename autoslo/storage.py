"""Mirror the `data/` tree to and from S3 through a prefect-aws `S3Bucket` block.

Objects keep the tree's relative paths under the block's `bucket_folder`. Only changed files move:
a file is the same when its size and its S3 ETag match (the MD5 of the content, or for multipart
uploads the MD5 of the part MD5s, computed locally the same way). Nothing is deleted unless asked.
Half-written files (`.*.tmp`) and lock files are never mirrored; downloads land in a temporary
file and are renamed into place.

`AUTOSLO_STORAGE=s3-bucket/<block-name>` tells the flows to work on a mirrored tree
(`mirrored_tree`): pull into a temporary folder, run, push the changes back.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from autoslo.datatree import DataTree
from autoslo.errors import AutosloError, InputError

STORAGE_ENV = "AUTOSLO_STORAGE"
SCHEME = "s3-bucket/"
MULTIPART_CHUNK = 8 * 1024 * 1024  # boto3's default multipart threshold and part size


@dataclass
class SyncReport:
    """What a push or pull moved, kept and deleted (data-relative paths)."""

    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def line(self, verb: str) -> str:
        return (f"{verb} {len(self.copied)} file(s), {len(self.unchanged)} unchanged"
                + (f", {len(self.deleted)} deleted" if self.deleted else ""))


def s3_etag(path: Path) -> str:
    """The ETag S3 gives `path` when uploaded by boto3 (single part or 8 MiB parts)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size <= MULTIPART_CHUNK:
            return hashlib.md5(handle.read(), usedforsecurity=False).hexdigest()
        digests = [hashlib.md5(chunk, usedforsecurity=False).digest()
                   for chunk in iter(lambda: handle.read(MULTIPART_CHUNK), b"")]
    combined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(digests)}"


def _mirrored(relative: str) -> bool:
    name = PurePosixPath(relative).name
    return not (name.startswith(".") and (name.endswith(".tmp") or name.endswith(".lock")))


def local_files(root: Path, path: str | None = None) -> dict[str, Path]:
    """Files under the tree (or one folder or file of it), by data-relative path."""
    start = root / path if path else root
    if start.is_file():
        return {PurePosixPath(path).as_posix(): start} if path else {}
    found = {}
    for file in sorted(start.rglob("*")) if start.is_dir() else []:
        if file.is_file():
            relative = file.relative_to(root).as_posix()
            if _mirrored(relative):
                found[relative] = file
    return found


def remote_files(bucket: Any, path: str | None = None) -> dict[str, dict[str, Any]]:
    """Objects under the block's folder (or one path of the tree), by data-relative path."""
    folder = (bucket.bucket_folder or "").strip("/")
    objects = bucket.list_objects(path or "")
    found = {}
    for obj in objects:
        key = obj["Key"]
        relative = key[len(folder) + 1:] if folder and key.startswith(folder + "/") else key
        if path and not (relative == path or relative.startswith(path.rstrip("/") + "/")):
            continue
        if _mirrored(relative):
            found[relative] = obj
    return found


def _same(file: Path, obj: dict[str, Any]) -> bool:
    return (int(obj.get("Size", -1)) == file.stat().st_size
            and str(obj.get("ETag", "")).strip('"') == s3_etag(file))


def push(root: Path, bucket: Any, path: str | None = None, *, delete: bool = False) -> SyncReport:
    """Upload new and changed files of the tree; with `delete`, remove objects gone locally."""
    report = SyncReport()
    remote = remote_files(bucket, path)
    for relative, file in local_files(root, path).items():
        if relative in remote and _same(file, remote[relative]):
            report.unchanged.append(relative)
            continue
        bucket.upload_from_path(file, relative)
        report.copied.append(relative)
    if delete:
        client = bucket.credentials.get_s3_client()
        for relative in sorted(set(remote) - set(local_files(root, path))):
            client.delete_object(Bucket=bucket.bucket_name, Key=remote[relative]["Key"])
            report.deleted.append(relative)
    return report


def pull(root: Path, bucket: Any, path: str | None = None, *, delete: bool = False) -> SyncReport:
    """Download new and changed objects into the tree; with `delete`, remove files gone remotely."""
    report = SyncReport()
    local = local_files(root, path)
    for relative, obj in remote_files(bucket, path).items():
        target = root / relative
        if relative in local and _same(local[relative], obj):
            report.unchanged.append(relative)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            bucket.download_object_to_path(relative, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        report.copied.append(relative)
    if delete:
        for relative in sorted(set(local) - set(remote_files(bucket, path))):
            local[relative].unlink()
            report.deleted.append(relative)
    return report


def load_bucket(spec: str | None = None) -> Any:
    """The S3Bucket block named by `spec` (`s3-bucket/<name>` or a bare name) or by the env."""
    spec = spec or os.environ.get(STORAGE_ENV)
    if not spec:
        raise InputError(f"no storage: pass --block NAME or set {STORAGE_ENV}=s3-bucket/<block>")
    name = spec[len(SCHEME):] if spec.startswith(SCHEME) else spec
    if "/" in name or not name:
        raise InputError(f"{STORAGE_ENV} must look like s3-bucket/<block-name>, got {spec!r}")
    api_url = _check_block_locally(name)
    from prefect_aws import S3Bucket

    try:
        return S3Bucket.load(name)
    except ValueError as exc:
        if "Unable to find block document" in str(exc) or "not found" in str(exc).lower():
            raise InputError(f"S3Bucket block {name!r} is not registered with the Prefect API; "
                             "create it first (python deployments/blocks.py, see the README)"
                             ) from None
        raise
    except Exception as exc:  # the API did not answer (httpx errors and the like)
        if api_url is None or isinstance(exc, AutosloError):
            raise
        raise AutosloError(f"S3Bucket block {name!r}: the Prefect API at {api_url} did not answer "
                           f"({type(exc).__name__}: {str(exc)[:160]}); start it or fix "
                           "PREFECT_API_URL") from None


REGISTER_HINT = "register it first (python deployments/blocks.py, see the README)"


def _check_block_locally(name: str) -> str | None:
    """Return the configured Prefect API URL; with none, look the block up in Prefect's local
    database directly and refuse at once if it is not there (otherwise Prefect would start a
    temporary server just to find that out: about 10 s and several log lines). Prefect's own
    settings module takes about 2 s to import, so its sources are read here (`_prefect_setting`).
    """
    import sqlite3

    api_url = _prefect_setting(("PREFECT_API_URL",), ("api", "url"))
    if api_url:
        return api_url
    database = _local_database()
    if database is None:
        return None  # another database: let Prefect's temporary server answer
    if not database.is_file():
        raise InputError(f"S3Bucket block {name!r} does not exist: no Prefect API is set "
                         f"(PREFECT_API_URL) and the local Prefect database {database} does not "
                         f"exist; set PREFECT_API_URL to the server holding it, or {REGISTER_HINT}")
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=2) as connection:
            row = connection.execute(
                "SELECT 1 FROM block_document JOIN block_type ON block_document.block_type_id = "
                "block_type.id WHERE block_type.slug = 's3-bucket' AND block_document.name = ?",
                (name,)).fetchone()
    except sqlite3.Error:
        return None  # not a schema we know: let Prefect answer
    if row is None:
        raise InputError(f"S3Bucket block {name!r} does not exist in the local Prefect database "
                         f"{database} (no PREFECT_API_URL is set); set PREFECT_API_URL to the "
                         f"server holding it, or {REGISTER_HINT}")
    return None


def _local_database() -> Path | None:
    """The SQLite file a temporary Prefect server would use, or None for any other database."""
    url = _prefect_setting(("PREFECT_SERVER_DATABASE_CONNECTION_URL",
                            "PREFECT_API_DATABASE_CONNECTION_URL"),
                           ("server", "database", "connection_url"))
    if url is None:
        other = [_prefect_setting((f"PREFECT_SERVER_DATABASE_{key.upper()}",
                                   f"PREFECT_API_DATABASE_{key.upper()}"),
                                  ("server", "database", key)) for key in ("driver", "name", "host")]
        if any(other):
            return None
        return _prefect_home() / "prefect.db"
    if not url.startswith("sqlite") or "memory" in url or "///" not in url:
        return None
    return Path(url.split("///", 1)[1].split("?", 1)[0]).expanduser()


def _prefect_home() -> Path:
    home = _prefect_setting(("PREFECT_HOME",), ("home",), profiles=False)
    return Path(home or "~/.prefect").expanduser()


def _prefect_setting(names: tuple[str, ...], keys: tuple[str, ...], *,
                     profiles: bool = True) -> str | None:
    """A Prefect setting from where Prefect reads it, in its order: the environment, ./.env,
    ./prefect.toml, ./pyproject.toml ([tool.prefect]), then the active profile."""
    import tomllib

    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    dotenv = Path(".env")
    if dotenv.is_file():
        for line in dotenv.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.strip().removeprefix("export ").partition("=")
            if sep and key.strip() in names and value.strip():
                return value.strip().strip("'\"")

    def lookup(table: Any, path: tuple[str, ...]) -> str | None:
        for key in path:
            table = table.get(key) if isinstance(table, dict) else None
        return str(table) if table not in (None, "") else None

    for file, prefix in ((Path("prefect.toml"), ()), (Path("pyproject.toml"), ("tool", "prefect"))):
        if file.is_file():
            try:
                found = lookup(tomllib.loads(file.read_text(encoding="utf-8")), (*prefix, *keys))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                found = None
            if found:
                return found
    if not profiles:
        return None
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or _prefect_home() / "profiles.toml")
    if not path.is_file():
        return None
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or content.get("active") or "ephemeral"
    profile = content.get("profiles", {}).get(active, {})
    return next((str(profile[n]) for n in names if profile.get(n)), None)


@contextmanager
def mirrored_tree(spec: str | None = None) -> Iterator[DataTree]:
    """The local tree, or with `AUTOSLO_STORAGE` set a temporary copy of the bucket's tree whose
    changes are pushed back when the block exits (also after a failure: partial results count)."""
    spec = spec or os.environ.get(STORAGE_ENV)
    if not spec:
        yield DataTree()
        return
    bucket = load_bucket(spec)
    root = Path(tempfile.mkdtemp(prefix="autoslo-s3-"))
    try:
        try:
            pull(root, bucket)
        except Exception as exc:
            if isinstance(exc, AutosloError):
                raise
            raise AutosloError(f"cannot read the bucket of block {spec!r} "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from None
        try:
            yield DataTree(root)
        finally:
            push(root, bucket)
    finally:
        shutil.rmtree(root, ignore_errors=True)
