"""The latent prior: where generator inputs z come from.

Fernández et al. 2021 draw z uniformly in [-1, 1]^100; Klang & Carlberg draw z ~ N(0, I) in R^100.
The prior travels with a run (``config.json`` key ``latent_distribution``) so that sampling,
inversion (clipping to the prior's support) and export all agree.
"""

import numpy as np

LATENT_DISTRIBUTIONS = ("normal", "uniform")

#: The algorithm of every stateless TensorFlow random draw in training and export. Named, not
#: ``"auto_select"`` (which lets each device pick), so the noise of a seed does not depend on where
#: it is drawn. XLA-compiled code is the exception TensorFlow leaves: it maps the same key to other
#: numbers, so a ``jit_compile=True`` run is reproducible but draws a different stream.
RNG_ALG = "philox"


def stateless_latents(shape, seed, distribution):
    """Returns a TensorFlow draw of latent codes from the prior, a pure function of ``seed``.

    The graph-side twin of :func:`sample_latent`, for training steps and exported signatures.

    Args:
        shape: ``(num_codes, latent_dim)``, a tensor or a sequence.
        seed: an int tensor of shape ``(2,)``.
        distribution: ``"normal"`` or ``"uniform"`` (U[-1, 1]).

    Returns:
        A float32 tensor of ``shape``.
    """
    import tensorflow as tf  # only callers that build graphs need it

    if validate_distribution(distribution) == "uniform":
        return tf.random.stateless_uniform(shape, seed, minval=-1.0, maxval=1.0, alg=RNG_ALG)
    return tf.random.stateless_normal(shape, seed, alg=RNG_ALG)


def validate_distribution(distribution):
    """Returns ``distribution`` if it names a known prior, else raises ValueError."""
    if distribution not in LATENT_DISTRIBUTIONS:
        raise ValueError(
            f"`latent_distribution` must be one of {LATENT_DISTRIBUTIONS}. "
            f"Received: latent_distribution={distribution!r}"
        )
    return distribution


def sample_latent(num_samples, latent_dim, *, distribution="normal", seed=None):
    """Returns latent codes drawn from the prior.

    Args:
        num_samples: number of codes (rows).
        latent_dim: length of each code.
        distribution: ``"normal"`` (N(0, I), Klang & Carlberg) or ``"uniform"`` (U[-1, 1],
            Fernández et al. 2021).
        seed: integer seed; the same seed gives the same codes.

    Returns:
        float32 array of shape ``(num_samples, latent_dim)``.

    Raises:
        ValueError: for a negative ``num_samples``, non-positive ``latent_dim`` or an unknown
            ``distribution``.
    """
    if int(num_samples) != num_samples or num_samples < 0:
        raise ValueError(f"`num_samples` must be a non-negative integer. Received: num_samples={num_samples}")
    if int(latent_dim) != latent_dim or latent_dim < 1:
        raise ValueError(f"`latent_dim` must be a positive integer. Received: latent_dim={latent_dim}")
    validate_distribution(distribution)
    rng = np.random.default_rng(seed)
    shape = (int(num_samples), int(latent_dim))
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)
