"""What export and import share: the optional mlflow import, the tracking-store connection and
the translation of MLflow's errors into messages that say what, where and how to fix it."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse, urlunparse

from modelsnap.core.errors import ModelsnapError

INSTALL_HINT = "install the extra: pip install 'modelsnap[mlflow]'"
TAG_PREFIX = "modelsnap."
SNAPSHOT_TAG = "modelsnap.snapshot_id"
PROBE_TIMEOUT_SECONDS = 5.0
# MLflow's own limits (mlflow.utils.validation): longer values are cut with a note.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 5000


class MlflowMissing(ModelsnapError):
    """The ``mlflow`` package is not installed. CLI exit code 2."""

    exit_code = 2


class TrackingError(ModelsnapError):
    """The tracking store cannot be used as given: malformed or unreachable URI, unknown run or
    experiment, a filter MLflow cannot read. CLI exit code 2."""

    exit_code = 2


def require_mlflow() -> Any:
    """The ``mlflow`` module, or MlflowMissing saying how to install it."""
    try:
        import mlflow
    except ImportError as exc:
        raise MlflowMissing(
            f"MLflow is not installed ({exc.msg})",
            hint=INSTALL_HINT,
        ) from None
    for name in ("mlflow", "alembic", "sqlalchemy"):  # "Creating initial MLflow database tables"
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


def shown_uri(uri: str) -> str:
    """The URI without a user name or password, as it is printed and recorded."""
    parsed = urlparse(uri)
    if parsed.username is None and parsed.password is None:
        return uri
    host = parsed.hostname or ""
    if parsed.port:
        host = f"{host}:{parsed.port}"
    return urlunparse(parsed._replace(netloc=host))


def _bad_uri(uri: str, message: str) -> TrackingError:
    return TrackingError(
        message,
        where=f"tracking URI {shown_uri(uri)!r}",
        hint="give a URI MLflow understands: sqlite:///path/mlflow.db, http://host:5000, "
        "or a folder path",
    )


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///...`` URI (None for another scheme or in-memory)."""
    if not uri.startswith("sqlite:"):
        return None
    rest = uri[len("sqlite:") :]
    if not rest.startswith("///"):
        return None
    path = unquote(rest[3:].split("?", 1)[0])
    return Path(path) if path and path != ":memory:" else None


def check_uri(uri: str) -> str:
    """Refuse a URI that cannot work, before MLflow is asked (which may retry for minutes)."""
    if not isinstance(uri, str) or not uri.strip():
        raise _bad_uri(str(uri), "the tracking URI is empty")
    uri = uri.strip()
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        if not parsed.hostname:
            raise _bad_uri(uri, "the tracking URI names no host")
        try:
            port = parsed.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise _bad_uri(uri, "the tracking URI's port is not a number") from None
        try:
            with socket.create_connection((parsed.hostname, port), PROBE_TIMEOUT_SECONDS):
                pass
        except OSError as exc:
            raise TrackingError(
                f"the tracking server cannot be reached ({exc.strerror or exc})",
                where=f"tracking URI {shown_uri(uri)!r}",
                hint="start the server (mlflow server ...) or check the host and port",
            ) from None
    elif scheme == "sqlite":
        path = sqlite_path(uri)
        if path is None and ":memory:" not in uri:
            raise _bad_uri(uri, "a SQLite URI is sqlite:/// followed by the database file")
        if path is not None and not path.parent.is_dir():
            raise _bad_uri(uri, f"the database's folder {str(path.parent)!r} does not exist")
    return uri


URI_HINT = (
    "check the URI (sqlite:///path/mlflow.db, http://host:5000) and that the store is an "
    "MLflow tracking store"
)
FILTER_HINT = (
    "use MLflow's search syntax, e.g. \"metrics.f1 > 0.8 and params.max_depth = '8'\" "
    "(see MLflow's search_runs documentation)"
)


def mlflow_failure(uri: str, exc: BaseException, doing: str, hint: str = URI_HINT) -> TrackingError:
    """A clear TrackingError for whatever MLflow, SQLAlchemy or requests raised."""
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    first = text[0][:300] if text else type(exc).__name__
    return TrackingError(
        f"MLflow could not {doing}: {first}",
        where=f"tracking URI {shown_uri(uri)!r}",
        hint=hint,
    )


@contextlib.contextmanager
def mlflow_errors(uri: str, doing: str, hint: str = URI_HINT) -> Iterator[None]:
    """Turn MLflow's exceptions (and the database's, the network's) into a TrackingError."""
    try:
        yield
    except ModelsnapError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; each is shown plainly
        raise mlflow_failure(uri, exc, doing, hint) from None


def connect(uri: str) -> tuple[Any, Any]:
    """``(mlflow, MlflowClient)`` for ``uri``, with the store reached once so a bad URI fails
    here with a clear message."""
    mlflow = require_mlflow()
    uri = check_uri(uri)
    with mlflow_errors(uri, "open the tracking store"):
        client = mlflow.MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    return mlflow, client


def experiment_by_name(client: Any, uri: str, name: str, *, required: bool) -> Any:
    """The experiment called ``name``; None (or a TrackingError when ``required``) if absent."""
    with mlflow_errors(uri, f"look up experiment {name!r}"):
        experiment = client.get_experiment_by_name(name)
    if experiment is not None and getattr(experiment, "lifecycle_stage", "active") != "active":
        experiment = None
    if experiment is None and required:
        with mlflow_errors(uri, "list the experiments"):
            known = [e.name for e in client.search_experiments(max_results=20)]
        raise TrackingError(
            f"no experiment named {name!r}",
            where=f"tracking URI {shown_uri(uri)!r}",
            hint=f"experiments there: {', '.join(map(repr, known)) or 'none'}",
        )
    return experiment


def search_all_runs(client: Any, uri: str, experiment_id: str, filter_string: str = "") -> list:
    """Every active run of one experiment that matches ``filter_string`` (all pages)."""
    runs: list = []
    token = None
    doing = f"search the runs with {filter_string!r}" if filter_string else "list the runs"
    with mlflow_errors(uri, doing, FILTER_HINT if filter_string else URI_HINT):
        while True:
            page = client.search_runs(
                [experiment_id], filter_string=filter_string, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = getattr(page, "token", None)
            if not token:
                break
    return runs


def cut(text: Any, limit: int) -> str:
    value = str(text)
    return value if len(value) <= limit else value[: limit - 14] + " ... (cut)"
