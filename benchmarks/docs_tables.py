"""Rewrite the generated blocks of README.md and docs/ from the committed benchmark JSON and the registry.

    python -m benchmarks.docs_tables            # rewrite every stale block
    python -m benchmarks.docs_tables --check    # list the stale blocks, exit 1 if there are any

A generated block sits between ``<!-- table: NAME -->`` and ``<!-- /table -->``. ``NAME`` is
``FILE.KEY``: the table ``KEY`` of ``benchmarks/tables/FILE.json``; the one name ``models`` is
the model table of the README, made from the zoo's recipe registry. No figure in a generated block
is typed by hand: change the JSON (or re-measure), then run this module.

A table spec (one key of a ``benchmarks/tables/*.json`` file) is::

    {"budget": "what was trained, how long, on what",           # rendered above the table
     "commands": ["python -m zoo train ..."],                    # rendered as a bash block
     "rows": [{"recipe": "vae-digits", "nll": 22.80, ...}],     # the numbers as measured ...
     "source": "benchmarks/hierarchical.json",                  # ... or rows from a result file
     "select": "digits.rows",                                   # dotted path into the source
     "explode": "scores",             # a dict field -> one row per key (the key as "<field>_key")
     "where": {"recipe": ["a", "b"]},                           # keep rows whose field is listed
     "group_by": ["recipe"],          # one row per group; every field becomes the list of values
     "groups": [["vae-dsprites", "label"], ...],               # group order and label ("{group}")
     "columns": [["header", "{template}", "{fallback}"], ...],
     "bold": [{"where": {"recipe": "x"}, "columns": ["header"]}]}

Numbers in ``rows`` are read as ``decimal.Decimal``, so a figure keeps the digits it was stated
with (``22.80`` stays ``22.80``). A cell is the first of its templates whose fields all exist
(``-`` when none does); fields may be dotted (``kl_per_layer.z1``). Format specs are Python's,
plus, for grouped rows, ``meansd`` (mean ± sample standard deviation, ddof 1, or the one value),
``mean``, ``sd`` and ``each`` (every value, comma-separated), each followed by a plain spec
(``{mig:meansd.3f}``). A template may be ``{"if": {field: value}, "then": "template"}``, used
only for the rows that match (a reference row's difference to itself: ``0``). Negative numbers
are written with a minus sign (U+2212).
"""

import argparse
import ast
import decimal
import json
import os
import re
import statistics
import string
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLES = os.path.join(ROOT, "benchmarks", "tables")
BLOCK = re.compile(r"(<!-- table: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)
MINUS = "\u2212"


class SpecError(ValueError):
    """A table spec that cannot be rendered: the message names the table and the reason."""


def load_json(path):
    """A JSON file (or JSON lines), numbers as ``Decimal`` so stated figures keep their digits."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text, parse_float=decimal.Decimal)
    except json.JSONDecodeError:
        return [json.loads(line, parse_float=decimal.Decimal) for line in text.splitlines() if line.strip()]


def _dig(value, dotted):
    for part in dotted.split("."):
        if isinstance(value, dict):
            value = value[part]
        elif isinstance(value, list) and part.isdigit():
            value = value[int(part)]
        else:
            raise KeyError(dotted)
    return value


def _number(value):
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


class _CellFormatter(string.Formatter):
    """``str.format`` over a row dict, with dotted fields, the group statistics and the minus sign."""

    def get_field(self, field_name, args, kwargs):
        return _dig(kwargs, field_name), field_name

    def format_field(self, value, spec):
        for stat in ("meansd", "mean", "sd", "each"):
            if spec.startswith(stat):
                return self._statistic(stat, value, spec[len(stat):])
        if isinstance(value, list):
            raise SpecError(f"a grouped field needs meansd, mean, sd or each, not {spec!r}")
        if isinstance(value, float) and not spec:
            raise SpecError(f"the measured value {value!r} needs a format spec")
        if isinstance(value, decimal.Decimal) and spec[-1:] in ("f", "e", "E", "g", "G", "%"):
            value = float(value)  # as the benchmark scripts print (Decimal writes 5.7e-7 and 1.0 for 5.7e-07 and 1)
        text = format(value, spec)
        return MINUS + text[1:] if _number(value) and text.startswith("-") else text

    def _statistic(self, stat, values, spec):
        values = values if isinstance(values, list) else [values]
        numbers = [float(v) for v in values]
        if stat == "each":
            return ", ".join(self.format_field(v, spec) for v in numbers)
        if stat == "mean" or (stat == "meansd" and len(numbers) == 1):
            return self.format_field(statistics.mean(numbers), spec)
        if len(numbers) < 2:
            raise SpecError("a standard deviation needs two values or more")
        sd = self.format_field(statistics.stdev(numbers), spec)
        return sd if stat == "sd" else f"{self.format_field(statistics.mean(numbers), spec)} ± {sd}"


_FORMATTER = _CellFormatter()


def cell(row, templates):
    """The first template (whose condition holds) with every field in ``row``, formatted; else ``-``."""
    for template in templates:
        if isinstance(template, dict):
            if not _matches(row, template["if"]):
                continue
            template = template["then"]
        try:
            return _FORMATTER.vformat(template, (), row)
        except (KeyError, IndexError):
            continue
    return "-"


def _matches(row, where):
    for field, wanted in where.items():
        try:
            value = _dig(row, field)
        except (KeyError, IndexError):
            return False
        if value not in (wanted if isinstance(wanted, list) else [wanted]):
            return False
    return True


def table_rows(spec, root=ROOT):
    """The rows of one table: stated in the spec, or read (and grouped) from its source file."""
    if "rows" in spec:
        rows = spec["rows"]
    else:
        rows = load_json(os.path.join(root, spec["source"]))
        if "select" in spec:
            rows = _dig(rows, spec["select"])
    if "explode" in spec:
        field, exploded = spec["explode"], []
        for row in rows:
            for key, inner in row[field].items():
                exploded.append({**{k: v for k, v in row.items() if k != field}, f"{field}_key": key, **inner})
        rows = exploded
    rows = [row for row in rows if _matches(row, spec.get("where", {}))]
    if "group_by" not in spec:
        return rows
    keys = spec["group_by"]
    groups = {}
    for row in rows:
        groups.setdefault(tuple(str(row[k]) for k in keys), []).append(row)
    order = [(tuple(g[0]) if isinstance(g[0], list) else (g[0],), g[1]) for g in spec.get("groups", [])]
    if not order:
        order = [(key, " ".join(key)) for key in groups]
    missing = [key for key, _ in order if key not in groups]
    if missing:
        raise SpecError(f"groups {missing} have no rows in {spec.get('source')}")
    grouped = []
    for key, label in order:
        members = groups[key]
        fields = {}
        for member in members:
            for field, value in member.items():
                fields.setdefault(field, []).append(value)
        grouped.append({**fields, "group": label, "n": len(members)})
    return grouped


def render_table(spec, root=ROOT):
    """The markdown of one table spec: its budget, its commands, then the table."""
    headers = [column[0] for column in spec["columns"]]
    lines = []
    if spec.get("budget"):
        lines += [spec["budget"], ""]
    if spec.get("commands"):
        lines += ["```bash", *spec["commands"], "```", ""]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in table_rows(spec, root):
        cells = [cell(row, column[1:]) for column in spec["columns"]]
        for rule in spec.get("bold", []):
            if _matches(row, rule["where"]):
                for header in rule["columns"]:
                    i = headers.index(header)
                    cells[i] = f"**{cells[i]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def table_specs(root=ROOT):
    """``{FILE.KEY: spec}`` for every table of ``benchmarks/tables/*.json``."""
    specs = {}
    folder = os.path.join(root, "benchmarks", "tables")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            for key, spec in load_json(os.path.join(folder, name)).items():
                specs[f"{name[:-5]}.{key}"] = spec
    return specs


# --- the README's model table, from the recipe registry ---------------------------------------

def _summaries(root=ROOT):
    """``{name: first paragraph of its docstring}`` for every top-level class and function of keras_ae.

    Read with ``ast`` (nothing is imported), so a named configuration that is a function returning
    a configured model reads the same as a class. ``keras_ae/models`` wins over other packages.
    """
    found = {}
    for folder, _, files in sorted(os.walk(os.path.join(root, "keras_ae"))):
        for file in sorted(files):
            if not file.endswith(".py"):
                continue
            path = os.path.join(folder, file)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            in_models = os.sep + os.path.join("keras_ae", "models") in path
            for node in tree.body:
                if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(node):
                    summary = " ".join(ast.get_docstring(node).split("\n\n")[0].split())
                    if node.name not in found or in_models:
                        found[node.name] = summary
    return found


def model_table(recipes, root=ROOT):
    """The README's model table: one row per model named by a recipe, with its recipes.

    ``recipes`` is the registry (``{name: Recipe}``); models come in the order their first recipe
    was registered. The line on each model is the first paragraph of its docstring.
    """
    by_model = {}
    for recipe in recipes.values():
        by_model.setdefault(recipe.model, []).append(recipe.name)
    summaries = _summaries(root)
    unknown = sorted(m for m in by_model if m not in summaries)
    if unknown:
        raise SpecError(f"models named by recipes with no documented class or function in keras_ae: {unknown}")
    lines = ["| model | what it is | recipes |", "|---|---|---|"]
    for model, names in by_model.items():
        summary = summaries[model].replace("``", "`").replace("|", "\\|")
        lines.append(f"| `{model}` | {summary} | " + ", ".join(f"`{n}`" for n in names) + " |")
    return "\n".join(lines) + "\n"


def _registry():
    sys.path.insert(0, ROOT)
    from keras_ae.presets import RECIPES

    return RECIPES


# --- rewriting the documents ------------------------------------------------------------------

def documents(root=ROOT):
    """README.md and every Markdown file under docs/."""
    paths = [os.path.join(root, "README.md")]
    for folder, _, files in sorted(os.walk(os.path.join(root, "docs"))):
        paths += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".md")]
    return paths


def render_block(name, specs, recipes, root=ROOT):
    if name == "models":
        return model_table(recipes, root)
    if name not in specs:
        raise SpecError(f"no table {name!r} in benchmarks/tables (known: {', '.join(sorted(specs))})")
    try:
        return render_table(specs[name], root)
    except (KeyError, SpecError) as error:
        raise SpecError(f"table {name}: {error}") from error


def regenerate(text, specs, recipes, root=ROOT):
    """``text`` with every generated block rewritten, and the names of the blocks that changed."""
    stale = []

    def replace(match):
        body = render_block(match["name"], specs, recipes, root)
        if body != match["body"]:
            stale.append(match["name"])
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(replace, text), stale


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.docs_tables", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a block is stale")
    args = parser.parse_args(argv)
    specs, recipes, stale_any = table_specs(), _registry(), False
    for path in documents():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        new, stale = regenerate(text, specs, recipes)
        for name in stale:
            print(f"{os.path.relpath(path, ROOT)}: {name} {'is stale' if args.check else 'rewritten'}")
        if stale and not args.check:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
        stale_any = stale_any or bool(stale)
    return 1 if args.check and stale_any else 0


if __name__ == "__main__":
    sys.exit(main())
