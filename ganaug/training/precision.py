"""Which mixed-precision policy a training run computes in, and whether bfloat16 is fast here.

``GANTrainer(mixed_precision=...)`` takes:

* ``False``: float32 throughout;
* ``True`` or ``"float16"``: Keras's ``"mixed_float16"`` (float16 compute, float32 weights) with
  loss scaling (``keras.optimizers.LossScaleOptimizer``): float16 underflows without it
  (Micikevicius et al. 2018, "Mixed precision training");
* ``"bfloat16"``: ``"mixed_bfloat16"``, no loss scaling (bfloat16 has float32's exponent range;
  BigGAN was trained in it on TPUs, Brock et al. 2019);
* ``"auto"``: ``"bfloat16"`` where the hardware computes it natively (``fast_bfloat16``), else
  float32. Measured on an idle 2-core Xeon with AMX (``python benchmarks/bench_precision.py``):
  the 32 px SNGAN step at widths 64 takes 0.48x the float32 step's time (168 against 415 ms), at
  widths 32 0.97x (too small a step for the matrix units to pay). Where bfloat16 is emulated it
  is slower than float32, which is why ``"auto"`` looks at the hardware first.

Not a free lunch: bfloat16 cost the demo's SNGAN coverage. 4,500 steps, widths 32, the demo's data,
split and seed, evaluated by ``compare_generators`` as the demo does: two float32 runs gave
fidelity 0.865 / 0.884, recall 0.537 / 0.546, TSTR 0.53x / 0.52x; one bfloat16 run gave fidelity
0.910, recall 0.389, TSTR 0.50x (widths 64 in bfloat16: 0.885, 0.398, 0.63x). Nothing in ganaug
turns bfloat16 on by default; it is a speed option to weigh against that.
"""

import functools

PRECISIONS = (False, True, "float16", "bfloat16", "auto")
_POLICIES = {False: None, True: "mixed_float16", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}
#: Linux ``/proc/cpuinfo`` flags of CPUs with native bfloat16 matrix or vector units (oneDNN uses them).
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def check_precision(mixed_precision):
    """Returns ``mixed_precision`` if it is one of ``PRECISIONS``; raises otherwise.

    Raises:
        TypeError: for a value of another type (e.g. a policy object or ``1``).
        ValueError: for another string.
    """
    if isinstance(mixed_precision, bool):
        return mixed_precision
    if not isinstance(mixed_precision, str):
        raise TypeError(
            "`mixed_precision` must be True, False, 'float16', 'bfloat16' or 'auto'. "
            f"Received: mixed_precision={mixed_precision!r}"
        )
    if mixed_precision not in PRECISIONS:
        raise ValueError(
            "`mixed_precision` must be True, False, 'float16', 'bfloat16' or 'auto'. "
            f"Received: mixed_precision={mixed_precision!r}"
        )
    return mixed_precision


def precision_policy(mixed_precision):
    """Returns the Keras dtype policy name of ``mixed_precision`` (None for float32).

    ``"auto"`` resolves on this machine: ``"mixed_bfloat16"`` if ``fast_bfloat16()``, else None.
    """
    mixed_precision = check_precision(mixed_precision)
    if mixed_precision == "auto":
        return "mixed_bfloat16" if fast_bfloat16() else None
    return _POLICIES[mixed_precision]


def needs_loss_scaling(policy):
    """True for ``"mixed_float16"``: its gradients underflow without loss scaling."""
    return policy == "mixed_float16"


@functools.lru_cache(maxsize=None)
def fast_bfloat16():
    """Returns True when this machine computes bfloat16 natively.

    A visible GPU of compute capability 8.0 or more (Ampere and later), or, with no GPU, a CPU
    that reports one of ``BFLOAT16_CPU_FLAGS`` in ``/proc/cpuinfo`` (Linux; other systems: False).
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability") for gpu in gpus]
        return all(c is not None and tuple(c) >= (8, 0) for c in capabilities)
    return bool(set(cpu_flags()) & set(BFLOAT16_CPU_FLAGS))


def cpu_flags(path="/proc/cpuinfo"):
    """Returns the CPU's feature flags from ``path`` (Linux), or an empty tuple when unreadable."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith("flags"):
                    return tuple(line.split(":", 1)[1].split())
    except OSError:
        pass
    return ()


def float32_copy(model):
    """Returns ``model`` rebuilt with every layer's dtype policy float32 and the same weights.

    A model trained under a mixed policy computes in float16/bfloat16 wherever it is loaded; the
    trainer saves this copy instead, so that a run's models (sampling, evaluation, export, a
    machine without fast bfloat16) compute in float32 from the float32 master weights. A model
    already in float32 is returned as is.
    """
    import keras

    def policies(layer):
        return {sub.dtype_policy.name for sub in layer._flatten_layers(include_self=True, recursive=True)}

    if policies(model) <= {"float32"}:
        return model

    def to_float32(node):
        if isinstance(node, dict):
            if node.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and isinstance(node.get("config"), dict):
                return {**node, "config": {**node["config"], "name": "float32"}}
            return {key: to_float32(value) for key, value in node.items()}
        if isinstance(node, list):
            return [to_float32(value) for value in node]
        return node

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")  # sublayers made in a layer's __init__ take the global policy
    try:
        copy = type(model).from_config(to_float32(model.get_config()))
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    leftover = policies(copy) - {"float32"}
    if leftover:
        raise ValueError(f"Could not rebuild {model.name!r} in float32: layers keep {sorted(leftover)}")
    return copy
