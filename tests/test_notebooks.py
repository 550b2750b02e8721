"""The committed notebooks are what notebooks/make_notebooks.py writes, and hold no outputs.

CI runs the notebooks themselves with ``pytest --nbmake notebooks/``.
"""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _generator():
    path = os.path.join(ROOT, "notebooks", "make_notebooks.py")
    spec = importlib.util.spec_from_file_location("make_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


def test_every_notebook_is_generated():
    stored = sorted(f[:-6] for f in os.listdir(os.path.join(ROOT, "notebooks"))
                    if f.endswith(".ipynb"))
    assert stored == sorted(GENERATOR.NOTEBOOKS)


@pytest.mark.parametrize("stem", sorted(GENERATOR.NOTEBOOKS))
def test_notebook_matches_generator_and_has_no_outputs(stem):
    with open(GENERATOR.path_of(stem)) as handle:
        text = handle.read()
    assert text == GENERATOR.render(stem, GENERATOR.NOTEBOOKS[stem]), (
        f"{stem}.ipynb differs from notebooks/make_notebooks.py: run the script and commit"
    )
    code = [c for c in json.loads(text)["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


@pytest.mark.parametrize("stem", sorted(GENERATOR.NOTEBOOKS))
def test_notebook_writes_only_under_its_scratch_folder(stem):
    """Every notebook makes a tempfile.mkdtemp() folder first and removes it last."""
    cells = GENERATOR.NOTEBOOKS[stem]
    code = [text for kind, text in cells if kind == "code"]
    assert "WORK = tempfile.mkdtemp(" in code[0]
    assert code[-1] == "shutil.rmtree(WORK, ignore_errors=True)"
