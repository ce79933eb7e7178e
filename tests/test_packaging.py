"""The wheel is a library users can install (issue 12): ``keras_ae``, ``zoo`` and ``export``
importable from a non-editable install, the ``keras-ae`` console script, py.typed, the license,
and the recipes inside the library."""

import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_a_non_editable_install_has_the_three_packages_and_the_console_script(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), ROOT], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.iterdir()
    names = zipfile.ZipFile(wheel).namelist()
    assert {"keras_ae/py.typed", "keras_ae/models/base.py", "keras_ae/presets/registry.py",
            "keras_ae/models/vq/presets.py", "export/cli.py"} <= set(names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    # the library's own recipes are its registry's, not an entry point's (the group is for other packages)
    assert "keras-ae = zoo.cli:console_main" in entry_points and "keras_ae.presets" not in entry_points
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # Run from an empty folder with only the installed copy (and the dependencies) on the path.
    env = {**os.environ, "PYTHONPATH": str(target)}
    script = target / "bin" / "keras-ae"
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: keras-ae"), done.stderr
    where = subprocess.run([sys.executable, "-c", "import zoo, export, keras_ae.presets as p; "
                            "print(zoo.__file__); print(export.__file__)"],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(target)) for line in where.stdout.split()), where.stdout
