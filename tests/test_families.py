"""One folder per family (docs/design.md, Layout): ``keras_ae/models/<family>/`` holds the family's
models and its recipes and tiny test configurations (``presets.py``), and nothing registers a
recipe from anywhere else.

Each presets module is run again against an empty registry, which tells which folder registers
which recipe without trusting a list kept by hand.
"""

import importlib.util
import pathlib

import pytest

from keras_ae import models
from keras_ae.presets import registry

MODELS = pathlib.Path(models.__file__).parent
FAMILIES = sorted(p for p in MODELS.iterdir() if p.is_dir() and p.name != "__pycache__")
#: the model a family may configure without defining it: a VAE composed of parts (a baseline, a combination)
SHARED_MODEL = "VAE"


def _family_of(module_name):
    """The family folder of a module ``keras_ae.models.<family>.<module>``, else None."""
    parts = module_name.split(".")
    return parts[2] if len(parts) == 4 and parts[:2] == ["keras_ae", "models"] else None


@pytest.fixture(scope="module")
def registered_by_family():
    """``{family: (recipe names, test configuration names)}`` its presets modules register."""
    found = {}
    with pytest.MonkeyPatch.context() as patch:
        for folder in FAMILIES:
            recipes, configs = set(), set()
            for path in sorted(folder.glob("*presets.py")):
                patch.setattr(registry, "RECIPES", {})
                patch.setattr(registry, "TEST_CONFIGS", {})
                spec = importlib.util.spec_from_file_location(f"_again_{folder.name}_{path.stem}", path)
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
                recipes |= set(registry.RECIPES)
                configs |= set(registry.TEST_CONFIGS)
            found[folder.name] = (recipes, configs)
    return found


def test_every_family_folder_has_its_models_and_its_recipes():
    assert len(FAMILIES) >= 12, [f.name for f in FAMILIES]
    for folder in FAMILIES:
        assert (folder / "__init__.py").is_file() and (folder / "presets.py").is_file(), folder.name
    top = sorted(p.name for p in MODELS.glob("*.py"))
    assert top == ["__init__.py", "base.py", "steps.py"], f"a model module outside a family folder: {top}"


def test_every_model_lives_in_a_family_folder():
    for name in dir(models):
        obj = getattr(models, name)
        if name[0].isupper() and name != "BaseAutoencoder":
            assert _family_of(obj.__module__) is not None, f"{name} is defined in {obj.__module__}"


def misplaced(registered):
    """The recipes and test configurations of ``{family: (recipes, configs)}`` registered outside the
    folder of their model (a plain ``VAE`` may be configured by any family)."""
    wrong = []
    for family, (recipe_names, config_names) in registered.items():
        entries = [registry.RECIPES[n] for n in recipe_names] + [registry.TEST_CONFIGS[n] for n in config_names]
        for entry in entries:
            home = _family_of(getattr(models, entry.model).__module__)
            if entry.model != SHARED_MODEL and home != family:
                wrong.append(f"{entry.name} ({entry.model}, of {home}/) is registered in {family}/")
    return sorted(wrong)


def test_every_recipe_and_test_configuration_is_registered_by_the_folder_of_its_model(registered_by_family):
    recipes = [name for names, _ in registered_by_family.values() for name in names]
    configs = [name for _, names in registered_by_family.values() for name in names]
    # every registered name comes from a family folder, and from one only
    assert sorted(recipes) == sorted(registry.RECIPES)
    assert sorted(configs) == sorted(registry.TEST_CONFIGS)
    wrong = misplaced(registered_by_family)
    assert not wrong, "a recipe or test configuration outside its model's family folder:\n" + "\n".join(wrong)


def test_a_recipe_in_another_family_folder_is_found():
    registered = {"flows": ({"vqvae-digits", "vae-digits", "iaf-digits"}, {"made"}), "vq": (set(), {"vqvae"})}
    assert misplaced(registered) == ["made (MADEDensity, of autoregressive/) is registered in flows/",
                                     "vqvae-digits (VQVAE, of vq/) is registered in flows/"]
