"""``modelsnap init DIR --data FILE --target COL``: start a project folder.

Everything is checked before anything is written: the data must load, the target must exist
and suit the task, and the split must be drawable. Only then is a CSV from outside the folder
copied in and modelsnap.toml written, so a failed init leaves the folder as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

from modelsnap.cli.output import add_dir_argument, echo
from modelsnap.core.profiles import PROFILES


def _columns(values: list[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or []:
        names.extend(part.strip() for part in value.split(",") if part.strip())
    return names


def _profiles_epilog() -> str:
    import textwrap

    from modelsnap.core.profiles import PROFILE_DESCRIPTIONS

    lines = ["profiles (--profile; a starting point: edit modelsnap.toml after):"]
    for name, text in PROFILE_DESCRIPTIONS.items():
        lines.append(f"  {name}")
        lines += textwrap.wrap(text, width=76, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init",
        help="create a project folder with modelsnap.toml",
        description="Create modelsnap.toml for a data set: criteria and constraints from a "
        "profile, a baseline and three candidates of different families. A CSV "
        "outside DIR is copied into it. Nothing is written unless the data checks out.",
        epilog=_profiles_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dir_argument(parser)
    parser.add_argument(
        "--data",
        required=True,
        metavar="FILE",
        help="a CSV file, or sklearn:breast_cancer|iris|wine|diabetes",
    )
    parser.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="balanced",
        help="starting criteria and constraints (default: balanced)",
    )
    parser.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="default: inferred from the target column",
    )
    parser.add_argument(
        "--positive-label",
        metavar="LABEL",
        help="binary classification: the class precision/recall/f1 are about",
    )
    parser.add_argument(
        "--drop",
        action="append",
        metavar="COL[,COL]",
        help="columns never used as features (ids, leaks); repeatable",
    )
    parser.add_argument(
        "--sensitive",
        action="append",
        metavar="COL[,COL]",
        help="columns to measure fairness on (sex, age_band, ...); repeatable. Without one, "
        "the profile leaves the fairness criterion and limit out",
    )
    parser.add_argument(
        "--no-stratify",
        dest="stratify",
        action="store_false",
        help="classification: draw the split without keeping the class balance in each part "
        "(needed when a class has fewer than 3 rows)",
    )
    parser.add_argument("--name", help="project name (default: the folder name)")
    parser.add_argument("--force", action="store_true", help="replace an existing modelsnap.toml")
    parser.set_defaults(handler=run)


def _resolve_data(root: Path, data: str) -> tuple[str, Path | None, Path | None]:
    """(source as written in modelsnap.toml, file to read now, file to copy into the folder)."""
    from modelsnap.core.errors import DataError
    from modelsnap.core.project.schema import SKLEARN_DATASETS

    if data.startswith("sklearn:"):
        if data.split(":", 1)[1] not in SKLEARN_DATASETS:
            raise DataError(
                f"unknown bundled data set {data!r}",
                where="--data",
                hint="one of " + ", ".join(f"sklearn:{n}" for n in SKLEARN_DATASETS),
            )
        return data, None, None
    file = Path(data).expanduser()
    if not file.is_file():
        raise DataError(
            "data file not found" if not file.exists() else "not a file",
            where=str(file),
            hint="give the path of a CSV file",
        )
    resolved_root = root.resolve()
    resolved = file.resolve()
    if resolved.is_relative_to(resolved_root):
        return resolved.relative_to(resolved_root).as_posix(), resolved, None
    destination = root / file.name
    if destination.exists():
        from modelsnap.core.files import sha256_file

        if sha256_file(destination) != sha256_file(resolved):
            raise DataError(
                f"{destination} already exists and differs from {file}",
                where="--data",
                hint="rename one of them, or pass the file inside the folder",
            )
        return file.name, resolved, None
    return file.name, resolved, destination


def _copy_in(root: Path, source: Path, destination: Path) -> None:
    """Copy the CSV into the folder atomically (temp file in .modelsnap/tmp, then rename)."""
    from modelsnap.core.files import TMP_PREFIX, tmp_dir

    tmp = tmp_dir(root) / f"{TMP_PREFIX}{os.getpid()}-{destination.name}"
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _print_sensitive(config: Any, columns: list[str]) -> None:
    """Say which columns fairness is measured on, or suggest likely ones (never applied)."""
    from modelsnap.core.profiles import suggest_sensitive

    if config.data.sensitive:
        echo(f"  fairness measured on: {', '.join(config.data.sensitive)}")
        return
    suggested = suggest_sensitive(list(dict.fromkeys(columns)), config.data.target)
    if not suggested:
        echo("  no sensitive column: the criteria leave fairness out")
        return
    echo(
        f"  possible sensitive columns: {', '.join(suggested)} (not used: fairness is measured "
        "only on columns you name)"
    )
    q = shlex.quote
    # The same project again (every choice that was made) plus the suggested columns.
    flags = []
    if config.selection.profile != "balanced":
        flags.append(f"--profile {q(config.selection.profile)}")
    flags += [f"--drop {q(column)}" for column in config.data.drop]
    if not config.data.stratify:
        flags.append("--no-stratify")
    flags += [f"--sensitive {q(column)}" for column in suggested]
    echo(
        f"  to measure fairness on them: modelsnap init {q(str(config.root))} --data "
        f"{q(config.data.source)} --target {q(config.data.target)} {' '.join(flags)} --force"
    )


# Core messages name project-file keys; before the file exists, init's flags are what to change.
_FLAG_WORDS: tuple[tuple[str, str], ...] = (
    ("set [data].stratify = false", "pass --no-stratify"),
    ('set [data].task = "classification"', "pass --task classification"),
    ("remove [data].positive_label", "leave out --positive-label"),
    ("[data].positive_label", "--positive-label"),
    ("[data].drop", "--drop"),
    ("[data].sensitive", "--sensitive"),
    ("use more data or larger [data].validation_fraction / test_fraction", "use more data"),
    ("check [data].source in modelsnap.toml (relative to the project folder)", "check --data"),
    ("[data].source", "--data"),
    ("[data].target", "--target"),
    ("[data].task", "--task"),
)


def init_words(text: str | None) -> str | None:
    """A core message in init's words: the flag to pass instead of the file key to set."""
    if not text:
        return text
    for key, flag in _FLAG_WORDS:
        text = text.replace(key, flag)
    return text


def run(args: argparse.Namespace) -> int:
    from modelsnap.core.errors import ModelsnapError, ProjectFileError
    from modelsnap.core.new_project import check_new_project
    from modelsnap.core.project.edit import write_new_project
    from modelsnap.core.project.schema import PROJECT_FILE

    root = Path(args.dir)
    if (root / PROJECT_FILE).exists() and not args.force:
        raise ProjectFileError(
            f"{root / PROJECT_FILE} already exists",
            where=str(root),
            hint="pass --force to replace it",
        )
    if root.exists() and not root.is_dir():
        raise ProjectFileError("DIR exists and is not a folder", where=str(root))
    source, read_from, copy_to = _resolve_data(root, args.data)
    options: dict[str, Any] = {
        "name": args.name,
        "drop": _columns(args.drop),
        "sensitive": _columns(args.sensitive),
        "positive_label": args.positive_label,
        "stratify": args.stratify,
    }
    # Check the data (and that a split can be drawn) before writing anything.
    try:
        dataset = check_new_project(
            root,
            data_source=source,
            target=args.target,
            profile=args.profile,
            task=args.task,
            read_from=read_from,
            turn_off="pass --no-stratify",
            **options,
        )
    except ModelsnapError as error:
        error.message, error.hint = init_words(error.message), init_words(error.hint)
        where = init_words(error.where)
        if where and where.startswith(f"{PROJECT_FILE}: --"):
            where = where.removeprefix(f"{PROJECT_FILE}: ")
        error.where = where
        raise

    root.mkdir(parents=True, exist_ok=True)
    if copy_to is not None:
        _copy_in(root, read_from, copy_to)
    config = write_new_project(
        root,
        data_source=source,
        target=args.target,
        profile=args.profile,
        task=dataset.task,
        force=args.force,
        **{**options, "positive_label": dataset.positive_label},
    )
    detail = f", positive label {dataset.positive_label!r}" if dataset.positive_label else ""
    echo(f"created {config.path}")
    echo(
        f"  data: {source}{' (copied in)' if copy_to else ''}, {dataset.n_rows} rows, "
        f"target {args.target!r}, {dataset.task}{detail}"
    )
    echo(
        f"  profile {args.profile}: {len(config.criteria)} criteria, "
        f"{len(config.constraints)} constraints"
    )
    echo(
        f"  baseline {config.baseline.name}; candidates "
        + ", ".join(spec.name for spec in config.candidates)
    )
    _print_sensitive(config, [*dataset.frame.columns, *config.data.drop])
    folder = shlex.quote(str(root))  # pasted into a shell: `$(...)` in a name must not run
    echo(
        f"next: review {PROJECT_FILE}, run the baseline (modelsnap run {folder} --baseline), "
        f"then lock the criteria (modelsnap lock {folder})"
    )
    return 0
