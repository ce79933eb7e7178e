"""The documents against what they describe: generated tables against the benchmark JSON, the README's
model table against the recipe registry, docs/design.md's layout against the source tree.

Nothing here imports TensorFlow: the generator reads JSON, the registry is data and the layout check
walks the folders.
"""

import decimal
import json
import os
import re

import pytest

from benchmarks import docs_tables

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_RUN = ('python3 -m venv .venv && .venv/bin/pip install -e ".[litert]" && '
             '.venv/bin/python -m zoo train vae-digits')
TEST_COMMAND = ('python3 -m venv .venv && .venv/bin/pip install -e ".[test,litert]" && '
                '.venv/bin/python -m pytest -q -n 2 --dist loadfile')
README_MAX_LINES = 300


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def recipes():
    from keras_ae.presets import RECIPES

    return RECIPES


# --- the generator itself ---------------------------------------------------------------------

def _spec(rows, columns, **extra):
    return {"rows": rows, "columns": columns, **extra}


def test_stated_numbers_keep_their_digits_and_negatives_get_a_minus_sign():
    text = ('{"t": {"columns": [["x", "{x}"], ["y", "{y:+} ± {s}", "{y}"]], '
            '"rows": [{"x": 22.80, "y": -0.30, "s": 0.04}, {"x": 0.0002845, "y": 0}]}}')
    spec = json.loads(text, parse_float=decimal.Decimal)["t"]
    lines = docs_tables.render_table(spec).splitlines()
    assert lines[2] == "| 22.80 | \u22120.30 ± 0.04 |"      # the stated 22.80, not 22.8
    assert lines[3] == "| 0.0002845 | 0 |"                   # the second template when a field is missing


def test_a_cell_without_its_fields_is_a_dash_and_bold_follows_the_rule():
    spec = _spec([{"name": "a", "v": decimal.Decimal("1.5")}, {"name": "b"}], [["name", "{name}"], ["v", "{v}"]],
                 bold=[{"where": {"name": "a"}, "columns": ["v"]}])
    assert docs_tables.render_table(spec).splitlines()[2:] == ["| a | **1.5** |", "| b | - |"]


def test_groups_give_the_mean_and_the_sample_standard_deviation(tmp_path):
    # statistics.stdev of (1, 2, 4) is sqrt(7/3) = 1.5275...; the population sd would be 1.2472...
    (tmp_path / "runs.json").write_text('[{"r": "a", "m": 1.0}, {"r": "a", "m": 2.0}, {"r": "a", "m": 4.0},'
                                        ' {"r": "b", "m": 0.5}]')
    spec = {"source": "runs.json", "group_by": ["r"], "groups": [["b", "B"], ["a", "A"]],
            "columns": [["r", "{group}"], ["n", "{n}"], ["m", "{m:meansd.3f}"], ["each", "{m:each.1f}"]]}
    assert docs_tables.render_table(spec, root=str(tmp_path)).splitlines()[2:] == [
        "| B | 1 | 0.500 | 0.5 |", "| A | 3 | 2.333 ± 1.528 | 1.0, 2.0, 4.0 |"]


def test_exploded_rows_and_conditional_templates(tmp_path):
    (tmp_path / "lines.json").write_text('{"k": "a", "s": {"x": {"v": 0.0}, "y": {"v": 0.25}}}\n'
                                         '{"k": "b", "s": {"x": {"v": -1.0}}}\n')
    spec = {"source": "lines.json", "explode": "s",
            "columns": [["key", "{k} {s_key}"], ["v", {"if": {"v": 0}, "then": "0"}, "{v:+.2f}"]]}
    assert docs_tables.render_table(spec, root=str(tmp_path)).splitlines()[2:] == [
        "| a x | 0 |", "| a y | +0.25 |", "| b x | \u22121.00 |"]


def test_a_stale_block_is_found_and_rewritten_and_an_unknown_table_is_refused():
    specs = {"f.t": _spec([{"a": 1}], [["a", "{a}"]])}
    text = "before\n<!-- table: f.t -->\n| a |\n|---|\n| 2 |\n<!-- /table -->\nafter\n"
    new, stale = docs_tables.regenerate(text, specs, {})
    assert stale == ["f.t"] and "| 1 |" in new and "| 2 |" not in new and new.endswith("after\n")
    assert docs_tables.regenerate(new, specs, {})[1] == []
    with pytest.raises(docs_tables.SpecError, match="no table 'f.missing'"):
        docs_tables.regenerate("<!-- table: f.missing -->\n<!-- /table -->\n", specs, {})


def test_a_grouped_field_without_a_statistic_is_refused(tmp_path):
    (tmp_path / "runs.json").write_text('[{"r": "a", "m": 1.0}, {"r": "a", "m": 2.0}]')
    spec = {"source": "runs.json", "group_by": ["r"], "columns": [["m", "{m:.3f}"]]}
    with pytest.raises(docs_tables.SpecError, match="meansd"):
        docs_tables.render_table(spec, root=str(tmp_path))


# --- the documents ----------------------------------------------------------------------------

def test_every_generated_block_matches_its_json(recipes):
    specs = docs_tables.table_specs()
    stale = []
    for path in docs_tables.documents():
        stale += [f"{os.path.relpath(path, ROOT)}: {name}"
                  for name in docs_tables.regenerate(_read(path), specs, recipes)[1]]
    assert not stale, f"stale tables (run python -m benchmarks.docs_tables): {stale}"


def test_every_table_spec_is_shown_once():
    specs = docs_tables.table_specs()
    shown = [m["name"] for path in docs_tables.documents() for m in docs_tables.BLOCK.finditer(_read(path))]
    tables = sorted(name for name, spec in specs.items() if "columns" in spec)
    assert sorted(n for n in shown if n != "models") == tables
    assert shown.count("models") == 1


MEASURED = re.compile(r"\**[\u2212+-]?\d[\d,]*\.\d+.*")


def test_no_table_of_measured_numbers_outside_a_generated_block():
    """A Markdown table outside the blocks may describe (classes, objectives, exit codes), not report figures."""
    offenders = []
    for path in docs_tables.documents():
        outside = docs_tables.BLOCK.sub("", _read(path))
        outside = re.sub(r"```.*?```", "", outside, flags=re.S)
        for line in outside.splitlines():
            if line.startswith("|") and not re.fullmatch(r"\|( ?:?-+:? ?\|)+", line.strip()):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
                if any(MEASURED.fullmatch(c) for c in cells):
                    offenders.append(f"{os.path.relpath(path, ROOT)}: {line[:80]}")
    assert not offenders, offenders


def test_every_relative_link_in_the_docs_resolves():
    broken = []
    for path in docs_tables.documents():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _read(path)):
            if "://" not in target and not os.path.exists(os.path.join(os.path.dirname(path), target)):
                broken.append(f"{os.path.relpath(path, ROOT)}: {target}")
    assert not broken, broken


def test_the_readme_is_a_front_door_with_the_ci_line_and_the_first_run_line():
    lines = _read(os.path.join(ROOT, "README.md")).splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"
    assert FIRST_RUN in lines
    # .ci/run takes the first line that starts like this and runs it.
    ci = [line for line in lines if line.startswith('python3 -m venv .venv && .venv/bin/pip install -e ".[test')]
    assert ci[:1] == [TEST_COMMAND]
    assert "'^python3 -m venv .venv && .venv/bin/pip install -e \".\\[test' README.md" in _read(
        os.path.join(ROOT, ".ci", "run"))


def test_the_readme_model_table_is_the_registry(recipes):
    text = _read(os.path.join(ROOT, "README.md"))
    (block,) = [m["body"] for m in docs_tables.BLOCK.finditer(text) if m["name"] == "models"]
    assert block == docs_tables.model_table(recipes), "run python -m benchmarks.docs_tables"
    rows = block.splitlines()[2:]
    assert len(rows) == len({r.model for r in recipes.values()})
    for recipe in recipes.values():
        (row,) = [r for r in rows if r.startswith(f"| `{recipe.model}` |")]
        assert f"`{recipe.name}`" in row


def test_a_recipe_added_to_the_registry_shows_up_in_the_model_table(recipes):
    import dataclasses

    vae = recipes["vae-digits"]
    more = {**recipes, "vae-extra": dataclasses.replace(vae, name="vae-extra"),
            "mlp-x": dataclasses.replace(vae, name="mlp-x", model="UndocumentedModel")}
    assert "`vae-extra`" in docs_tables.model_table({k: v for k, v in more.items() if k != "mlp-x"})
    with pytest.raises(docs_tables.SpecError, match="UndocumentedModel"):
        docs_tables.model_table(more)


# --- docs/design.md against the tree ------------------------------------------------------------

PACKAGES = ("keras_ae", "zoo", "export")
NAME = re.compile(r"(?<![\w./-])([A-Za-z_]\w*(?:/[A-Za-z_]\w*)*(?:\.py|/))(?![\w/.-])")
DESCRIPTION_COLUMN = 20


def layout_names(text):
    """Every path the Layout block of design.md names, relative to the repository.

    An entry is a line whose first word starts before column 20: a folder (``name/``) or a module
    (``name.py``), under the last folder entry indented less. A name in an entry's description
    (or its continuation lines, indented 20 or more) is relative to that entry's folder.
    """
    section = text[text.index("## Layout"):]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    names, stack, folder = set(), [], ""
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent < DESCRIPTION_COLUMN:
            entry, _, description = line.strip().partition(" ")
            if not NAME.fullmatch(entry):
                raise AssertionError(f"layout line does not start with a path: {line!r}")
            while stack and stack[-1][0] >= indent:
                stack.pop()
            parent = stack[-1][1] if stack else ""
            path = parent + entry
            names.add(path)
            if entry.endswith("/"):
                stack.append((indent, path))
            folder = path if entry.endswith("/") else parent
        else:
            description = line
        names.update(folder + mention for mention in NAME.findall(description))
    return {name.rstrip("/") for name in names}


def source_tree():
    """Every package folder and module under keras_ae/, zoo/ and export/ (``__init__.py`` aside)."""
    found = set()
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(ROOT, package)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            found.add(os.path.relpath(folder, ROOT).replace(os.sep, "/"))
            found.update(os.path.relpath(os.path.join(folder, f), ROOT).replace(os.sep, "/")
                         for f in files if f.endswith(".py") and f != "__init__.py")
    return found


def test_the_layout_parser_reads_entries_nesting_and_descriptions():
    text = ("## Layout\n\n```\npkg/\n  a.py             one\n  sub/             b.py (x), c.py;\n"
            "                     d.py and `docs/x.md`, e.g. MLP/conv\nother/\n```\n")
    assert layout_names(text) == {"pkg", "pkg/a.py", "pkg/sub", "pkg/sub/b.py", "pkg/sub/c.py", "pkg/sub/d.py",
                                  "other"}


def test_design_md_names_every_module_and_only_modules_that_exist():
    named = layout_names(_read(os.path.join(ROOT, "docs", "design.md")))
    missing = sorted(p for p in named if not os.path.exists(os.path.join(ROOT, p)))
    assert not missing, f"docs/design.md names paths that do not exist: {missing}"
    unnamed = sorted(source_tree() - named)
    assert not unnamed, f"docs/design.md's Layout does not name: {unnamed}"
