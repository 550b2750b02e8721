"""Data-parallel training on each backend's own engine.

``train(..., distribution="data_parallel")`` (``keras-arches train --distribute data_parallel``)
splits every global batch over all the devices a run can see, with the engine its Keras backend
provides:

- **JAX**: ``keras.distribution.DataParallel`` over ``keras.distribution.list_devices()``. Several
  processes (hosts) first join through ``keras.distribution.initialize``: a coordinator address,
  the number of processes and this one's id, given as arguments or in Keras' environment
  variables ``KERAS_DISTRIBUTION_JOB_ADDRESSES``, ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and
  ``KERAS_DISTRIBUTION_PROCESS_ID``. Keras then gives each process its share of each global batch
  (``Distribution.distribute_dataset``), and batch norm sees the whole global batch.
- **TensorFlow**: ``tf.distribute.MirroredStrategy`` over the GPUs, or the logical CPUs where
  there is none; ``"tpu"`` is a ``TPUStrategy``. Batch norm sees each replica's share.
- **PyTorch**: Keras 3.15 has no PyTorch engine behind ``keras.distribution`` (there is no
  ``keras/src/backend/torch/distribution_lib.py``), so asking for one is a ValueError naming the
  two backends that have one.

``MultiWorkerMirroredStrategy`` is not offered: Keras 3 does not support it (keras-team/keras
#20585), and its first step fails on ``PerReplica`` values. Several hosts train on JAX.
"""

import contextlib
import dataclasses
import os

import keras

DISTRIBUTIONS = ("none", "data_parallel", "tpu")
# keras.distribution's public engines (its base class is not exported).
KERAS_ENGINES = (keras.distribution.DataParallel, keras.distribution.ModelParallel)
# Keras' own names for a cluster's settings (keras.distribution.initialize).
CLUSTER_VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                     "KERAS_DISTRIBUTION_PROCESS_ID")


@dataclasses.dataclass(frozen=True)
class Engine:
    """Where a run's batches go.

    Attributes:
        name: the engine, e.g. ``"keras.distribution.DataParallel"``,
            ``"tf.distribute.MirroredStrategy"`` or ``"one device"``.
        devices: the devices the global batch is split over, all processes together.
        processes: the processes (hosts) taking part.
        process_id: this process's index; process 0 writes the run directory.
        strategy: the ``tf.distribute.Strategy`` on TensorFlow, else None.
        distribution: the ``keras.distribution`` engine on JAX, else None.
    """

    name: str
    devices: int = 1
    processes: int = 1
    process_id: int = 0
    strategy: object = None
    distribution: object = None

    def scope(self):
        """The context in which the model is built, compiled and fitted."""
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        return contextlib.nullcontext()

    @property
    def is_tpu(self):
        if self.strategy is None:
            return False
        import tensorflow as tf

        return isinstance(self.strategy, tf.distribute.TPUStrategy)

    def record(self, batch_size):
        """The engine as ``run_config.json`` records it."""
        return dict(engine=self.name, devices=self.devices, processes=self.processes,
                    per_device_batch=batch_size // self.devices)

    def check_batch(self, batch_size):
        """The global batch must split evenly over the devices."""
        if batch_size % self.devices:
            raise ValueError(
                f"The global batch of {batch_size} does not split evenly over {self.devices} "
                f"devices ({self.name}). Pass a multiple of {self.devices} as batch_size= "
                "(--batch-size)."
            )


def engine(distribution=None, *, coordinator=None, num_processes=None, process_id=None):
    """The :class:`Engine` of a run.

    Args:
        distribution: ``None`` or ``"none"`` (one device, or the ``keras.distribution`` already
            set globally on JAX); ``"data_parallel"`` (every device, on the backend's engine);
            ``"tpu"`` (TensorFlow's ``TPUStrategy``); or an engine object: a
            ``tf.distribute.Strategy`` on TensorFlow, a ``keras.distribution.DataParallel`` or
            ``ModelParallel`` on JAX.
        coordinator: ``"host:port"`` of process 0, for a JAX run over several processes.
        num_processes: how many processes take part.
        process_id: this process's index, from 0.

    Returns:
        An :class:`Engine`.

    Raises:
        ValueError: for an unknown name, an engine the backend lacks, or cluster settings
            where there is no multi-process engine.
    """
    backend = keras.backend.backend()
    joins = _joins_cluster(coordinator, num_processes, process_id)
    if joins and not (backend == "jax" and distribution == "data_parallel"):
        raise ValueError(
            "coordinator, num_processes and process_id (--coordinator, --num-processes, "
            "--process-id, or Keras' KERAS_DISTRIBUTION_* variables) join several processes, "
            "which only distribution='data_parallel' on the JAX backend does "
            f"(asked: distribution={distribution!r} on {backend!r}). Run with KERAS_BACKEND=jax "
            "and --distribute data_parallel, or drop the cluster settings."
        )
    if distribution == "multiworker":
        raise ValueError(
            "distribution='multiworker' (tf.distribute.MultiWorkerMirroredStrategy) is not "
            "supported by Keras 3 (keras-team/keras#20585: its first step fails on PerReplica "
            "values). To train on several hosts, use KERAS_BACKEND=jax with "
            "distribution='data_parallel' and coordinator/num_processes/process_id "
            "(--distribute data_parallel --coordinator HOST:PORT --num-processes N "
            "--process-id I); on one host, 'data_parallel' uses all its devices."
        )
    if backend == "tensorflow":
        return _tensorflow_engine(distribution)
    if backend == "jax":
        return _jax_engine(distribution, joins, coordinator, num_processes, process_id)
    if distribution in (None, "none"):
        return Engine("one device")
    raise ValueError(
        f"distribution={_name(distribution)!r} needs a data-parallel engine, and Keras "
        f"{keras.__version__} has none for the {backend!r} backend (keras.distribution runs on "
        "JAX and TensorFlow only). Train on several devices with KERAS_BACKEND=jax "
        "(keras.distribution) or KERAS_BACKEND=tensorflow (tf.distribute), with "
        "distribution='data_parallel' (--distribute data_parallel); or on one device here "
        "with distribution=None."
    )


def _name(distribution):
    return distribution if isinstance(distribution, str) or distribution is None else type(
        distribution).__name__


def _unknown(distribution, backend, engines):
    return ValueError(
        f"`distribution` must be one of {DISTRIBUTIONS} or {engines} on the {backend!r} "
        f"backend. Received: {distribution!r}"
    )


def _joins_cluster(coordinator, num_processes, process_id):
    given = (coordinator, num_processes, process_id) != (None, None, None)
    return given or any(os.environ.get(name) for name in CLUSTER_VARIABLES)


def _tensorflow_engine(distribution):
    import tensorflow as tf

    if isinstance(distribution, KERAS_ENGINES):
        raise ValueError(
            f"distribution={type(distribution).__name__} is a keras.distribution engine, which "
            "this package runs on JAX; on TensorFlow pass a tf.distribute.Strategy or "
            "'data_parallel' (MirroredStrategy)."
        )
    if distribution in (None, "none"):
        strategy = tf.distribute.get_strategy()
    elif isinstance(distribution, tf.distribute.Strategy):
        strategy = distribution
    elif distribution == "data_parallel":
        # Keras' default is the GPUs, else one CPU; without GPUs mirror over the logical CPUs.
        if tf.config.list_logical_devices("GPU"):
            strategy = tf.distribute.MirroredStrategy()
        else:
            cpus = tf.config.list_logical_devices("CPU")
            strategy = tf.distribute.MirroredStrategy([d.name for d in cpus])
    elif distribution == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as error:
            raise ValueError(
                f"distribution='tpu' (--distribute tpu): no TPU could be reached here ({error})."
                " Run on a TPU host, or pass 'data_parallel' for this machine's devices."
            ) from None
        strategy = tf.distribute.TPUStrategy(resolver)
    else:
        raise _unknown(distribution, "tensorflow", "a tf.distribute.Strategy")
    replicas = strategy.num_replicas_in_sync
    name = "one device" if replicas == 1 and strategy is tf.distribute.get_strategy() else (
        f"tf.distribute.{type(strategy).__name__}")
    return Engine(name, devices=replicas, strategy=strategy)


def _jax_engine(distribution, joins, coordinator, num_processes, process_id):
    import jax

    if distribution in (None, "none"):
        distribution = keras.distribution.distribution()  # one set globally, if any
        if distribution is None:
            return Engine("one device")
    elif distribution == "tpu":
        raise ValueError(
            "distribution='tpu' is TensorFlow's TPUStrategy; on JAX a TPU's cores are JAX "
            "devices: pass 'data_parallel' (--distribute data_parallel)."
        )
    elif distribution == "data_parallel":
        if joins and not jax.distributed.is_initialized():
            keras.distribution.initialize(coordinator, num_processes, process_id)
        distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    elif not isinstance(distribution, KERAS_ENGINES):
        raise _unknown(distribution, "jax", "a keras.distribution.DataParallel or ModelParallel")
    devices = len(distribution.device_mesh.devices.flatten())
    return Engine(f"keras.distribution.{type(distribution).__name__}", devices=devices,
                  processes=jax.process_count(), process_id=jax.process_index(),
                  distribution=distribution)
