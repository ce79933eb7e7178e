"""Train the digits recipes and write their rows into the digits results table's JSON.

    python -m zoo.table [--out runs/table] [--num-samples 1000] [--recipes a,b,...]
                        [--table benchmarks/tables/digits.json] [--epochs N]
    python -m benchmarks.docs_tables          # renders docs/families/README.md's table from it

Each recipe is trained with ``python -m zoo train NAME --out OUT/NAME`` (a finished run is
reused, so an interrupted table resumes); its row is read back from the run's ``metrics.json``.
A two-stage recipe (a prior over a VQ-VAE's codes, M1+M2) is chained from its first stage: the
recipe on the same dataset whose model arguments are the second stage's first-stage argument
(``vqvae-prior-digits`` from ``vqvae-digits``, ``m1m2-digits`` from ``vae-digits``), trained
first if it is not in the list, then ``--from`` it; its row names the first stage. One whose
first stage cannot be found is listed as such and skipped. A recipe that fails is reported and
the others go on (exit status 1 at the end). The linear autoencoder is followed by the
scikit-learn PCA reference with as many components.

The rows of the recipes trained replace theirs in the table spec ``recipes`` of ``--table``
(the others are kept); numbers are stated to 4 significant digits (``train s`` to 3).
``--epochs`` overrides every recipe's epochs: for a quick check of the tool, not for the table.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TABLE = os.path.join(ROOT, "benchmarks", "tables", "digits.json")
#: the table spec of ``DEFAULT_TABLE`` that holds the rows.
SPEC = "recipes"


def pca_reference(dataset, components):
    """Test mean squared error per element of PCA fitted on the training split."""
    from sklearn.decomposition import PCA

    from keras_ae import data

    x_train, _ = data.load_arrays(dataset, "train")
    x_test, _ = data.load_arrays(dataset, "test")
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    pca = PCA(components).fit(flat_train)
    return float(np.mean((pca.inverse_transform(pca.transform(flat_test)) - flat_test) ** 2))


def stated(value, digits=4):
    """``value`` to ``digits`` significant digits, as the table states it (an integer when it is one)."""
    if value is None:
        return None
    text = f"{float(value):.{digits}g}"
    return int(text) if all(c not in text for c in ".en") else float(text)


def first_stage(recipe, recipes):
    """The name of the recipe a two-stage ``recipe`` trains on (``--from``), ``None`` for a one-stage
    recipe, or ``""`` when no recipe on its dataset has its first stage's model arguments."""
    from zoo.runner import stage_argument

    argument = stage_argument(recipe)
    if argument is None:
        return None
    wanted = recipe.model_args.get(argument)
    found = sorted(r.name for r in recipes.values()
                   if r.dataset == recipe.dataset and r.model_args == wanted and r.name != recipe.name)
    return found[0] if found else ""


def training_order(names, recipes):
    """``(names to train in order, {second stage: first stage}, [names without a first stage])``.

    A first stage comes before the recipes that build on it and is added when not asked for.
    """
    order, stages, orphans = [], {}, []
    for name in names:
        first = first_stage(recipes[name], recipes)
        if first == "":
            orphans.append(name)
            continue
        if first is not None:
            stages[name] = first
            if first not in order:
                order.append(first)
        if name not in order:
            order.append(name)
    return order, stages, orphans


def train(name, run_dir, num_samples, epochs=None, from_run=None):
    """``python -m zoo train NAME`` into ``run_dir`` unless it is finished; the exit status (0 if reused)."""
    if os.path.isfile(os.path.join(run_dir, "model.keras")):
        return 0
    resume = os.path.isfile(os.path.join(run_dir, "config.json"))
    print(f"training {name}{f' on {from_run}' if from_run else ''} ...", file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "zoo", "train", name, "--out", run_dir, "--num-samples", str(num_samples),
               "--verbose", "0"]
    command += ["--resume"] if resume else []
    command += ["--epochs", str(epochs)] if epochs is not None else []
    command += ["--from", from_run] if from_run and not resume else []
    # the run's own report goes to stderr so that stdout is only the summary
    return subprocess.run(command, stdout=sys.stderr, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}).returncode


def row(name, recipe, metrics, first=None):
    """The table row of one finished run."""
    found = {
        "recipe": name, "model": recipe.model,
        "test_data": "binarized" if recipe.binarize else "grey levels",
        "mse": stated(metrics.get("reconstruction_mse")), "nll": stated(metrics.get("nll")),
        "elbo": stated(metrics.get("elbo")), "active_units": stated(metrics.get("active_units")),
        "train_s": stated(metrics.get("train_seconds"), 3), "from": first,
    }
    return {k: v for k, v in found.items() if v is not None}


def merge_rows(old, new):
    """``old`` rows with those of the recipes in ``new`` replaced; sorted by recipe, PCA after linear-ae."""
    names = {r["recipe"] for r in new}
    rows = [r for r in old if r["recipe"] not in names] + list(new)

    def key(r):
        name = r["recipe"]
        return ("linear-ae-digits", 1) if name.startswith("PCA") else (name, 0)

    return sorted(rows, key=key)


def dump_tables(tables):
    """The text of a ``benchmarks/tables`` JSON file as they are committed: one column, one row per line."""
    specs = []
    for key, spec in tables.items():
        fields = []
        for field, value in spec.items():
            if field in ("rows", "columns") and isinstance(value, list):
                body = ",\n".join("      " + json.dumps(item, ensure_ascii=False) for item in value)
                fields.append(f"    {json.dumps(field)}: [\n{body}\n    ]")
            else:
                fields.append(f"    {json.dumps(field)}: {json.dumps(value, ensure_ascii=False)}")
        specs.append(f"  {json.dumps(key)}: {{\n" + ",\n".join(fields) + "\n  }")
    return "{\n" + ",\n".join(specs) + "\n}\n"


def write_table(path, rows):
    """Write ``rows`` into the spec ``recipes`` of the table JSON at ``path`` (its other keys kept)."""
    from keras_ae.training import atomic_write_text

    with open(path, encoding="utf-8") as f:
        tables = json.load(f)
    tables[SPEC]["rows"] = merge_rows(tables[SPEC].get("rows", []), rows)
    atomic_write_text(path, dump_tables(tables))


def main(argv=None):
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from keras_ae.presets import RECIPES

    parser = argparse.ArgumentParser(prog="python -m zoo.table", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("runs", "table"), help="where the runs go (default runs/table)")
    parser.add_argument("--num-samples", type=int, default=1000, help="importance samples of the test NLL")
    parser.add_argument("--recipes", help="comma-separated names (default: every *-digits recipe)")
    parser.add_argument("--table", default=DEFAULT_TABLE, help=f"the table JSON to write (default {DEFAULT_TABLE})")
    parser.add_argument("--epochs", type=int, help="epochs instead of every recipe's (a quick check, not the table)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.recipes.split(",") if n.strip()] if args.recipes else \
        sorted(n for n in RECIPES if n.endswith("-digits"))
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        print(f"error: unknown recipes {unknown}; known recipes: {', '.join(sorted(RECIPES))}", file=sys.stderr)
        return 2
    if not os.path.isfile(args.table):
        print(f"error: --table {args.table} does not exist (a benchmarks/tables/*.json file)", file=sys.stderr)
        return 2
    if args.epochs is not None and args.epochs < 1:
        print(f"error: --epochs must be >= 1, got {args.epochs}", file=sys.stderr)
        return 2

    order, stages, orphans = training_order(names, RECIPES)
    for name in orphans:
        print(f"skipped {name}: a two-stage recipe whose first stage is no recipe on its dataset; train it with "
              f"`python -m zoo train {name} --from RUN_DIR`", file=sys.stderr)
    rows, failed = [], []
    for name in order:
        run_dir = os.path.join(os.path.abspath(args.out), name)
        first = stages.get(name)
        if first in failed:
            print(f"skipped {name}: its first stage {first} failed", file=sys.stderr)
            failed.append(name)
            continue
        status = train(name, run_dir, args.num_samples, args.epochs,
                       os.path.join(os.path.abspath(args.out), first) if first else None)
        if status != 0:
            print(f"error: training {name} failed (exit {status}); the other recipes go on", file=sys.stderr)
            failed.append(name)
            continue
        with open(os.path.join(run_dir, "metrics.json")) as f:
            metrics = json.load(f)
        recipe = RECIPES[name]
        rows.append(row(name, recipe, metrics, first))
        if recipe.model_args.get("activation") == "linear" and not recipe.model_args.get("hidden_units"):
            k = recipe.model_args["latent_dim"]
            rows.append({"recipe": f"PCA, {k} components (reference)", "model": "sklearn PCA",
                         "test_data": "grey levels", "mse": stated(pca_reference(recipe.dataset, k))})
    if rows:
        write_table(args.table, rows)
        print(f"{len(rows)} rows written to {args.table}; render the docs with `python -m benchmarks.docs_tables`")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
