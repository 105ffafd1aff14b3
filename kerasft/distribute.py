"""Picks a `tf.distribute.Strategy` by name: CPU, GPUs, workers or a TPU.

    strategy = kerasft.get_strategy("auto")   # TPU, else all GPUs, else CPU
    trainer = kerasft.Trainer(build_model, strategy=strategy)

TensorFlow already has every strategy; what it lacks is one entry point
that checks the hardware first and says what it found when the request
cannot be met (TF would silently fall back to the CPU, or fail deep inside
the first step with a placement error), plus the few set-up calls each
strategy needs (TPU system initialization, TF_CONFIG for workers).
"""

import glob
import json
import os

import tensorflow as tf

STRATEGY_NAMES = ("auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu")


class DeviceNotFoundError(RuntimeError):
    """Raised when the requested hardware is not there (names what is)."""


def get_strategy(name="auto", devices=None, tpu=None):
    """Returns a `tf.distribute.Strategy` for the hardware named.

    - `"auto"`: a TPU if one is reachable (Colab / TPU VM / `TPU_NAME`),
      else all local GPUs (`MirroredStrategy`, or `OneDeviceStrategy` for
      one), else TF's default strategy (the CPU).
    - `"cpu"`: `OneDeviceStrategy` on `/cpu:0`, even where GPUs exist.
    - `"gpu"`: `MirroredStrategy` over all local GPUs (or `devices`).
    - `"mirrored"`: `MirroredStrategy` over `devices`, or all GPUs, or, on a
      machine without GPUs, all logical CPU devices (see `split_cpu`): the
      way to test multi-replica code on a laptop.
    - `"multi_worker"`: `MultiWorkerMirroredStrategy` configured from the
      `TF_CONFIG` environment variable, which must describe the cluster
      (`{"cluster": {"worker": ["host:port", ...]}, "task": {"type":
      "worker", "index": i}}`). Create it at program start-up, before any
      other TensorFlow call.
    - `"tpu"`: `TPUStrategy` after resolving the TPU (`tpu` argument,
      `TPU_NAME`, Colab's `COLAB_TPU_ADDR`, or the TPU VM's own chips),
      connecting to it and initializing the TPU system.

    Args:
        name: str. One of `STRATEGY_NAMES`. Defaults to `"auto"`.
        devices: list of device names (`"GPU:0"`, `"/gpu:1"`, `"CPU:1"`) or
            None. Only with `"gpu"` and `"mirrored"`. Defaults to all.
        tpu: str or None. Only with `"tpu"` / `"auto"`: a TPU name, a
            `grpc://host:port` address or `"local"` (TPU VM). Defaults to
            what the environment says.

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: an unknown name, `devices` with another strategy, or a
            missing / invalid `TF_CONFIG`.
        DeviceNotFoundError: the hardware asked for is not there; the
            message lists the devices that were found.

    Example:
    >>> import kerasft
    >>> strategy = kerasft.get_strategy("cpu")
    >>> strategy.num_replicas_in_sync
    1
    """
    if not isinstance(name, str) or name.lower() not in STRATEGY_NAMES:
        raise ValueError(
            f"Unknown strategy name. Received: name={name!r}. Expected one "
            f"of {list(STRATEGY_NAMES)}."
        )
    name = name.lower()
    if devices is not None and name not in ("gpu", "mirrored"):
        raise ValueError(
            "`devices` only applies to the 'gpu' and 'mirrored' strategies. "
            f"Received: devices={devices!r} with name={name!r}"
        )
    if tpu is not None and name not in ("tpu", "auto"):
        raise ValueError(
            "`tpu` only applies to the 'tpu' and 'auto' strategies. "
            f"Received: tpu={tpu!r} with name={name!r}"
        )
    if name == "multi_worker":
        # Before anything touches the devices: MultiWorkerMirroredStrategy
        # configures collective ops, which TF allows only at start-up.
        return _multi_worker_strategy()
    if name == "tpu":
        return _tpu_strategy(tpu)
    if name == "auto":
        if tpu is not None or _tpu_hint():
            try:
                return _tpu_strategy(tpu)
            except DeviceNotFoundError as error:
                tf.get_logger().warning(
                    "A TPU looked reachable but could not be used (%s); "
                    "falling back to GPUs or the CPU.", error)
        gpus = _logical_devices("GPU")
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy(gpus)
        if gpus:
            return tf.distribute.OneDeviceStrategy(gpus[0])
        return tf.distribute.get_strategy()  # the default one, on the CPU
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if devices is not None:
        return tf.distribute.MirroredStrategy(_check_devices(devices, name))
    gpus = _logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy(gpus)
    if name == "gpu":
        raise DeviceNotFoundError(
            "gpu requested but found devices: "
            f"{_found_devices()}. Install a CUDA build of TensorFlow and "
            "check `nvidia-smi`, or use name='cpu' (or 'mirrored' over "
            "logical CPU devices, see kerasft.distribute.split_cpu)."
        )
    return tf.distribute.MirroredStrategy(_logical_devices("CPU"))


def split_cpu(num_devices):
    """Splits the CPU into `num_devices` logical devices; returns their names.

    With two or more, `get_strategy("mirrored")` runs one replica per
    logical device, which exercises the multi-replica code paths (dataset
    distribution, cross-replica sums, loss scaling) on any machine. The
    devices share the same cores, so this does not make training faster.

    Must run before TensorFlow initializes its devices: before the first
    tensor op, strategy or model. Calling it again with the same number
    afterwards is a no-op.

    Args:
        num_devices: int >= 1. Number of logical CPU devices.

    Returns:
        list of str: the logical CPU device names, e.g.
        `["/job:localhost/replica:0/task:0/device:CPU:0", ...]`.

    Raises:
        RuntimeError: TensorFlow is already initialized with another number
            of CPU devices.

    Example:
    ```python
    import kerasft
    kerasft.distribute.split_cpu(2)             # first thing in the program
    strategy = kerasft.get_strategy("mirrored")  # 2 replicas
    ```
    """
    if (not isinstance(num_devices, int) or isinstance(num_devices, bool)
            or num_devices < 1):
        raise ValueError(
            "`num_devices` must be an int >= 1. Received: "
            f"num_devices={num_devices!r}"
        )
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu,
            [tf.config.LogicalDeviceConfiguration()
             for _ in range(num_devices)],
        )
    except RuntimeError:
        # "Virtual devices cannot be modified after being initialized".
        existing = _logical_devices("CPU")
        if len(existing) == num_devices:
            return existing
        raise RuntimeError(
            f"split_cpu({num_devices}) must run before TensorFlow "
            "initializes its devices (before the first tensor op, strategy "
            f"or model). TensorFlow is already running with "
            f"{len(existing)} logical CPU device(s): {_found_devices()}. "
            "Call kerasft.distribute.split_cpu at the start of the program "
            "(or in a fresh process)."
        ) from None
    return _logical_devices("CPU")


def _logical_devices(device_type):
    return [device.name for device in tf.config.list_logical_devices(
        device_type)]


def _found_devices():
    """Short names of the logical devices, e.g. 'CPU:0, GPU:0'."""
    names = []
    for device in tf.config.list_logical_devices():
        spec = tf.DeviceSpec.from_string(device.name)
        names.append(f"{spec.device_type}:{spec.device_index}")
    return ", ".join(names) or "none"


def _check_devices(devices, name):
    """Full names of the logical devices asked for, or raises naming them."""
    if isinstance(devices, str) or not devices:
        raise ValueError(
            "`devices` must be a non-empty list of device names such as "
            f"['GPU:0', 'GPU:1']. Received: devices={devices!r}"
        )
    available = {}
    for device in tf.config.list_logical_devices():
        spec = tf.DeviceSpec.from_string(device.name)
        available[(spec.device_type, spec.device_index)] = device.name
    chosen = []
    for device in devices:
        try:
            spec = tf.DeviceSpec.from_string(
                device if "/" in device or ":" not in device
                else f"/device:{device}")
        except (TypeError, ValueError):
            spec = None
        key = None
        if spec is not None and spec.device_type:
            key = (spec.device_type.upper(), spec.device_index or 0)
        if key not in available:
            raise DeviceNotFoundError(
                f"{name} requested device {device!r} but found devices: "
                f"{_found_devices()}."
            )
        if name == "gpu" and key[0] != "GPU":
            raise ValueError(
                "name='gpu' takes GPU devices only; use name='mirrored' for "
                f"others. Received: devices={devices!r}"
            )
        chosen.append(available[key])
    if len(set(chosen)) != len(chosen):
        raise ValueError(
            f"`devices` lists a device twice. Received: devices={devices!r}"
        )
    return chosen


# ----------------------------------------------------------------- workers
def read_tf_config():
    """Parses and checks `TF_CONFIG`; returns `(cluster, task_type, index)`.

    Raises:
        ValueError: `TF_CONFIG` is missing, not JSON, or does not describe a
            worker of a cluster, with what was received.
    """
    text = os.environ.get("TF_CONFIG")
    example = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}')
    if not text:
        raise ValueError(
            "The 'multi_worker' strategy reads the cluster from the "
            "TF_CONFIG environment variable, which is not set. Set it on "
            f"every worker, e.g. TF_CONFIG='{example}' (index differs per "
            "worker)."
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({error}). Received: "
            f"TF_CONFIG={text!r}. Expected e.g. {example}"
        ) from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    workers = cluster.get("worker") if isinstance(cluster, dict) else None
    if not isinstance(workers, list) or not workers or not all(
            isinstance(w, str) and ":" in w for w in workers):
        raise ValueError(
            "TF_CONFIG must list the workers as cluster.worker = "
            f"['host:port', ...]. Received: TF_CONFIG={text!r}. Expected "
            f"e.g. {example}"
        )
    if not isinstance(task, dict) or "type" not in task or "index" not in (
            task):
        raise ValueError(
            "TF_CONFIG must say which task this process is: task = "
            f"{{'type': 'worker', 'index': i}}. Received: TF_CONFIG={text!r}"
        )
    task_type, index = task["type"], task["index"]
    members = cluster.get(task_type)
    if not isinstance(members, list) or not isinstance(index, int) or not (
            0 <= index < len(members)):
        raise ValueError(
            f"TF_CONFIG's task {task_type!r} #{index!r} is not in its "
            f"cluster. Received: TF_CONFIG={text!r}"
        )
    return cluster, task_type, index


def _multi_worker_strategy():
    read_tf_config()
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        raise RuntimeError(
            "MultiWorkerMirroredStrategy must be created at program "
            "start-up, before any other TensorFlow call (tensor op, model, "
            f"device listing). TensorFlow said: {error}"
        ) from None


# --------------------------------------------------------------------- TPU
def _tpu_hint():
    """Whether the environment points at a TPU, without contacting one."""
    if any(os.environ.get(v) for v in ("TPU_NAME", "COLAB_TPU_ADDR",
                                      "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS")):
        return True
    # TPU VMs (Colab's TPU runtime included) expose the chips as
    # /dev/accel* (v2-v4) or /dev/vfio/* (v5e and later).
    return bool(glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*"))


def _tpu_address(tpu):
    if tpu is not None:
        return tpu
    if os.environ.get("TPU_NAME") or os.environ.get(
            "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS"):
        return None  # TPUClusterResolver reads these itself
    if os.environ.get("COLAB_TPU_ADDR"):  # legacy Colab TPU nodes
        return "grpc://" + os.environ["COLAB_TPU_ADDR"]
    return "local"  # a TPU VM: the chips are attached to this machine


def _tpu_strategy(tpu=None):
    address = _tpu_address(tpu)
    if address == "local" and not _tpu_hint():
        raise DeviceNotFoundError(
            f"tpu requested but found devices: {_found_devices()} (no "
            "TPU_NAME or COLAB_TPU_ADDR set, and no TPU chips under "
            "/dev/accel* or /dev/vfio). On Colab pick Runtime > Change "
            "runtime type > TPU; elsewhere pass tpu='name-or-grpc-address'."
        )
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise DeviceNotFoundError(
            f"tpu requested but it could not be reached at "
            f"{address or os.environ.get('TPU_NAME')!r} ({error}). Found "
            f"devices: {_found_devices()}."
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
    """True where this process writes logs and checkpoints for `strategy`.

    The one place that decides it (the Trainer's `is_chief`, the
    TensorBoardLogger and the Checkpointer ask here). The `chief` task if
    the cluster has one, else worker 0; a strategy without a cluster (one
    machine, `MirroredStrategy`, default) is its own chief. TPU strategies
    are driven from worker 0 of their resolver.

    Args:
        strategy: a `tf.distribute.Strategy`.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    if resolver.task_type != "worker" or resolver.task_id != 0:
        return False
    return "chief" not in resolver.cluster_spec().as_dict()
