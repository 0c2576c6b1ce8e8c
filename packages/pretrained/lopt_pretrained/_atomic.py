"""Writing a file so that readers see the old contents or the new ones, never a part."""

import os
import tempfile


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to a temporary file beside `path`, syncs it, and renames it over `path`."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would create it (mkstemp makes it private)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
