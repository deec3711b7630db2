"""Hostile artifacts: a folder from a stranger may hold model files built to run code on load.

The attacker controls the whole folder, so each payload is installed *with* a matching
``artifact_sha256`` in its snapshot: the hash check passes and only the trusted-types check
stands between the file and the interpreter. Every command that loads artifacts (``profile``,
``edge``) must refuse it and run nothing (the marker file never appears). Each payload is first
shown to be live: loaded the unsafe way in a scratch process, it does create its marker. A
tampered artifact (hash mismatch) is refused before it is parsed, and ``review`` never imports
skops or scikit-learn at all.
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import IntegrityError
from modelsnap.core.evaluation.artifacts import load_artifact
from modelsnap.core.files import sha256_bytes

from .conftest import assert_clean_failure, cli, snapshot_id_of

pytestmark = pytest.mark.slow

EDGE_CSV = "case,severity,a,b,label\nzero,must-pass,0,0,neg\nfar,normal,3,1,pos\n"


def _skops_zip(schema: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return buffer.getvalue()


def _json_str(text: str, ident: int) -> dict:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(text),
        "is_json": True,
        "__id__": ident,
    }


def _list(items: list[dict], ident: int) -> dict:
    return {
        "__class__": "list",
        "__module__": "builtins",
        "__loader__": "ListNode",
        "content": items,
        "__id__": ident,
    }


def _empty_dict(ident: int) -> dict:
    return {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": {},
        "key_types": _list([], ident + 1),
        "__id__": ident,
    }


def reduce_node(module: str, name: str, args: list[dict], ident: int = 1) -> dict:
    """A node that calls ``module.name(*args)`` when constructed (skops' reduce loader)."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": args,
            "__id__": ident + 1000,
        },
        "__id__": ident,
    }


def skops_calling(module: str, name: str, args: list[dict]) -> bytes:
    """A skops file whose root node calls ``module.name(*args)`` on load."""
    return _skops_zip(
        {**reduce_node(module, name, args), "protocol": 2, "_skops_version": "0.16.0"}
    )


def skops_calling_os_system(command: str) -> bytes:
    """A skops file whose root node calls ``os.system(command)`` when constructed."""
    return skops_calling("os", "system", [_json_str(command, 2)])


def callable_payloads(marker: Path) -> dict[str, tuple[str, bytes]]:
    """Each way of running code from a skops file: name -> (the type refused, the file)."""
    touch = f"import pathlib; pathlib.Path({str(marker)!r}).touch()"
    return {
        # numpy's test helper: exec(astr, dict). Trusted by the old "numpy." prefix.
        "numpy-runstring": (
            "numpy.testing._private.utils.runstring",
            skops_calling(
                "numpy.testing._private.utils", "runstring", [_json_str(touch, 2), _empty_dict(3)]
            ),
        ),
        # scikit-learn's test helper runs a Python script. Trusted by the old "sklearn." prefix.
        "sklearn-script-runner": (
            "sklearn.utils._testing.assert_run_python_script_without_output",
            skops_calling(
                "sklearn.utils._testing",
                "assert_run_python_script_without_output",
                [_json_str(touch, 2)],
            ),
        ),
        "os-system": ("os.system", skops_calling_os_system(f"touch {marker}")),
        "builtins-eval": (
            "builtins.eval",
            skops_calling("builtins", "eval", [_json_str(f"exec({touch!r})", 2)]),
        ),
        "subprocess-popen": (
            "subprocess.Popen",
            skops_calling(
                "subprocess",
                "Popen",
                [_list([_json_str("touch", 3), _json_str(str(marker), 4)], 2)],
            ),
        ),
    }


def skops_importing_module(module: str) -> bytes:
    """A skops file holding an instance of ``module.Payload``: loading it imports the module."""
    return _skops_zip(
        {
            "__class__": "Payload",
            "__module__": module,
            "__loader__": "ObjectNode",
            "content": {
                "__class__": "dict",
                "__module__": "builtins",
                "__loader__": "DictNode",
                "content": {},
                "key_types": {
                    "__class__": "list",
                    "__module__": "builtins",
                    "__loader__": "ListNode",
                    "content": [],
                    "__id__": 5,
                },
                "__id__": 4,
            },
            "__id__": 1,
            "protocol": 2,
            "_skops_version": "0.16.0",
        }
    )


class _Reduce:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def pickle_calling_os_system(command: str) -> bytes:
    return pickle.dumps(_Reduce(command))


def payloads(marker: Path) -> dict[str, bytes]:
    command = f"touch {marker}"
    return {
        "skops-os-system": skops_calling_os_system(command),
        "pickle-renamed": pickle_calling_os_system(command),
        "skops-own-module": skops_importing_module("evil_module"),
    }


EVIL_MODULE = """
from pathlib import Path
Path({marker!r}).touch()  # runs on import


class Payload:
    def __setstate__(self, state):
        Path({marker!r}).touch()
"""

UNSAFE_LOAD = """
import pickle, sys
import skops.io as sio
data = open(sys.argv[1], "rb").read()
if sys.argv[2] == "pickle-renamed":
    pickle.loads(data)
else:
    sio.loads(data, trusted=sio.get_untrusted_types(data=data))
"""


def install(root: Path, snapshot_id: str, data: bytes) -> None:
    """Replace the snapshot's artifact and re-seal its hash, as an attacker with the folder can."""
    path = root / "snapshots" / f"{snapshot_id}.toml"
    snapshot = tomllib.loads(path.read_text())
    (root / snapshot["model"]["artifact"]).write_bytes(data)
    snapshot["model"]["artifact_sha256"] = sha256_bytes(data)
    snapshot["model"]["size_bytes"] = len(data)
    path.write_text(tomli_w.dumps(snapshot))


@pytest.mark.parametrize("kind", ["skops-os-system", "pickle-renamed", "skops-own-module"])
def test_a_payload_that_would_run_code_is_refused_and_runs_nothing(
    ranked_project: Path, tmp_path: Path, kind: str
) -> None:
    root = ranked_project
    marker = tmp_path / f"PWNED-{kind}"
    data = payloads(marker)[kind]
    (root / "evil_module.py").write_text(EVIL_MODULE.format(marker=str(marker)))

    # The payload is live: the unsafe way of loading it creates the marker.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "evil_module.py").write_text((root / "evil_module.py").read_text())
    (scratch / "payload").write_bytes(data)
    subprocess.run(
        [sys.executable, "-c", UNSAFE_LOAD, "payload", kind],
        cwd=scratch,
        capture_output=True,
        timeout=120,
    )
    assert marker.exists(), "the payload should be live when loaded unsafely"
    marker.unlink()

    tree = snapshot_id_of(root, "tree")
    install(root, tree, data)
    with pytest.raises(IntegrityError) as refused:  # UnsafeArtifactError is an IntegrityError
        snapshot = tomllib.loads((root / "snapshots" / f"{tree}.toml").read_text())
        load_artifact(root / snapshot["model"]["artifact"], snapshot["model"]["artifact_sha256"])
    assert "it was not loaded" in str(refused.value) or "not a valid skops" in str(refused.value)

    profile = cli("profile", str(root), tree, "--latency-trials", "2", cwd=root)
    assert_clean_failure(profile)
    assert "untrusted" in profile.stderr or "not a valid skops" in profile.stderr, profile.stderr

    text = (root / "modelsnap.toml").read_text()
    (root / "modelsnap.toml").write_text(
        text.replace('target = "label"', 'target = "label"\nedge_cases = "edge_cases.csv"')
    )
    (root / "edge_cases.csv").write_text(EDGE_CSV)
    edge = cli("edge", str(root), "--format", "json", cwd=root)
    assert edge.returncode == 1 and "Traceback" not in edge.stderr, edge.stderr
    results = {r["snapshot_id"]: r for r in json.loads(edge.stdout)["result"]}
    assert "error" in results[tree] and "error" not in results[snapshot_id_of(root, "logistic")]

    assert not marker.exists(), "the hostile artifact ran code"
    snapshots = sorted(p.name for p in (root / "snapshots").glob("*.toml"))
    assert len(snapshots) == 2  # profile wrote nothing


def test_a_tampered_artifact_is_refused_before_parsing(ranked_project: Path) -> None:
    root = ranked_project
    tree = snapshot_id_of(root, "tree")
    snapshot = tomllib.loads((root / "snapshots" / f"{tree}.toml").read_text())
    artifact = root / snapshot["model"]["artifact"]
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the archive
    artifact.write_bytes(bytes(data))
    profile = cli("profile", str(root), tree, "--latency-trials", "2")
    assert_clean_failure(profile)
    assert "sha256" in profile.stderr
    edge_ok = cli("check", str(root), "--format", "json")
    findings = json.loads(edge_ok.stdout)["findings"]
    assert [f["kind"] for f in findings] == ["files"]
    assert "does not match its recorded sha256" in findings[0]["message"]


REVIEW_LOADER = """
import sys
from modelsnap.tui.review_data import ReviewData
from modelsnap.core.files import read_toml
import modelsnap.tui.review_app
data = ReviewData.load(sys.argv[1])
for row in data.rows:
    read_toml(data.root / "snapshots" / (row["id"] + ".toml"))
heavy = sorted(m for m in ("skops", "skops.io", "sklearn", "pandas", "scipy") if m in sys.modules)
print(len(data.rows), heavy)
"""


def test_review_never_loads_artifacts(ranked_project: Path, tmp_path: Path) -> None:
    root = ranked_project
    marker = tmp_path / "PWNED-review"
    install(root, snapshot_id_of(root, "tree"), skops_calling_os_system(f"touch {marker}"))
    proc = subprocess.run(
        [sys.executable, "-c", REVIEW_LOADER, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2", "[]"]
    assert not marker.exists()


def _wait_for(path: Path, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.exists()


def _with_edge_cases(root: Path) -> None:
    text = (root / "modelsnap.toml").read_text()
    (root / "modelsnap.toml").write_text(
        text.replace('target = "label"', 'target = "label"\nedge_cases = "edge_cases.csv"')
    )
    (root / "edge_cases.csv").write_text(EDGE_CSV)


@pytest.mark.parametrize("kind", sorted(callable_payloads(Path("x"))))
def test_a_callable_in_a_reduce_node_is_refused_by_name(
    ranked_project: Path, tmp_path: Path, kind: str
) -> None:
    """numpy's and scikit-learn's own code-running helpers are refused like os.system: the
    allow-list holds classes, not every name under a trusted package."""
    root = ranked_project
    marker = tmp_path / f"PWNED-{kind}"
    refused_type, data = callable_payloads(marker)[kind]

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "payload").write_bytes(data)
    subprocess.run(
        [sys.executable, "-c", UNSAFE_LOAD, "payload", kind],
        cwd=scratch,
        capture_output=True,
        timeout=120,
    )
    assert _wait_for(marker), "the payload should be live when loaded unsafely"
    marker.unlink()

    tree = snapshot_id_of(root, "tree")
    install(root, tree, data)
    _with_edge_cases(root)

    profile = cli("profile", str(root), tree, "--latency-trials", "2", cwd=root)
    assert_clean_failure(profile)
    assert refused_type in profile.stderr and "untrusted" in profile.stderr, profile.stderr

    edge = cli("edge", str(root), "--format", "json", cwd=root)
    assert edge.returncode == 1 and "Traceback" not in edge.stderr, edge.stderr
    assert refused_type in edge.stderr, edge.stderr
    results = {r["snapshot_id"]: r for r in json.loads(edge.stdout)["result"]}
    assert refused_type in results[tree]["error"]
    assert "error" not in results[snapshot_id_of(root, "logistic")]

    time.sleep(0.5)  # a spawned process would have had time to touch the marker
    assert not marker.exists(), "the hostile artifact ran code"
    assert len(list((root / "snapshots").glob("*.toml"))) == 2  # profile wrote nothing


PLANTED = """
import pathlib
pathlib.Path({marker!r}).touch()
raise SystemExit("planted module imported")
"""


def test_a_module_planted_in_the_folder_is_never_imported(
    ranked_project: Path, tmp_path: Path
) -> None:
    """The worker runs with the project folder as its working directory; a ``threadpoolctl.py``
    or ``json.py`` placed there must not shadow the real module (python -P)."""
    root = ranked_project
    marker = tmp_path / "PWNED-planted"
    for name in ("threadpoolctl", "json", "psutil", "ctypes"):
        (root / f"{name}.py").write_text(PLANTED.format(marker=str(marker)))
    _with_edge_cases(root)
    profile = cli("profile", str(root), snapshot_id_of(root, "tree"), "--latency-trials", "2")
    assert profile.returncode == 0, profile.stderr
    edge = cli("edge", str(root), "--format", "json")
    assert edge.returncode == 0, edge.stderr
    assert not marker.exists(), "a module from the project folder was imported"


EDGE_IN_PROCESS = """
import sys
from modelsnap.api.edge import run_edge_cases
record = run_edge_cases(sys.argv[1])
loaded = sorted(m for m in ("skops", "skops.io", "sklearn.tree") if m in sys.modules)
print(sum("error" not in r for r in record["result"]), loaded)
"""


def test_edge_cases_load_artifacts_only_in_the_worker(ranked_project: Path) -> None:
    """The caller of ``run_edge_cases`` (CLI, TUI, notebook) never parses an artifact."""
    root = ranked_project
    _with_edge_cases(root)
    proc = subprocess.run(
        [sys.executable, "-c", EDGE_IN_PROCESS, str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2", "[]"], proc.stdout


# --------------------------------------------------------------------------- fuzzed schemas

DANGEROUS = [
    ("os", "system"),
    ("posix", "system"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "getattr"),
    ("builtins", "__import__"),
    ("subprocess", "Popen"),
    ("subprocess", "check_call"),
    ("importlib", "import_module"),
    ("numpy.testing._private.utils", "runstring"),
    ("numpy", "load"),
    ("sklearn.utils._testing", "assert_run_python_script_without_output"),
    ("sklearn.utils", "_print_elapsed_time"),
    ("sklearn.base", "clone"),
    ("scipy.io", "loadmat"),
    ("modelsnap.core.files", "write_text"),
]
ALLOWED = [
    ("sklearn.tree._tree", "Tree"),
    ("numpy", "dtype"),
    ("sklearn.pipeline", "Pipeline"),
    ("sklearn.tree._classes", "DecisionTreeClassifier"),
    ("builtins", "dict"),
    ("numpy", "ndarray"),
]
LOADERS = [
    "ConstructorFromReduceNode",
    "ObjectNode",
    "FunctionNode",
    "TypeNode",
    "MethodNode",
    "PartialNode",
    "ReduceNode",
    "DictNode",
    "JsonNode",
]


def _nodes(tree: object) -> list[dict]:
    found: list[dict] = []
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__class__" in item and "__module__" in item:
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@pytest.fixture(scope="module")
def real_artifact(_ranked_template: Path) -> tuple[dict, dict[str, bytes], object]:
    from modelsnap.core.project.parse import load_project

    root = _ranked_template
    snapshot = tomllib.loads(
        (root / "snapshots" / f"{snapshot_id_of(root, 'tree')}.toml").read_text()
    )
    with zipfile.ZipFile(root / snapshot["model"]["artifact"]) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members.pop("schema.json"))
    return schema, members, load_project(root)


def _mutate(schema: dict, mutations: list, marker: Path) -> dict:
    import copy

    schema = copy.deepcopy(schema)
    nodes = _nodes(schema)
    touch = f"import pathlib; pathlib.Path({str(marker)!r}).touch()"
    for index, kind, value in mutations:
        node = nodes[index % len(nodes)]
        if kind == "name":
            node["__module__"], node["__class__"] = value
        elif kind == "loader":
            node["__loader__"] = value
        elif kind == "payload":  # keep the node's type, make it a call with a payload
            node["__loader__"] = "ConstructorFromReduceNode"
            node["content"] = reduce_node("builtins", "tuple", [_json_str(touch, 99)])["content"]
            node["__module__"], node["__class__"] = value
        elif kind == "text":
            node["__class__"] = value
    return schema


_names = st.sampled_from(DANGEROUS + ALLOWED) | st.tuples(
    st.sampled_from(["sklearn", "numpy", "scipy", "modelsnap", "builtins", "os"]),
    st.text(min_size=1, max_size=30),
)
_mutation = st.one_of(
    st.tuples(st.integers(0, 10_000), st.just("name"), _names),
    st.tuples(st.integers(0, 10_000), st.just("loader"), st.sampled_from(LOADERS)),
    st.tuples(st.integers(0, 10_000), st.just("payload"), st.sampled_from(DANGEROUS + ALLOWED)),
    st.tuples(st.integers(0, 10_000), st.just("text"), st.text(max_size=40)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_fuzzed_schemas_load_cleanly_or_are_refused(
    real_artifact: tuple[dict, dict[str, bytes], object],
    tmp_path_factory: pytest.TempPathFactory,
    mutations: list,
) -> None:
    """Renamed types, swapped loaders and injected calls in a real artifact's schema.json:
    each load ends in a ModelsnapError or a clean load, and nothing runs."""
    from modelsnap.core.errors import ModelsnapError

    schema, members, config = real_artifact
    folder = tmp_path_factory.mktemp("fuzz")
    marker = folder / "PWNED"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(_mutate(schema, mutations, marker)))
        for name, data in members.items():
            archive.writestr(name, data)
    path = folder / "model.skops"
    path.write_bytes(buffer.getvalue())
    with contextlib.suppress(ModelsnapError):
        load_artifact(path, sha256_bytes(buffer.getvalue()), config=config)
    time.sleep(0.01)
    assert not marker.exists(), f"code ran from a fuzzed schema: {mutations}"


def test_a_worker_lost_on_one_model_does_not_stop_the_others(ranked_project: Path) -> None:
    """Each model whose worker is stopped (here: a ceiling no worker fits under) gets its own
    error and a fresh worker goes on with the next; the edge run is still recorded."""
    root = ranked_project
    _with_edge_cases(root)
    text = (root / "modelsnap.toml").read_text()
    (root / "modelsnap.toml").write_text(
        text.replace("memory_limit_mb = 3000", "memory_limit_mb = 5")
    )
    edge = cli("edge", str(root), "--format", "json")
    assert edge.returncode == 1 and "Traceback" not in edge.stderr, edge.stderr
    results = json.loads(edge.stdout)["result"]
    assert len(results) == 2
    assert all("memory limit" in r["error"] for r in results), results
    assert len(list((root / "edge_runs").glob("*.toml"))) == 1


def test_the_worker_refuses_an_edge_file_changed_under_it(ranked_project: Path) -> None:
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.profiler.runner import run_edge_job

    root = ranked_project
    _with_edge_cases(root)
    tree = snapshot_id_of(root, "tree")
    snapshot = tomllib.loads((root / "snapshots" / f"{tree}.toml").read_text())
    entry = {
        "id": tree,
        "artifact": snapshot["model"]["artifact"],
        "artifact_sha256": snapshot["model"]["artifact_sha256"],
    }
    with pytest.raises(ModelsnapError, match="changed while the edge cases were being run"):
        run_edge_job(root, [entry], "edge_cases.csv", edge_sha256="0" * 64)
    outcome = run_edge_job(root, [entry], "edge_cases.csv")
    assert outcome[tree]["n_cases"] == 2
