"""Exponential moving average of the generator's weights (Karras et al. 2018, Yazici et al. 2019).

The averaged generator (``w_ema <- d * w_ema + (1 - d) * w`` after every generator update) gives
smoother samples than the last iterate; ``GANTrainer(ema_decay=0.999)`` keeps one and saves it as
the run's ``generator.keras``. The decay warms up as in ``tf.train.ExponentialMovingAverage`` with
``num_updates``: ``min(decay, (1 + n) / (10 + n))`` after ``n`` generator updates, so a short run's
average is not dominated by the initial weights (with a fixed 0.999, 750 updates would still give
the random initialisation 0.999^750 = 47 % of the weight; BigGAN starts its average late instead).
"""

import numbers


def check_ema_decay(ema_decay):
    """Returns ``ema_decay`` (None or a float in (0, 1)); raises ValueError otherwise."""
    if ema_decay is None:
        return None
    if isinstance(ema_decay, bool) or not isinstance(ema_decay, numbers.Real) or not 0.0 < ema_decay < 1.0:
        raise ValueError(f"`ema_decay` must be None or a number in (0, 1). Received: ema_decay={ema_decay!r}")
    return float(ema_decay)


def ema_copy(model):
    """Returns a clone of ``model`` with the same weights (call inside the strategy's scope)."""
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.trainable = False
    return clone


def update_ema(ema_model, model, decay):
    """Moves every weight of ``ema_model`` towards ``model``'s: ``e <- decay * e + (1 - decay) * w``.

    Non-trainable weights (batch-norm statistics) are averaged the same way.

    Args:
        ema_model: the averaged copy (same architecture as ``model``).
        model: the model being trained.
        decay: the decay ``d`` in (0, 1).
    """
    for average, weight in zip(ema_model.weights, model.weights):
        if not average.dtype.startswith("float"):
            average.assign(weight.value)
            continue
        average.assign(decay * average.value + (1.0 - decay) * weight.value)


def warmed_up_decay(decay, num_updates):
    """Returns ``min(decay, (1 + n) / (10 + n))`` for ``n = num_updates`` generator updates so far."""
    import tensorflow as tf

    num_updates = tf.cast(num_updates, tf.float32)
    return tf.minimum(tf.constant(decay, tf.float32), (1.0 + num_updates) / (10.0 + num_updates))
