"""Generate credit.csv: a synthetic loan-default data set for the modelsnap sample project.

Deterministic (numpy only, fixed seed): running it again reproduces credit.csv byte for byte,
so the committed file can always be checked against this script:

    python sample_project/make_data.py            # rewrites sample_project/credit.csv
    python sample_project/make_data.py --check    # exit 1 if the committed file differs

What is planted, so the tool has something real to find:
- numeric and categorical features, with missing values in income, employment and
  credit_history_years;
- sensitive attributes ``sex`` and ``age_band`` (the default rate differs slightly by group);
- ``customer_id``, an identifier that must be dropped;
- ``branch_code``, a leak: loans that went bad were moved to the collections branch "B99",
  a fact recorded after the outcome. A model that ranks it highly is suspect.

``--new-data`` writes ``new_data.csv`` instead: 1,000 later applications, labelled, drawn from
the same formula with a documented drift, for ``modelsnap monitor`` (docs/tutorial.md, "After the
decision"):

- a downturn: every income is 25 % lower (``NEW_DATA_INCOME_FACTOR``), which also raises the
  default rate, since income enters the default-risk formula;
- debt consolidation loans rise from 25 % to 45 % of applications (``NEW_DATA_PURPOSES``),
  taking the share from car and home loans.

    python sample_project/make_data.py --new-data           # rewrites new_data.csv
    python sample_project/make_data.py --new-data --check   # exit 1 if it differs
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

SEED = 20261126
N_ROWS = 3000
HERE = Path(__file__).resolve().parent
NEW_DATA_SEED = SEED + 1
NEW_DATA_ROWS = 1000
NEW_DATA_INCOME_FACTOR = 0.75
PURPOSE_SHARES = [0.25, 0.2, 0.1, 0.1, 0.25, 0.1]
NEW_DATA_PURPOSES = [0.15, 0.1, 0.1, 0.1, 0.45, 0.1]

EMPLOYMENT = ["salaried", "self-employed", "unemployed", "retired", "student"]
REGIONS = ["north", "south", "east", "west", "central"]
PURPOSES = ["car", "home", "education", "business", "debt_consolidation", "other"]


def _age_band(age: int) -> str:
    if age < 30:
        return "18-29"
    if age < 45:
        return "30-44"
    if age < 60:
        return "45-59"
    return "60+"


def generate(n: int = N_ROWS, seed: int = SEED, *, income_factor: float = 1.0,
             purpose_shares: list[float] | None = None) -> list[dict[str, object]]:
    """The rows; ``income_factor`` and ``purpose_shares`` make the drift of ``new_data.csv``
    (the defaults give credit.csv: the same random draws, in the same order)."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(42, 13, n), 18, 80).astype(int)
    sex = rng.choice(["F", "M"], size=n, p=[0.48, 0.52])
    employment = np.array(
        [
            rng.choice(EMPLOYMENT, p=[0.03, 0.02, 0.05, 0.85, 0.05])
            if a >= 66
            else rng.choice(EMPLOYMENT, p=[0.35, 0.05, 0.05, 0.0, 0.55])
            if a < 23
            else rng.choice(EMPLOYMENT, p=[0.70, 0.16, 0.09, 0.02, 0.03])
            for a in age
        ]
    )
    base_income = {
        "salaried": 52000,
        "self-employed": 58000,
        "unemployed": 14000,
        "retired": 30000,
        "student": 12000,
    }
    income = np.array([base_income[e] for e in employment]) * rng.lognormal(0, 0.35, n)
    income *= 1 + 0.01 * np.clip(age - 22, 0, 30)
    income *= income_factor
    debt_ratio = np.clip(rng.beta(2.2, 5.0, n) * 1.4, 0, 1.6)
    history = np.clip(age - 18 - rng.integers(0, 6, n), 0, None).astype(float)
    open_loans = rng.poisson(1.6, n)
    late = rng.poisson(0.25 + 1.2 * debt_ratio, n)
    loan_amount = np.round(np.clip(rng.lognormal(9.3, 0.6, n), 1000, 80000), -2)
    region = rng.choice(REGIONS, size=n, p=[0.22, 0.25, 0.18, 0.2, 0.15])
    purpose = rng.choice(PURPOSES, size=n, p=purpose_shares or PURPOSE_SHARES)

    logit = (
        -2.1
        + 0.8 * (debt_ratio - 0.45)
        + 0.25 * late
        - 0.9 * (np.log(income) - np.log(40000))
        + 0.35 * (loan_amount / income * 4 - 1)
        - 0.025 * (history - 15)
        + 0.15 * open_loans
        + np.where(employment == "unemployed", 0.9, 0.0)
        + np.where(purpose == "business", 0.4, 0.0)
        + np.where(region == "east", 0.25, 0.0)
        + np.where(sex == "M", 0.12, 0.0)
        + np.where(age < 25, 0.3, 0.0)
        # Non-linear effects a linear baseline cannot express: thresholds and an interaction.
        + np.where((debt_ratio > 0.7) & (late >= 2), 2.8, 0.0)
        + np.where(income < 22000, 1.6, 0.0)
        + 0.002 * (age - 45) ** 2
        - np.where((history > 20) & (debt_ratio < 0.4), 1.2, 0.0)
    )
    default = rng.random(n) < 1 / (1 + np.exp(-logit))

    branch = np.array([f"B{k:02d}" for k in rng.integers(1, 31, n)])
    moved = default & (rng.random(n) < 0.35)
    branch[moved] = "B99"

    income_out = np.round(income, -1).astype(object)
    income_out[rng.random(n) < 0.04] = None
    employment_out = employment.astype(object)
    employment_out[rng.random(n) < 0.03] = None
    history_out = history.astype(object)
    history_out[rng.random(n) < 0.05] = None

    rows = []
    for i in range(n):
        rows.append(
            {
                "customer_id": f"C{100000 + i}",
                "age": int(age[i]),
                "age_band": _age_band(int(age[i])),
                "sex": str(sex[i]),
                "income": "" if income_out[i] is None else int(income_out[i]),
                "employment": "" if employment_out[i] is None else str(employment_out[i]),
                "debt_ratio": round(float(debt_ratio[i]), 3),
                "credit_history_years": "" if history_out[i] is None else int(history_out[i]),
                "open_loans": int(open_loans[i]),
                "late_payments_12m": int(late[i]),
                "loan_amount": int(loan_amount[i]),
                "purpose": str(purpose[i]),
                "region": str(region[i]),
                "branch_code": str(branch[i]),
                "default": "yes" if default[i] else "no",
            }
        )
    return rows


def render(rows: list[dict[str, object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write (default: credit.csv, or new_data.csv)")
    parser.add_argument("--check", action="store_true", help="compare with the existing file")
    parser.add_argument("--new-data", action="store_true",
                        help="later labelled applications with a documented drift "
                             "(new_data.csv), for modelsnap monitor")
    args = parser.parse_args(argv)
    if args.new_data:
        rows = NEW_DATA_ROWS
        data = render(generate(NEW_DATA_ROWS, NEW_DATA_SEED,
                               income_factor=NEW_DATA_INCOME_FACTOR,
                               purpose_shares=NEW_DATA_PURPOSES))
        out = args.out or HERE / "new_data.csv"
    else:
        rows, data, out = N_ROWS, render(generate()), args.out or HERE / "credit.csv"
    if args.check:
        same = out.exists() and out.read_bytes() == data
        print(f"{out.name} matches make_data.py" if same else
              f"{out.name} differs from make_data.py")
        return 0 if same else 1
    out.write_bytes(data)
    print(f"wrote {out} ({len(data) / 1024:.0f} KiB, {rows} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
