"""The model chooser's menu: common scikit-learn estimators with small, quick defaults.

This is only a menu: choosing one writes an ordinary ``[baseline]`` or ``[[candidates]]`` entry
into modelsnap.toml (``core.project.edit.save_model``), which the user can edit like any other.
Any dotted path works as well; the menu just saves typing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelsnap.core.errors import ModelsnapError, PathError
from modelsnap.core.files import parse_toml, safe_name


@dataclass(frozen=True)
class ModelChoice:
    name: str
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)


BASELINES: dict[str, tuple[ModelChoice, ...]] = {
    "classification": (
        ModelChoice("logistic", "sklearn.linear_model.LogisticRegression", {"max_iter": 1000}),
        ModelChoice(
            "small_tree",
            "sklearn.tree.DecisionTreeClassifier",
            {"max_depth": 3, "random_state": 42},
        ),
        ModelChoice("dummy", "sklearn.dummy.DummyClassifier", {"strategy": "most_frequent"}),
    ),
    "regression": (
        ModelChoice("linear", "sklearn.linear_model.LinearRegression"),
        ModelChoice(
            "small_tree", "sklearn.tree.DecisionTreeRegressor", {"max_depth": 3, "random_state": 42}
        ),
        ModelChoice("dummy", "sklearn.dummy.DummyRegressor", {"strategy": "mean"}),
    ),
}

CANDIDATES: dict[str, tuple[ModelChoice, ...]] = {
    "classification": (
        ModelChoice(
            "random_forest",
            "sklearn.ensemble.RandomForestClassifier",
            {"n_estimators": 100, "random_state": 42},
        ),
        ModelChoice(
            "hist_gradient_boosting",
            "sklearn.ensemble.HistGradientBoostingClassifier",
            {"random_state": 42},
        ),
        ModelChoice(
            "extra_trees",
            "sklearn.ensemble.ExtraTreesClassifier",
            {"n_estimators": 100, "random_state": 42},
        ),
        ModelChoice("knn", "sklearn.neighbors.KNeighborsClassifier", {"n_neighbors": 15}),
        ModelChoice("svc", "sklearn.svm.SVC", {"probability": True, "random_state": 42}),
        ModelChoice(
            "mlp",
            "sklearn.neural_network.MLPClassifier",
            {"hidden_layer_sizes": [32], "max_iter": 500, "random_state": 42},
        ),
        ModelChoice(
            "tree", "sklearn.tree.DecisionTreeClassifier", {"max_depth": 6, "random_state": 42}
        ),
        ModelChoice(
            "logistic_l1",
            "sklearn.linear_model.LogisticRegression",
            {"solver": "liblinear", "penalty": "l1", "C": 0.5},
        ),
    ),
    "regression": (
        ModelChoice(
            "random_forest",
            "sklearn.ensemble.RandomForestRegressor",
            {"n_estimators": 100, "random_state": 42},
        ),
        ModelChoice(
            "hist_gradient_boosting",
            "sklearn.ensemble.HistGradientBoostingRegressor",
            {"random_state": 42},
        ),
        ModelChoice(
            "extra_trees",
            "sklearn.ensemble.ExtraTreesRegressor",
            {"n_estimators": 100, "random_state": 42},
        ),
        ModelChoice("knn", "sklearn.neighbors.KNeighborsRegressor", {"n_neighbors": 15}),
        ModelChoice("ridge", "sklearn.linear_model.Ridge", {"alpha": 1.0}),
        ModelChoice(
            "mlp",
            "sklearn.neural_network.MLPRegressor",
            {"hidden_layer_sizes": [32], "max_iter": 500, "random_state": 42},
        ),
        ModelChoice(
            "tree", "sklearn.tree.DecisionTreeRegressor", {"max_depth": 6, "random_state": 42}
        ),
    ),
}


def format_params(params: dict[str, Any]) -> str:
    """Parameters as the body of a TOML inline table: ``max_depth = 3, criterion = "gini"``."""
    import tomli_w

    return ", ".join(tomli_w.dumps({key: value}).strip() for key, value in params.items())


def parse_params(text: str) -> dict[str, Any]:
    """The params editor's text (TOML inline-table body) -> dict; ValueError says what is wrong."""
    text = text.strip()
    if not text:
        return {}
    try:
        return dict(parse_toml(f"params = {{{text}}}", what="params")["params"])
    except ModelsnapError as exc:
        detail = exc.message.split(" (at ")[0]
        raise ValueError(
            f'not key = value pairs ({detail}); e.g. max_depth = 3, criterion = "gini"'
        ) from None


def parse_model_name(text: str) -> str:
    name = text.strip()
    if not name:
        raise ValueError("required")
    try:
        return safe_name(name, what="model name")
    except PathError as exc:
        raise ValueError(exc.message) from None


def parse_dotted_path(text: str) -> str:
    path = text.strip()
    parts = path.split(".")
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise ValueError("a dotted path like sklearn.svm.SVC or mymodels.MyModel")
    return path
