"""Model artifacts: the fitted pipeline saved with skops, loaded only when it is safe.

Pickle runs arbitrary code on load, so modelsnap never uses it. skops stores a description of
the object tree; before loading, every type it would construct is checked: scikit-learn, numpy,
scipy and modelsnap types are accepted, anything else only when the caller names it in
``trusted``. The file's sha256 is checked before skops even parses it, so a swapped or
corrupted artifact is refused outright.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from modelsnap.core.errors import IntegrityError, SnapshotError, UnsafeArtifactError
from modelsnap.core.files import read_regular, sha256_bytes

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "modelsnap.")


def save_artifact(pipeline: Any, path: Path) -> tuple[str, int]:
    """Write ``pipeline`` to ``path`` with skops (fsynced) and return (sha256, size in bytes)."""
    import skops.io

    data = skops.io.dumps(pipeline)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return sha256_bytes(data), len(data)


def untrusted_types(data: bytes, trusted: Iterable[str] = ()) -> list[str]:
    """Types in a skops payload that are neither on the built-in allow list nor in ``trusted``."""
    import skops.io

    allowed = set(trusted)
    return sorted(
        name
        for name in skops.io.get_untrusted_types(data=data)
        if name not in allowed and not name.startswith(TRUSTED_PREFIXES)
    )


def load_artifact(path: Path, expected_sha256: str, *, trusted: Iterable[str] = ()) -> Any:
    """Load a saved pipeline after checking its hash and the types it contains.

    Raises SnapshotError when the file is missing, IntegrityError when its sha256 differs from
    the recorded one, and UnsafeArtifactError (naming the types) when it holds types outside
    scikit-learn/numpy/scipy/modelsnap that the caller did not explicitly trust.
    """
    import skops.io

    path = Path(path)
    try:
        data = read_regular(path, what="model artifact")  # a FIFO is refused, never waited on
    except FileNotFoundError:
        raise SnapshotError(
            "model artifact not found",
            where=str(path),
            hint="restore it from a backup; 'modelsnap check' lists what is missing",
        ) from None
    except OSError as exc:
        raise SnapshotError(
            f"cannot read the model artifact: {exc.strerror}", where=str(path)
        ) from None
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise IntegrityError(
            f"artifact sha256 {actual[:12]}... does not match the recorded "
            f"{expected_sha256[:12]}...",
            where=str(path),
            hint="the file was changed or replaced after the snapshot; it was not loaded",
        )
    trusted = list(trusted)
    try:
        refused = untrusted_types(data, trusted)
    except Exception as exc:  # skops raises various errors on a malformed archive
        raise IntegrityError(
            f"the artifact is not a valid skops file ({exc})", where=str(path)
        ) from None
    if refused:
        raise UnsafeArtifactError(
            f"the artifact holds untrusted types: {', '.join(refused)}; it was not loaded",
            where=str(path),
            hint="load it only if you know where it came from, trusting those types explicitly "
            "(trusted=[...])",
        )
    everything = skops.io.get_untrusted_types(data=data)
    return skops.io.loads(data, trusted=everything)
