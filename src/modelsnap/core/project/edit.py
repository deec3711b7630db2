"""Writing modelsnap.toml: a new project's file, and edits that keep the user's comments.

Every document is checked (``project.parse``) before it reaches the disk, and written atomically,
so a bad edit leaves the file as it was. tomlkit is imported only when a file is written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from modelsnap.core.errors import ProjectFileError
from modelsnap.core.files import atomic_write_bytes
from modelsnap.core.project.parse import fail, loads_project_text, parse_project, read_document
from modelsnap.core.project.schema import PROJECT_FILE, PreprocessConfig, ProjectConfig, RunConfig

# ------------------------------------------------------------------------------- a new project

# Column names that conventionally hold what a data set predicts, most telling first. The set-up
# proposes the first column whose whole name (any case, spaces and dashes as underscores) is one
# of these, then one that has one as a whole word ("loan_default", "is_churn"), else the last.
TARGET_NAMES: tuple[str, ...] = (
    "target",
    "label",
    "class",
    "y",
    "outcome",
    "default",
    "churn",
    "churned",
    "response",
    "diagnosis",
    "survived",
    "fraud",
    "is_fraud",
    "defaulted",
    "result",
    "status",
    "price",
    "quality",
    "species",
)


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return [part for part in re.split(r"[^a-z0-9]+", spaced.lower()) if part]


def guess_target(columns: list[str] | tuple[str, ...]) -> tuple[str, str] | None:
    """(column, why) for the column a data set most likely predicts, or None without columns.

    A whole conventional name wins over a word inside a name, which wins over the last column;
    ``why`` says which rule chose it ("guessed from the name 'target'"), to show beside the guess.
    """
    columns = list(columns)
    if not columns:
        return None
    for wanted in TARGET_NAMES:
        for column in columns:
            if "_".join(_name_words(column)) == wanted:
                return column, f"guessed from the name {column!r}"
    for wanted in TARGET_NAMES:
        if len(wanted) < 3:
            continue  # "y" as a word ("y_pos") says nothing
        for column in columns:
            if wanted in _name_words(column):
                return column, f"guessed from the word {wanted!r} in its name"
    shown = ", ".join(TARGET_NAMES[:6])
    return columns[-1], f"no column is named like a target ({shown}, ...): the last column"


# ---------------------------------------------------------------------------------------- write


def default_models(task: str, seed: int = 42) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A sensible baseline and three candidates of different families for ``task``.

    Kept small enough that the whole set fits in seconds on a few thousand rows.
    """
    if task == "regression":
        baseline = {
            "name": "linear",
            "estimator": "sklearn.linear_model.LinearRegression",
            "params": {},
        }
        candidates = [
            {
                "name": "random_forest",
                "estimator": "sklearn.ensemble.RandomForestRegressor",
                "params": {"n_estimators": 100, "random_state": seed},
            },
            {
                "name": "hist_gradient_boosting",
                "estimator": "sklearn.ensemble.HistGradientBoostingRegressor",
                "params": {"random_state": seed},
            },
            {
                "name": "mlp",
                "estimator": "sklearn.neural_network.MLPRegressor",
                "params": {
                    "hidden_layer_sizes": [32],
                    "max_iter": 500,
                    "early_stopping": True,
                    "random_state": seed,
                },
            },
        ]
    else:
        baseline = {
            "name": "logistic",
            "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 1000},
        }
        candidates = [
            {
                "name": "random_forest",
                "estimator": "sklearn.ensemble.RandomForestClassifier",
                "params": {"n_estimators": 100, "random_state": seed},
            },
            {
                "name": "hist_gradient_boosting",
                "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
                "params": {"random_state": seed},
            },
            {
                "name": "mlp",
                "estimator": "sklearn.neural_network.MLPClassifier",
                "params": {
                    "hidden_layer_sizes": [32],
                    "max_iter": 500,
                    "early_stopping": True,
                    "random_state": seed,
                },
            },
        ]
    return baseline, candidates


def _inline(mapping: dict[str, Any]):
    import tomlkit

    table = tomlkit.inline_table()
    table.update(mapping)
    return table


def _run_defaults() -> dict[str, Any]:
    """[run]'s keys as a new file writes them: local fits by default, so the executor and the
    scheduler are left out (docs/distributed.md shows how to fit on a cluster)."""
    return {k: v for k, v in vars(RunConfig()).items() if k not in ("executor", "scheduler")}


def build_project_document(
    *,
    data_source: str,
    target: str,
    profile: str = "balanced",
    task: str,
    name: str | None = None,
    positive_label: str | None = None,
    seed: int = 42,
    stratify: bool = True,
    drop: list[str] | tuple[str, ...] = (),
    sensitive: list[str] | tuple[str, ...] = (),
    suspect_features: list[str] | tuple[str, ...] = (),
    edge_cases: str | None = None,
    primary_metric: str | None = None,
    baseline: dict[str, Any] | None = None,
    candidates: list[dict[str, Any]] | None = None,
) -> str:
    """Render a new modelsnap.toml (tomlkit, with short comments) without writing it."""
    import tomlkit

    from modelsnap.core.profiles import DEFAULT_PRIMARY_METRIC, profile_settings

    primary = primary_metric or DEFAULT_PRIMARY_METRIC[task]
    # No sensitive column, no fairness measure: the profile leaves fairness out.
    criteria, constraints = profile_settings(profile, task, primary, fairness=bool(sensitive))
    if baseline is None and candidates is None:
        baseline, candidates = default_models(task, seed)
    doc = tomlkit.document()
    doc.add(tomlkit.comment("modelsnap project file: edit freely; every key is checked on load."))
    doc.add(tomlkit.comment("Format: docs/project-file.md"))
    project = tomlkit.table()
    if name:
        project["name"] = name
    project["description"] = ""
    doc["project"] = project

    data = tomlkit.table()
    data["source"] = data_source
    data["source"].comment("CSV relative to this folder, or sklearn:NAME")
    data["target"] = target
    data["task"] = task
    if positive_label is not None:
        data["positive_label"] = positive_label
        data["positive_label"].comment("the class precision/recall/f1 are about")
    data["seed"] = seed
    data["validation_fraction"] = 0.2
    data["test_fraction"] = 0.2
    data["test_fraction"].comment("the test split only ever gives final metrics")
    flag = tomlkit.item(bool(stratify))
    if not stratify:
        flag.comment("classes are not kept in proportion in each split")
    data["stratify"] = flag
    data["drop"] = list(drop)
    data["drop"].comment("columns never used as features (ids, leaks)")
    data["sensitive"] = list(sensitive)
    data["sensitive"].comment("fairness is reported per group of each")
    data["suspect_features"] = list(suspect_features)
    if edge_cases:
        data["edge_cases"] = edge_cases
    doc["data"] = data

    preprocess = tomlkit.table()
    preprocess.add(tomlkit.comment("the frozen ColumnTransformer every model shares"))
    for key, value in PreprocessConfig().__dict__.items():
        preprocess[key] = value
    doc["preprocess"] = preprocess

    selection = tomlkit.table()
    selection["profile"] = profile
    selection["primary_metric"] = primary
    selection["rank_split"] = "validation"
    selection["rank_split"].comment("rank on validation; test is for final metrics")
    doc["selection"] = selection

    criteria_aot = tomlkit.aot()
    for criterion in criteria:
        item = tomlkit.table()
        item.update(criterion)
        criteria_aot.append(item)
    doc.add(tomlkit.nl())
    doc.add(tomlkit.comment("Criteria: lock them (modelsnap lock) before the first candidate run."))
    doc["criteria"] = criteria_aot

    constraint_table = tomlkit.table()
    constraint_table.add(tomlkit.comment("hard limits: a model over any of them is rejected"))
    for key, value in constraints.items():
        constraint_table[key] = _inline(value) if isinstance(value, dict) else value
    doc["constraints"] = constraint_table

    run = tomlkit.table()
    for key, value in _run_defaults().items():
        run[key] = value
    run["threads"].comment("BLAS/OpenMP threads and n_jobs for every model")
    doc["run"] = run

    if baseline is not None:
        base = tomlkit.table()
        for key, value in baseline.items():
            base[key] = _inline(value) if isinstance(value, dict) else value
        doc["baseline"] = base
    if candidates:
        models = tomlkit.aot()
        for candidate in candidates:
            item = tomlkit.table()
            for key, value in candidate.items():
                item[key] = _inline(value) if isinstance(value, dict) else value
            models.append(item)
        doc["candidates"] = models
    return tomlkit.dumps(doc)


def write_new_project(
    root: Path,
    *,
    data_source: str,
    target: str,
    profile: str = "balanced",
    task: str,
    force: bool = False,
    **options: Any,
) -> ProjectConfig:
    """Write a fresh modelsnap.toml (validated before it reaches the disk) and return its config.

    Refuses to replace an existing file unless ``force``. ``options`` are those of
    ``build_project_document`` (name, positive_label, seed, drop, sensitive, ...).
    """
    root = Path(root)
    path = root / PROJECT_FILE
    if path.exists() and not force:
        raise ProjectFileError(
            f"{path} already exists",
            where=str(root),
            hint="pass --force to replace it (snapshots already recorded stay)",
        )
    text = build_project_document(
        data_source=data_source, target=target, profile=profile, task=task, **options
    )
    config = parse_project(loads_project_text(text), root)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(root, path, text.encode("utf-8"))
    return config


# ----------------------------------------------------------------------------------------- edit

EDITABLE_SECTIONS = ("criteria", "constraints", "selection", "data")


def _replace_criteria(doc: Any, values: list[dict[str, Any]]) -> None:
    """Rewrite the [[criteria]] tables in place, so comments inside them and the comment block
    that tomlkit attaches to the last table (whatever precedes the next section) survive."""
    import tomlkit

    def fill(table: Any, criterion: dict[str, Any]) -> None:
        wanted = {k: v for k, v in criterion.items() if v is not None}
        for key in [k for k in table if k not in wanted]:
            del table[key]
        for key, value in wanted.items():
            table[key] = value

    existing = doc.get("criteria")
    if not isinstance(existing, tomlkit.items.AoT) or not len(existing) or not values:
        aot = tomlkit.aot()
        for criterion in values:
            item = tomlkit.table()
            fill(item, criterion)
            aot.append(item)
        if "criteria" in doc:
            doc["criteria"] = aot
        else:
            doc.append("criteria", aot)
        return
    while len(existing) > len(values):
        del existing[len(existing) - 2 if len(existing) > 1 else 0]
    while len(existing) < len(values):
        existing.insert(len(existing) - 1, tomlkit.table())
    for table, criterion in zip(existing, values, strict=True):
        fill(table, criterion)


def update_project(root: Path, changes: dict[str, Any]) -> ProjectConfig:
    """Edit modelsnap.toml in place, keeping the user's comments and layout (tomlkit).

    ``changes`` maps a section to new values: ``criteria`` -> a list of {metric, weight,
    direction} (replaces the list); ``constraints``, ``selection``, ``data`` -> {key: value}
    (a value of None removes the key). The edited document is validated before it is written
    atomically, so a bad edit leaves the file as it was.
    """
    import tomlkit

    root = Path(root)
    unknown = sorted(set(changes) - set(EDITABLE_SECTIONS))
    if unknown:
        raise ProjectFileError(
            f"cannot edit {', '.join(unknown)}",
            where=PROJECT_FILE,
            hint=f"editable sections: {', '.join(EDITABLE_SECTIONS)}",
        )
    text, _ = read_document(root)
    doc = tomlkit.parse(text)
    for section, values in changes.items():
        if section == "criteria":
            if not isinstance(values, list):
                raise fail("[[criteria]]", "a list of criteria", values)
            _replace_criteria(doc, [dict(c) for c in values])
            continue
        if not isinstance(values, dict):
            raise fail(f"[{section}]", "a table of key = value", values)
        if section not in doc:
            doc[section] = tomlkit.table()
        table = doc[section]
        for key, value in values.items():
            if value is None:
                if key in table:
                    del table[key]
            elif isinstance(value, dict):
                table[key] = _inline(value)
            else:
                table[key] = value
    new_text = tomlkit.dumps(doc)
    config = parse_project(loads_project_text(new_text), root)
    atomic_write_bytes(root, root / PROJECT_FILE, new_text.encode("utf-8"))
    return config


def save_model(root: Path, spec: dict[str, Any], *, kind: str) -> ProjectConfig:
    """Set ``[baseline]`` (kind "baseline") or add/replace the ``[[candidates]]`` entry with
    ``spec["name"]`` (kind "candidate"), keeping comments; validated before it is written.

    The TUI's model chooser uses this, so a model added there is an ordinary project-file entry.
    """
    import tomlkit

    if kind not in ("baseline", "candidate"):
        raise ValueError(f"kind must be 'baseline' or 'candidate', not {kind!r}")
    root = Path(root)
    text, _ = read_document(root)
    doc = tomlkit.parse(text)
    item = tomlkit.table()
    for key, value in spec.items():
        if value is not None:
            item[key] = _inline(value) if isinstance(value, dict) else value
    if kind == "baseline":
        doc["baseline"] = item
    else:
        models = doc.get("candidates")
        if models is None:
            models = tomlkit.aot()
            models.append(item)
            doc.append("candidates", models)
        else:
            names = [entry.get("name") for entry in models]
            if spec.get("name") in names:
                models[names.index(spec.get("name"))] = item
            else:
                models.append(item)
    new_text = tomlkit.dumps(doc)
    config = parse_project(loads_project_text(new_text), root)
    atomic_write_bytes(root, root / PROJECT_FILE, new_text.encode("utf-8"))
    return config
