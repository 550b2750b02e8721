"""Training: a registered model, a dataset and its paper's recipe, in a run that loses nothing.

``train("lenet5", options={"variant": "modern"}, input_shape=(28, 28, 1))`` builds the model
under the requested precision on the requested devices (:mod:`keras_arches.distributing`),
compiles it with its recipe (:mod:`keras_arches.recipes`), fits it on a
:mod:`keras_arches.data` pipeline and writes a run directory::

    run_dir/run_config.json      the resolved settings (precision, XLA, engine, recipe, ...)
    run_dir/backup/              BackupAndRestore state: a killed run resumes from its last epoch
    run_dir/checkpoints/         last.keras and best.keras (or epoch_001.keras, ... one per epoch)
    run_dir/history.csv          per-epoch metrics; run_dir/history.png their curves
    run_dir/tensorboard/         TensorBoard logs
    run_dir/model.keras          the trained model (with its optimizer and auxiliary heads)

The global dtype policy is restored afterwards, whatever happens.
"""

import contextlib
import dataclasses
import functools
import json
import os
import random
import shutil
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_arches import data as data_lib
from keras_arches import distributing, registry
from keras_arches import recipes as recipes_lib
from keras_arches.arch_model import ArchModel, strip_auxiliary
from keras_arches.checks import check_positive_int
from keras_arches.precision import dtype_policy

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# Settings a resumed run must share with the run that wrote its backup.
_RESUME_KEYS = ("model", "options", "dataset", "recipe", "epochs", "batch_size",
                "steps_per_epoch", "input_shape", "seed", "precision")


@dataclasses.dataclass
class TrainResult:
    """What a run produced: the model, its metrics and where its files are.

    ``model`` is the trained model (with its auxiliary heads, if any); ``test_data`` the test
    split's ``(images, one-hot labels)`` batches as the model takes them, e.g. to check an
    export of it (``keras-arches train --export`` does).
    """

    model: keras.Model
    history: dict
    test_accuracy: float
    run_dir: str
    model_path: str
    saved_path: str
    wall_time_s: float
    fit_time_s: float
    initial_epoch: int
    config: dict
    test_data: object


# -- precision and XLA -------------------------------------------------------------------


def _has_devices(kind):
    return bool(tf.config.list_logical_devices(kind))


def resolve_precision(mixed_precision, engine):
    """The dtype policy name of a run.

    ``False``/``None`` is float32; ``True`` or ``"auto"`` is mixed_bfloat16 on a TPU,
    mixed_float16 on a GPU (Keras then wraps the optimizer in a LossScaleOptimizer) and
    mixed_bfloat16 on a CPU (float16 has no fast CPU kernels); a policy name is used as is.
    """
    if mixed_precision in (None, False, "float32"):
        return "float32"
    if mixed_precision in (True, "auto"):
        if engine.is_tpu:
            return "mixed_bfloat16"
        return "mixed_float16" if _has_devices("GPU") else "mixed_bfloat16"
    if mixed_precision in POLICIES:
        return mixed_precision
    raise ValueError(
        f"`mixed_precision` must be True, False, 'auto' or one of {POLICIES}. "
        f"Received: {mixed_precision!r}"
    )


def resolve_jit_compile(jit_compile, engine):
    """``(bool, reason)``: XLA is used only as stated, never Keras' silent "auto".

    ``"auto"`` here means: on for a TPU and for one GPU, off on CPU and over several GPUs
    (where Keras' own "auto" would turn it off without saying so).
    ``engine`` is the run's :class:`~keras_arches.distributing.Engine`.
    """
    if isinstance(jit_compile, bool):
        return jit_compile, "as requested"
    if jit_compile != "auto":
        raise ValueError(f"`jit_compile` must be True, False or 'auto'. Received: {jit_compile!r}")
    if engine.is_tpu:
        return True, "auto: TPU"
    if not _has_devices("GPU"):
        return False, "auto: no GPU"
    if engine.devices > 1:
        return False, "auto: several devices"
    return True, "auto: one GPU"


@contextlib.contextmanager
def op_determinism(enabled=True):
    """TF's deterministic ops for the block; the previous setting is restored after."""
    from tensorflow.python.framework import config as tf_config

    was = tf_config.is_op_determinism_enabled()
    if enabled and not was:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if enabled and not was:
            tf_config.disable_op_determinism()


# -- checkpoints --------------------------------------------------------------------------


def _unusable(path, problem, remedy):
    return ValueError(f"{path} is unusable: {problem}. {remedy}")


def check_weights_file(path, remedy="Delete it, or restore it from a copy."):
    """Raises a clear ValueError if ``path`` is not a readable HDF5 (``.weights.h5``) file."""
    import h5py

    if not os.path.isfile(path):
        raise ValueError(f"No checkpoint file {path!r}.")
    if not h5py.is_hdf5(path):
        raise _unusable(path, "not an HDF5 weights file, it is truncated or corrupt", remedy)
    try:
        with h5py.File(path, "r") as handle:
            handle.visit(_read)
    except (OSError, RuntimeError, KeyError) as error:
        raise _unusable(path, f"its HDF5 content cannot be read ({error})", remedy) from None


def _read(name):
    """h5py visitor: touching every name reads the whole file's structure."""


_METADATA = "training_metadata.json"
_KERAS_WEIGHTS = "latest.weights.h5"  # keras.callbacks.BackupAndRestore's name
_PARTIAL = ".partial-"  # the prefix of write_atomically's temporary files


def _backup_state(backup_dir):
    """``(epoch, weights path)`` of the backup in ``backup_dir``: ``(0, None)`` for none.

    The metadata names the weights file of its epoch (``keras.callbacks.BackupAndRestore``'s
    metadata, which names none, means ``latest.weights.h5``). A backup that cannot be read is a
    ValueError that names the file and what to do.
    """
    metadata = os.path.join(backup_dir, _METADATA)
    remedy = (f"Delete {backup_dir} to restart the run from epoch 0 (`--restart`, "
              "resume=False; the checkpoints are kept).")
    if not os.path.exists(metadata):
        return 0, None
    try:
        with open(metadata) as handle:
            state = json.load(handle)
        epoch = state["epoch"]
    except (ValueError, KeyError, TypeError) as error:
        raise _unusable(metadata, f"not BackupAndRestore metadata ({error})", remedy) from None
    if not isinstance(epoch, int) or epoch < 0:
        raise _unusable(metadata, f"epoch {epoch!r} is not a non-negative integer", remedy)
    weights = os.path.join(backup_dir, state.get("weights", _KERAS_WEIGHTS))
    if epoch and not os.path.exists(weights):
        raise _unusable(backup_dir, f"the metadata says epoch {epoch} but {weights} is missing",
                        remedy)
    if not os.path.exists(weights):
        return epoch, None
    check_weights_file(weights, remedy)
    return epoch, weights


class _Backup(keras.callbacks.Callback):
    """``keras.callbacks.BackupAndRestore`` at each epoch's end, written so that a run killed at
    any moment leaves a backup it resumes from: the weights (and the optimizer's state) go to a
    new file named by its epoch, written under a temporary name and renamed; then the metadata
    that names it replaces the old metadata in one rename (the commit point); then the older
    weights are removed. Keras' own callback overwrites both files in place, so a kill while it
    writes leaves a truncated file and the run cannot resume. ``restore`` is the weights file
    the run resumes from (:func:`_backup_state`, already checked), or None."""

    def __init__(self, backup_dir, restore=None):
        super().__init__()
        self.backup_dir, self.restore = backup_dir, restore

    def on_train_begin(self, logs=None):
        weights = self.restore
        if weights is None:
            return
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(weights)
        except Exception as error:
            raise _unusable(
                weights, f"restoring it failed ({type(error).__name__}: {error})",
                f"Delete {self.backup_dir} to restart the run (`--restart`, resume=False), or "
                "resume with the same model and settings.",
            ) from None

    def on_epoch_end(self, epoch, logs=None):
        name = f"epoch_{epoch + 1:04d}.weights.h5"
        write_atomically(os.path.join(self.backup_dir, name), self.model.save_weights)
        state = {"epoch": epoch + 1, "batch": 0, "weights": name}
        write_json_atomically(os.path.join(self.backup_dir, _METADATA), state)
        for stale in os.listdir(self.backup_dir):  # older weights, files of killed writes
            if stale != name and (stale.endswith(".weights.h5") or stale.startswith(_PARTIAL)):
                os.remove(os.path.join(self.backup_dir, stale))

    def on_train_end(self, logs=None):
        shutil.rmtree(self.backup_dir, ignore_errors=True)


class _Checkpoint(keras.callbacks.Callback):
    """The model saved at each epoch's end to ``path`` (formatted with ``epoch``, 1-based), or
    only when ``monitor`` (a validation loss) is lower than before; written atomically, so a
    kill while writing leaves the previous file whole."""

    def __init__(self, path, monitor=None):
        super().__init__()
        self.path, self.monitor, self.best = path, monitor, float("inf")

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor is not None:
            value = (logs or {}).get(self.monitor)
            if value is None or not value < self.best:
                return
            self.best = value
        write_atomically(self.path.format(epoch=epoch + 1), self.model.save)


def write_json_atomically(path, value):
    """``value`` as JSON at ``path``, by :func:`write_atomically`."""

    def write(temporary):
        with open(temporary, "w") as handle:
            json.dump(value, handle, indent=2)

    write_atomically(path, write)


# -- the run ------------------------------------------------------------------------------


def write_atomically(path, write):
    """``write(temporary_path)``, then the file renamed to ``path`` in one step: a run killed
    while writing leaves the previous file (or none), never a partial one. The temporary name
    keeps ``path``'s suffixes (Keras checks ``.keras`` and ``.weights.h5``)."""
    folder, base = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f"{_PARTIAL}{os.getpid()}-{base}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def plot_history(csv_path, png_path):
    """Writes the loss and accuracy curves of a ``history.csv`` to a PNG (matplotlib Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = _read_history(csv_path)
    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    epochs = [row["epoch"] + 1 for row in rows]
    for axis, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        for key in sorted(k for k in rows[0] if k.endswith(metric)):
            axis.plot(epochs, [row[key] for row in rows], marker="o", label=key)
        axis.set_xlabel("epoch")
        axis.set_title(metric)
        axis.legend()
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    return png_path


def _read_history(csv_path):
    import csv

    by_epoch = {}
    with open(csv_path) as handle:
        for row in csv.DictReader(handle):
            values = {k: float(v) for k, v in row.items() if v not in ("", None)}
            values["epoch"] = int(values["epoch"])
            by_epoch[values["epoch"]] = values  # a resumed run may repeat an epoch: keep the last
    if not by_epoch:
        raise ValueError(f"{csv_path} holds no epochs.")
    return [by_epoch[e] for e in sorted(by_epoch)]


def _output_layer(model):
    """The layer that computes the model's first output (public API: ``layer.output``)."""
    for layer in reversed(model.layers):
        try:
            if layer.output is model.outputs[0]:
                return layer
        except (AttributeError, ValueError):  # a layer called more than once has no .output
            continue
    return None


def _outputs_are_logits(model):
    activation = getattr(_output_layer(model), "activation", None)
    return activation is None or activation is keras.activations.linear


def _model_spec(model, options, input_shape, source):
    """(name, builder kwargs, input_shape) of a registered model for this dataset."""
    info = registry.model_info(model)
    kwargs = {"weights": None, **(options or {})}
    if input_shape is None:
        input_shape = kwargs.get("input_shape")
    if input_shape is None:
        native = source.image_shape[0] if source.image_shape else info.default_size
        size = max(native, info.min_size)
        input_shape = (size, size, info.channels)
    kwargs["input_shape"] = tuple(input_shape)
    kwargs.setdefault("classes", source.num_classes)
    if kwargs["classes"] != source.num_classes:
        raise ValueError(
            f"classes={kwargs['classes']} but dataset {source.name!r} has "
            f"{source.num_classes} classes."
        )
    return info.name, kwargs, tuple(input_shape)


def _build(model, kwargs, precision):
    if isinstance(model, str):
        return registry.get_model(model, **kwargs)
    if callable(model) and not isinstance(model, keras.Model):
        return model()
    if model.dtype_policy.name != precision:
        raise ValueError(
            f"The model was built under the {model.dtype_policy.name!r} policy but the run asks "
            f"for {precision!r}: pass a callable that builds it, or a registry name."
        )
    return model


def _prepare_run_dir(run_dir, config, resume):
    backup = os.path.join(run_dir, "backup")
    config_path = os.path.join(run_dir, "run_config.json")
    if not resume and os.path.exists(backup):
        shutil.rmtree(backup)
    start, weights = _backup_state(backup)
    if start and os.path.exists(config_path):
        with open(config_path) as handle:
            previous = json.load(handle)
        differ = [k for k in _RESUME_KEYS if previous.get(k) != config.get(k)]
        if differ:
            raise ValueError(
                f"{run_dir} holds a backup of a different run (it differs in {differ}). Resume "
                "with the same settings, pass another run directory (--run-dir, run_dir=), or "
                "start over (--restart, resume=False)."
            )
    os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)
    write_json_atomically(config_path, config)
    return backup, start, weights


def _resolve_recipe(model, recipe):
    """The recipe record: ``recipe`` by name or record, else the model card's."""
    if recipe is not None:
        return recipes_lib.get_recipe(recipe)
    if isinstance(model, str) or getattr(model, "arch", None) is not None:
        return recipes_lib.recipe_for(model)  # the model card's
    raise ValueError(
        "Training a callable, or a model that no keras_arches builder made, needs `recipe` "
        f"(a name or a Recipe; known: {', '.join(recipes_lib.RECIPES)})."
    )


def _resolve_determinism(deterministic, jit, engine):
    """Deterministic ops unless XLA compiles the step (None); both at once is a ValueError."""
    if deterministic is None:
        deterministic = not jit
    elif deterministic and jit:
        # Keras turns XLA off (with a warning) when deterministic ops are on.
        raise ValueError(
            "jit_compile=True and deterministic=True exclude each other in Keras (it would "
            "silently drop XLA): pass deterministic=False, or jit_compile=False."
        )
    if engine.distribution is not None and engine.devices > 1 and not jit:
        warnings.warn(
            f"{engine.name} over {engine.devices} devices with jit_compile=False runs each op "
            "with its own all-reduce; on CPU devices these stalled in XLA's rendezvous (tests/"
            "test_distributing.py). Pass jit_compile=True (--jit-compile on).", stacklevel=3)
    return deterministic


def _process_paths(run_dir, save_path, engine):
    """The run directory and save path of this process. Every process makes the same calls (a
    save gathers the weights from all of them): process i writes into a run directory of its
    own, its copy of the model included."""
    if not engine.process_id:
        return run_dir, save_path
    run_dir = os.path.join(run_dir, f"process_{engine.process_id}")
    return run_dir, save_path and os.path.join(run_dir, "saved", os.path.basename(save_path))


def _keeps_global_random_states(function):
    """``function`` with Python's and NumPy's global random states put back when it returns:
    ``train`` seeds them (and the backend's, which Keras offers no way to read back) for its
    run, and the caller's own random streams then go on where they were."""

    @functools.wraps(function)
    def kept(*args, **kwargs):
        python_state, numpy_state = random.getstate(), np.random.get_state()
        try:
            return function(*args, **kwargs)
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)

    return kept


@_keeps_global_random_states
def train(
    model,
    *,
    options=None,
    dataset=data_lib.EMBEDDED,
    recipe=None,
    epochs=None,
    batch_size=None,
    steps_per_epoch=None,
    test_steps=None,
    input_shape=None,
    preprocessing=None,
    augment=None,
    mixed_precision=False,
    distribution=None,
    coordinator=None,
    num_processes=None,
    process_id=None,
    jit_compile=False,
    seed=0,
    deterministic=None,
    run_dir=None,
    resume=True,
    save_path=None,
    callbacks=(),
    verbose="auto",
    data_dir=None,
    validation_split=data_lib.VALIDATION_SPLIT,
    keep_every_epoch=False,
):
    """Trains a model with its paper's recipe and returns a :class:`TrainResult`.

    ``model`` is a registry name (built with ``options`` for ``dataset``'s classes at
    ``input_shape``, default the dataset's size raised to the model's minimum), a callable
    returning a model, or a model (already built under the precision and engine). The recipe
    and the preprocessing default to the model card's (:func:`keras_arches.model_info`); a
    callable, or a model no builder made, needs ``recipe`` and gets "unit" preprocessing with a
    warning unless ``preprocessing`` is given. ``recipe`` is a :class:`~keras_arches.recipes
    .Recipe` or its name; ``epochs``/``batch_size`` default to
    the recipe's and the schedule is fitted to the run's length. ``steps_per_epoch`` and
    ``test_steps`` shorten epochs and evaluation. ``mixed_precision``: see
    :func:`resolve_precision`; ``jit_compile``: True, False or "auto"
    (:func:`resolve_jit_compile`); ``distribution``: None (one device), ``"data_parallel"``
    (every device, on the backend's engine), ``"tpu"`` or an engine object, with
    ``coordinator``/``num_processes``/``process_id`` for a JAX run over several processes
    (:func:`keras_arches.distributing.engine`). ``batch_size`` is the global batch, and the
    recipe's learning rate follows it by the linear scaling rule; process 0 writes
    ``run_dir`` and ``save_path``, process ``i`` its own copies in ``run_dir/process_i`` (and
    ``run_dir/process_i/saved``). ``seed`` fixes
    initialisation, shuffling and augmentation; ``deterministic`` (default: unless XLA is
    on, which Keras does not combine with it) enables TF's deterministic ops for the run
    (:func:`op_determinism`), so that a
    run killed and resumed (``resume=True`` restores ``run_dir/backup``) ends with the weights
    of an uninterrupted one. ``save_path`` also writes the inference model (auxiliary heads
    stripped); :func:`keras_arches.export_all` exports ``result.model``. ``run_dir/checkpoints``
    keeps ``last.keras`` and ``best.keras`` (lowest validation loss), or one file per epoch
    with ``keep_every_epoch``. ``validation_split`` is the evaluation share of an image folder
    in Keras' class/image layout (:func:`keras_arches.data.load`).
    """
    started = time.perf_counter()
    for name, value in (("epochs", epochs), ("batch_size", batch_size),
                        ("steps_per_epoch", steps_per_epoch), ("test_steps", test_steps)):
        check_positive_int(name, value, allow_none=True)
    recipe = _resolve_recipe(model, recipe)
    keras.utils.set_random_seed(seed)
    engine = distributing.engine(distribution, coordinator=coordinator,
                                 num_processes=num_processes, process_id=process_id)
    precision = resolve_precision(mixed_precision, engine)
    jit, jit_reason = resolve_jit_compile(jit_compile, engine)
    deterministic = _resolve_determinism(deterministic, jit, engine)
    epochs = epochs or recipe.epochs
    batch_size = batch_size or recipe.batch_size
    engine.check_batch(batch_size)

    source = data_lib.load(dataset, "train", data_dir=data_dir, validation_split=validation_split)
    if isinstance(model, str):
        name, kwargs, input_shape = _model_spec(model, options, input_shape, source)
    else:
        name, kwargs = getattr(model, "name", "model"), {}
    run_dir, save_path = _process_paths(run_dir or os.path.join("logs", name), save_path, engine)
    config = dict(
        model=name, options=options or {}, dataset=dataset, recipe=recipe.name, epochs=epochs,
        batch_size=batch_size, steps_per_epoch=steps_per_epoch, input_shape=input_shape,
        seed=seed, precision=precision, jit_compile=jit, jit_compile_reason=jit_reason,
        **engine.record(batch_size),
        deterministic=deterministic,
    )
    config = json.loads(json.dumps(config))  # as run_config.json stores it: tuples are lists
    backup_dir, initial_epoch, backup_weights = _prepare_run_dir(run_dir, config, resume)
    if verbose:
        print(
            f"keras-arches train: {name} on {dataset}, recipe {recipe.name}, precision "
            f"{precision}, jit_compile={jit} ({jit_reason}), {engine.name} over "
            f"{engine.devices} device(s) in {engine.processes} process(es), batch {batch_size} "
            f"({config['per_device_batch']} per device), epochs {epochs}"
            + (f", resuming at epoch {initial_epoch}" if initial_epoch else "")
        )

    # The whole run, fit included, in the engine's scope: keras.distribution places the
    # batches of the fit it sees there.
    with dtype_policy(precision), op_determinism(deterministic), engine.scope():
        net = _build(model, kwargs, precision)
        if input_shape is None:
            input_shape = tuple(net.input_shape[1:])
        num_outputs = len(net.outputs)
        preprocessing = preprocessing or data_lib.preprocessing_for(net)  # the card's
        data = data_lib.datasets(
            dataset, image_size=input_shape[:2], channels=input_shape[-1],
            batch_size=batch_size, preprocessing=preprocessing,
            augment=_augment(recipe, augment, source), seed=seed,
            epochs=epochs, start_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
            data_dir=data_dir, validation_split=validation_split,
        )
        steps = data.steps_per_epoch
        _compile(net, recipe, steps, batch_size, epochs, jit)
        _name_classes(net, data.class_names)
        train_data, test_data = data.train, data.test
        if num_outputs > 1:
            train_data, test_data = (_labels_per_output(d, num_outputs)
                                     for d in (train_data, test_data))
        if test_steps:
            test_data = test_data.take(test_steps)
        if engine.processes > 1:
            # Keras splits each batch between processes by its static size: the validation
            # split's last, partial batch is left out of the epochs' val_ metrics (the final
            # test accuracy counts every image).
            test_data = test_data.rebatch(batch_size, drop_remainder=True)
        history_csv = os.path.join(run_dir, "history.csv")
        run_callbacks = [
            *_run_callbacks(run_dir, backup_dir, backup_weights, history_csv,
                            initial_epoch > 0, keep_every_epoch),
            *recipe.callbacks(epochs),
            *callbacks,
        ]
        fit_started = time.perf_counter()
        history = net.fit(
            train_data, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps,
            validation_data=test_data, callbacks=run_callbacks, verbose=verbose, shuffle=False,
        )
        fit_time = time.perf_counter() - fit_started
        inference = strip_auxiliary(net)
        test_accuracy = _accuracy(inference, data.test.take(test_steps) if test_steps
                                  else data.test)
        model_path = os.path.join(run_dir, "model.keras")
        net.save(model_path)
        if save_path:
            os.makedirs(os.path.dirname(os.path.abspath(save_path)), exist_ok=True)
            inference.save(save_path)
        if os.path.exists(history_csv) and os.path.getsize(history_csv):
            plot_history(history_csv, os.path.join(run_dir, "history.png"))
    wall = time.perf_counter() - started
    if verbose:
        print(f"keras-arches train: test accuracy {test_accuracy:.4f} on {data.num_test} images; "
              f"fit {fit_time:.1f} s, all {wall:.1f} s; model {save_path or model_path}")
    return TrainResult(
        model=net, history=history.history, test_accuracy=test_accuracy, run_dir=run_dir,
        model_path=model_path, saved_path=save_path, wall_time_s=wall, fit_time_s=fit_time,
        initial_epoch=initial_epoch, config=config, test_data=data.test,
    )


def _name_classes(net, names):
    """A builder's model trained on data with class names records them (``class_names``), so
    that its predictions and exports name its classes; names it already has are kept."""
    if (names and isinstance(net, ArchModel) and not net.class_names
            and net.outputs[0].shape[-1] == len(names)):
        net.class_names = list(names)


def _compile(net, recipe, steps_per_epoch, batch_size, epochs, jit_compile):
    """Compiles with the recipe: optimizer and schedule, smoothed loss per output, aux weights."""
    outputs = len(net.outputs)
    net.compile(
        optimizer=recipe.optimizer(steps_per_epoch, batch_size, epochs),
        loss=[recipe.loss(from_logits=_outputs_are_logits(net))] * outputs,
        loss_weights=recipe.loss_weights(outputs),
        metrics=[["accuracy"]] + [[] for _ in range(outputs - 1)] if outputs > 1
        else ["accuracy"],
        jit_compile=jit_compile,
    )


def _run_callbacks(run_dir, backup_dir, backup_weights, history_csv, resumed, keep_every_epoch):
    """Backup, the last and best checkpoints (or one per epoch), NaN stop, CSV and
    TensorBoard logs."""
    folder = os.path.join(run_dir, "checkpoints")
    if keep_every_epoch:
        checkpoints = [_Checkpoint(os.path.join(folder, "epoch_{epoch:03d}.keras"))]
    else:
        checkpoints = [
            _Checkpoint(os.path.join(folder, "last.keras")),
            _Checkpoint(os.path.join(folder, "best.keras"), monitor="val_loss"),
        ]
    return [
        _Backup(backup_dir, backup_weights),
        *checkpoints,
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(history_csv, append=resumed),
        keras.callbacks.TensorBoard(
            os.path.join(run_dir, "tensorboard"), write_graph=False, profile_batch=0
        ),
    ]


def _labels_per_output(dataset, outputs):
    @tf.autograph.experimental.do_not_convert
    def replicate(x, y):
        return x, (y,) * outputs

    return dataset.map(replicate)


def _augment(recipe, augment, source):
    """The recipe's augmentations that suit the data (no flips or crops of digits)."""
    if augment is not None:
        return augment
    return tuple(a for a in recipe.augment if a in data_lib.default_augment(source))


def _accuracy(model, dataset):
    correct = total = 0
    for x, y in dataset:
        # numpy in and out, so that the JAX and PyTorch backends take tf.data batches too.
        outputs = model(np.asarray(x), training=False)
        predicted = np.argmax(keras.ops.convert_to_numpy(outputs), -1)
        correct += int(np.sum(predicted == np.argmax(y, -1)))
        total += len(predicted)
    return correct / total
