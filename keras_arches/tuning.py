"""keras-tuner search over width, cardinality and depth, with a FLOP or parameter budget.

The HyperModels here are ``keras_tuner.HyperModel`` subclasses that build keras_arches models,
so every candidate has native grouped convolutions and saves and reloads under
``safe_mode=True`` (keras-tuner's own HyperResNet fakes groups with ``Lambda`` layers). A
candidate over the budget is rejected in ``build()``, before any training, as a failed trial
whose message gives its cost.

    hypermodel = WidthHyperModel("squeezenet1_1", input_shape=(64, 64, 3), classes=10,
                                 budget_flops=50e6)
    tuner = make_tuner(hypermodel, "random", max_trials=3, directory="tuning")
    tuner.search(train, validation_data=val, epochs=1)
    rows = results_table(tuner, hypermodel)
"""

import csv
import json
import os

import keras
import keras_tuner

from keras_arches import registry
from keras_arches.analysis import profile

ORACLES = {
    "random": keras_tuner.RandomSearch,
    "bayesian": keras_tuner.BayesianOptimization,
    "hyperband": keras_tuner.Hyperband,
}


def _check_budget(name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or value <= 0):
        raise ValueError(f"`{name}` must be a positive number or None. Received: {name}={value!r}")


def _check_choices(name, values, kind=(int, float)):
    values = tuple(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, kind) or v <= 0 for v in values):
        raise ValueError(
            f"`{name}` must be a non-empty sequence of positive numbers. "
            f"Received: {name}={values!r}"
        )
    return values


class BudgetedHyperModel(keras_tuner.HyperModel):
    """A HyperModel whose candidates are checked against a FLOP and parameter budget.

    Subclasses implement ``candidate(hp)`` (an uncompiled keras_arches model). ``build(hp)``
    counts the candidate's parameters and FLOPs (:func:`keras_arches.profile`, one
    multiply-add = one FLOP, batch 1), rejects it with ``keras_tuner.errors.FailedTrialError``
    when it exceeds ``budget_flops`` or ``budget_params``, and otherwise compiles it (Adam at
    ``learning_rate``, sparse categorical cross-entropy, accuracy). ``costs`` maps each tried
    set of hyperparameter values to its ``(params, flops)``.
    """

    def __init__(self, input_shape, classes, *, budget_flops=None, budget_params=None,
                 learning_rate=1e-3, name=None):
        _check_budget("budget_flops", budget_flops)
        _check_budget("budget_params", budget_params)
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
            raise ValueError(f"`classes` must be an integer >= 2. Received: classes={classes!r}")
        super().__init__(name=name, tunable=True)
        self.input_shape = tuple(input_shape)
        self.classes = classes
        self.budget_flops = budget_flops
        self.budget_params = budget_params
        self.learning_rate = learning_rate
        self.costs = {}

    def candidate(self, hp):
        raise NotImplementedError

    def cost(self, model):
        """``(params, flops)`` of a candidate."""
        counted = profile(model)
        return model.count_params(), counted.flops

    def over_budget(self, params, flops):
        """The reason a candidate of this cost is rejected, or None."""
        if self.budget_params is not None and params > self.budget_params:
            return f"{params:,d} parameters > budget {self.budget_params:,.0f}"
        if self.budget_flops is not None and flops > self.budget_flops:
            return f"{flops:,d} FLOPs > budget {self.budget_flops:,.0f}"
        return None

    def build(self, hp):
        model = self.candidate(hp)
        params, flops = self.cost(model)
        self.costs[_key(hp.values)] = (params, flops)
        reason = self.over_budget(params, flops)
        if reason:
            raise keras_tuner.errors.FailedTrialError(f"over budget: {reason}")
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def _standard(self):
        return dict(weights=None, input_shape=self.input_shape, classes=self.classes)


def _key(values):
    return json.dumps(values, sort_keys=True)


class WidthHyperModel(BudgetedHyperModel):
    """Width search: a channel multiplier for VGG, GoogLeNet and SqueezeNet builders, or Wide
    ResNet's widening factor ``k`` (Zagoruyko & Komodakis 2016) for ``"wide_resnet"``.

    ``model``: a registry name; ``widths``: the multipliers (or ``k`` values) to choose from.
    """

    MODELS = ("vgg16", "vgg19", "googlenet", "squeezenet1_0", "squeezenet1_1")

    def __init__(self, model, input_shape, classes, widths=(0.25, 0.5, 1.0), *, depth=16,
                 **kwargs):
        super().__init__(input_shape, classes, **kwargs)
        self.model_name = registry.model_info(model).name
        if self.model_name not in (*self.MODELS, "wide_resnet"):
            raise ValueError(
                f"Width search covers {', '.join(self.MODELS)} and wide_resnet. Received: {model!r}"
            )
        kind = int if self.model_name == "wide_resnet" else (int, float)
        self.widths = _check_choices("widths", widths, kind)
        self.depth = depth

    def candidate(self, hp):
        width = hp.Choice("width", list(self.widths))
        if self.model_name == "wide_resnet":
            return registry.get_model("wide_resnet", depth=self.depth, width=width,
                                      **self._standard())
        return registry.get_model(self.model_name, width_multiplier=width, **self._standard())


def _resnet_module():
    from keras_arches.models import resnet

    return resnet


class CardinalityHyperModel(BudgetedHyperModel):
    """Cardinality search for ResNeXt (Xie et al. 2017): the number of groups ``G`` and the
    per-path width ``c`` of the first stage's bottleneck (torchvision's ``base_width``).

    ``widths="solve"`` takes for each ``G`` the width that keeps a block's FLOPs equal to the
    plain bottleneck's (:func:`keras_arches.models.resnet.resnext_bottleneck_width`, 9Gc² +
    8GCc = 17C² with C = 64); a sequence of widths makes ``c`` a hyperparameter too.
    ``blocks_per_stage`` sets the depth (small for small inputs).
    """

    def __init__(self, input_shape, classes, groups=(1, 2, 4, 8, 32), widths="solve", *,
                 blocks_per_stage=(1, 1, 1, 1), **kwargs):
        super().__init__(input_shape, classes, **kwargs)
        self.groups = _check_choices("groups", groups, int)
        if not (isinstance(widths, str) and widths == "solve"):
            widths = _check_choices("widths", widths, int)
        self.widths = widths
        self.blocks_per_stage = tuple(blocks_per_stage)

    def candidate(self, hp):
        resnet = _resnet_module()
        groups = hp.Choice("groups", list(self.groups))
        if self.widths == "solve":
            width = resnet.resnext_bottleneck_width(64, groups)
        else:
            width = hp.Choice("width", list(self.widths))
        return resnet.ResNet(
            **self._standard(), name=f"resnext_g{groups}_c{width}", block="bottleneck",
            blocks_per_stage=self.blocks_per_stage, groups=groups, base_width=width,
        )


class DepthHyperModel(BudgetedHyperModel):
    """Depth search: residual blocks per stage (He et al. 2016), each stage its own
    hyperparameter ``blocks_stage{i}`` in ``[1, max_blocks[i]]``, for basic or bottleneck
    blocks, optionally grouped (``groups``/``base_width`` as ResNeXt).
    """

    def __init__(self, input_shape, classes, max_blocks=(2, 2, 2, 2), *, block="basic",
                 groups=1, base_width=64, **kwargs):
        super().__init__(input_shape, classes, **kwargs)
        self.max_blocks = _check_choices("max_blocks", max_blocks, int)
        self.block = block
        self.groups = groups
        self.base_width = base_width

    def candidate(self, hp):
        blocks = tuple(
            hp.Int(f"blocks_stage{i}", 1, top) for i, top in enumerate(self.max_blocks, 1)
        )
        return _resnet_module().ResNet(
            **self._standard(), name="resnet_" + "_".join(map(str, blocks)), block=self.block,
            blocks_per_stage=blocks, groups=self.groups, base_width=self.base_width,
        )


def make_tuner(hypermodel, oracle="random", max_trials=3, directory="tuning",
               project_name=None, seed=0, overwrite=True, **kwargs):
    """A keras-tuner Tuner for ``hypermodel`` with the named oracle (random, bayesian,
    hyperband), maximising ``val_accuracy``. Budget rejections never stop the search early
    (keras-tuner otherwise aborts after three failed trials in a row).
    """
    if oracle not in ORACLES:
        raise ValueError(f"Unknown oracle {oracle!r}. Choose one of: {', '.join(ORACLES)}.")
    if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
        raise ValueError(f"`max_trials` must be a positive integer. Received: {max_trials!r}")
    max_epochs = kwargs.pop("max_epochs", 3)
    common = dict(
        objective="val_accuracy", seed=seed, directory=directory, overwrite=overwrite,
        project_name=project_name or hypermodel.name or type(hypermodel).__name__,
        max_consecutive_failed_trials=max_trials + 1, **kwargs,
    )
    if oracle == "hyperband":
        # Hyperband's budget is epochs, not trials: max_epochs=3 gives about max_trials models.
        return keras_tuner.Hyperband(hypermodel, max_epochs=max_epochs, factor=3, **common)
    return ORACLES[oracle](hypermodel, max_trials=max_trials, **common)


def results_table(tuner, hypermodel):
    """One row per trial: id, status, hyperparameters, params, FLOPs, best val_accuracy.

    Rejected (over-budget) trials keep their cost and their reason in ``status``.
    """
    rows = []
    for trial in tuner.oracle.trials.values():
        values = trial.hyperparameters.values
        params, flops = hypermodel.costs.get(_key(values), (None, None))
        accuracy = None
        if trial.metrics.exists("val_accuracy"):
            accuracy = float(trial.metrics.get_best_value("val_accuracy"))
        status = str(trial.status)
        if trial.message and "over budget:" in trial.message:
            status = "REJECTED " + trial.message.rsplit("over budget:", 1)[1].strip()
        rows.append({
            "trial": trial.trial_id, "status": status, "hyperparameters": values,
            "params": params, "flops": flops, "val_accuracy": accuracy,
        })
    return rows


def write_results(rows, directory):
    """Writes ``results.csv`` and ``results.md`` into ``directory``; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    csv_path = os.path.join(directory, "results.csv")
    md_path = os.path.join(directory, "results.md")
    columns = ["trial", "status", "hyperparameters", "params", "flops", "val_accuracy"]
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "hyperparameters": json.dumps(row["hyperparameters"])})

    def cell(key, value):
        if value is None:
            return "–"
        if key == "hyperparameters":
            return ", ".join(f"{k}={v}" for k, v in value.items())
        if key == "val_accuracy":
            return f"{value:.4f}"
        return f"{value:,d}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(k, row[k]) for k in columns) + " |" for row in rows]
    with open(md_path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return csv_path, md_path


# -- a whole search, and the command line -------------------------------------------------

# family -> (hypermodel factory, the model whose card gives the smallest square input)
FAMILIES = {
    "vgg": (lambda shape, classes, **kw: WidthHyperModel("vgg16", shape, classes, **kw), "vgg16"),
    "googlenet": (lambda shape, classes, **kw: WidthHyperModel("googlenet", shape, classes, **kw),
                  "googlenet"),
    "squeezenet": (
        lambda shape, classes, **kw: WidthHyperModel("squeezenet1_1", shape, classes, **kw),
        "squeezenet1_1"),
    "wide_resnet": (
        lambda shape, classes, **kw: WidthHyperModel("wide_resnet", shape, classes,
                                                     widths=(1, 2, 4), depth=10, **kw),
        "wide_resnet"),
    "resnext": (lambda shape, classes, **kw: CardinalityHyperModel(shape, classes, **kw),
                "resnext50_32x4d"),
    "resnet": (lambda shape, classes, **kw: DepthHyperModel(shape, classes, **kw), "resnet18"),
}


def search(family, *, dataset=None, max_trials=3, oracle="random", budget_flops=None,
           budget_params=None, epochs=1, steps_per_epoch=None, batch_size=32, image_size=None,
           output_dir=None, seed=0, verbose=0):
    """Runs a whole search for ``family`` (see :data:`FAMILIES`) on a keras_arches dataset.

    The dataset (default: the embedded MNIST subset) is fed at ``image_size`` (default: the
    family's smallest sensible size) in RGB. Writes ``results.csv``/``results.md`` and the best
    model, ``best.keras``, into ``output_dir`` (default ``saved_models/tune_<family>``) and
    returns ``(rows, best_model_path)``; ``best_model_path`` is None when every candidate was
    over budget.
    """
    from keras_arches import data

    if family not in FAMILIES:
        raise ValueError(f"Unknown search family {family!r}. Choose one of: {', '.join(FAMILIES)}.")
    factory, base = FAMILIES[family]
    min_size = registry.model_info(base).min_size
    size = image_size or min_size
    if size < min_size:
        raise ValueError(f"`image_size` must be at least {min_size} for {family}. Received: {size}")
    output_dir = output_dir or os.path.join("saved_models", f"tune_{family}")
    pipelines = data.datasets(dataset or data.EMBEDDED, image_size=size, channels=3,
                              batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                              one_hot=False, seed=seed)
    hypermodel = factory((size, size, 3), pipelines.num_classes, budget_flops=budget_flops,
                         budget_params=budget_params)
    tuner = make_tuner(hypermodel, oracle, max_trials=max_trials, seed=seed,
                       directory=os.path.join(output_dir, "trials"), project_name=family)
    tuner.search(pipelines.train, validation_data=pipelines.test, epochs=epochs, verbose=verbose)
    rows = results_table(tuner, hypermodel)
    write_results(rows, output_dir)
    best_path = None
    if any(row["val_accuracy"] is not None for row in rows):
        best_path = os.path.join(output_dir, "best.keras")
        tuner.get_best_models(1)[0].save(best_path)
    return rows, best_path


def add_cli_arguments(parser):
    parser.add_argument("family", choices=sorted(FAMILIES), help="what to search")
    parser.add_argument("--dataset", default=None,
                        help="a tensorflow-datasets name or image folder (default: embedded MNIST)")
    parser.add_argument("--max-trials", type=int, default=3)
    parser.add_argument("--oracle", choices=sorted(ORACLES), default="random")
    parser.add_argument("--budget-flops", type=float, default=None,
                        help="reject candidates above this many FLOPs (1 multiply-add = 1 FLOP)")
    parser.add_argument("--budget-params", type=float, default=None)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--output", default=None, help="default saved_models/tune_FAMILY")


def run_cli(args):
    """Search width, cardinality or depth with keras-tuner; write the table and best model."""
    rows, best = search(
        args.family, dataset=args.dataset, max_trials=args.max_trials, oracle=args.oracle,
        budget_flops=args.budget_flops, budget_params=args.budget_params, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
        image_size=args.image_size, output_dir=args.output, verbose=1,
    )
    output = args.output or os.path.join("saved_models", f"tune_{args.family}")
    with open(os.path.join(output, "results.md")) as handle:
        print(handle.read())
    print(f"best model: {best or 'none (every candidate was over budget)'}")
