"""Breaks the checkpoint converter in named ways and shows which tests catch each break.

Usage (from the repository root, with the test extras installed)::

    python tools/mutation_check.py                 # every mutation, the default tests
    python tools/mutation_check.py zero_kernel     # one mutation

Each mutation is applied, through a pytest plugin in this file, to what the converter
(``keras_arches.pretrained.convert``) assigns, so every path that loads a state dict (a tag, a
file, the parity harness) is broken the same way:

- ``zero_kernel``: the first convolution kernel is all zeros;
- ``shift_bn_mean``: every batch norm's moving mean is shifted by 0.5 (a wrong statistic);
- ``drop_aux``: the auxiliary heads' tensors are not assigned (they keep their initialisation);
- ``swap_stem_channels``: the stem's kernel takes input channels 1, 0, 2 (RGB read as GRB).

Each targeted test must pass unmutated and fail under every mutation that touches what it
checks; the table printed at the end says so. Not part of CI (it runs the tests five times).
"""

import os
import subprocess
import sys

import numpy as np

MUTATIONS = ("zero_kernel", "shift_bn_mean", "drop_aux", "swap_stem_channels")
# (test node, the mutations it must catch)
TARGETS = (
    ("tests/test_pretrained_parity.py::test_parity[ResNet18]",
     ("zero_kernel", "shift_bn_mean", "swap_stem_channels")),
    ("tests/test_pretrained_parity.py::test_googlenet_torchvision_aux_heads", MUTATIONS),
    ("tests/test_loading.py::test_a_checkpoint_chooses_its_layout_end_to_end", MUTATIONS),
    ("tests/test_loading.py::test_a_tag_downloads_checks_converts_once_and_matches_torch",
     ("zero_kernel", "shift_bn_mean", "swap_stem_channels")),
)
_VARIABLE = "KERAS_ARCHES_MUTATION"


def _mutate(assignments, mutation):
    """The converter's ``(variable, value)`` list with ``mutation`` applied."""
    kernels = [i for i, (variable, value) in enumerate(assignments) if np.ndim(value) == 4]
    mutated = []
    for i, (variable, value) in enumerate(assignments):
        path = variable.path
        if mutation == "zero_kernel" and kernels and i == kernels[0]:
            value = np.zeros_like(value)
        elif mutation == "swap_stem_channels" and kernels and i == kernels[0]:
            value = value[:, :, [1, 0, 2] + list(range(3, value.shape[2]))]
        elif mutation == "shift_bn_mean" and path.endswith("moving_mean"):
            value = value + 0.5
        elif mutation == "drop_aux" and path.split("/")[0].startswith("aux"):
            continue
        mutated.append((variable, value))
    return mutated


def pytest_configure(config):
    """The plugin: wraps the converter's plan so that its assignments are mutated."""
    mutation = os.environ.get(_VARIABLE)
    if not mutation:
        return
    from keras_arches.pretrained import convert

    plan = convert._Plan

    class Mutated(plan):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.assignments = _mutate(self.assignments, mutation)

    convert._Plan = Mutated


def _passes(node, mutation):
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.abspath(__file__))}
    env.pop(_VARIABLE, None)
    if mutation:
        env[_VARIABLE] = mutation
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "mutation_check", "-p",
         "no:cacheprovider", "--no-header", node],
        env=env, capture_output=True, text=True,
    )
    return run.returncode == 0


def main(argv):
    mutations = argv or list(MUTATIONS)
    rows = []
    for node, caught in TARGETS:
        row = [node.split("::")[-1], "pass" if _passes(node, None) else "FAILS UNMUTATED"]
        for mutation in mutations:
            failed = not _passes(node, mutation)
            expected = mutation in caught
            row.append(("fails" if failed else "passes")
                       + ("" if failed == expected else " (!)"))
        rows.append(row)
        print(" | ".join(row), flush=True)
    print()
    print("| test | unmutated | " + " | ".join(mutations) + " |")
    print("|---|---|" + "---|" * len(mutations))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if all("(!)" not in cell and "UNMUTATED" not in cell for r in rows for cell in r) \
        else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
