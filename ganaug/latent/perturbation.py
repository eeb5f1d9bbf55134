"""New codes near existing ones: z' = z + eps, eps ~ N(0, sigma^2 I).

Klang & Carlberg, eq. 42: I_perturbed = G(E(x) + eps), eps ~ N(0, sigma^2 I), with variance
sigma^2 = 0.04 in the thesis (section 5.3), i.e. a standard deviation ``sigma = 0.2``.
"""

import numpy as np

from ganaug.latent.inversion import check_codes, check_positive_integer

THESIS_SIGMA = 0.2  # standard deviation; the thesis states the variance sigma^2 = 0.04


def perturb(codes, *, sigma=THESIS_SIGMA, num_per_code=5, seed=0):
    """Returns ``num_per_code`` Gaussian perturbations of every code.

    Klang & Carlberg, eq. 42. ``sigma`` is the standard deviation of the noise: the thesis's
    variance 0.04 is ``sigma=0.2`` (the default).

    Args:
        codes: float ``(N, latent_dim)`` (or one code ``(latent_dim,)``), e.g. ``encode(encoder, x)``.
        sigma: standard deviation of eps (>= 0).
        num_per_code: perturbed codes per input code (>= 1).
        seed: seed of the noise; the same seed gives the same codes.

    Returns:
        float32 ``(N * num_per_code, latent_dim)``, code-major: rows ``i * num_per_code`` to
        ``(i + 1) * num_per_code - 1`` are the perturbations of ``codes[i]``.

    Raises:
        ValueError: for a negative or non-finite ``sigma``, a bad ``num_per_code`` or codes that
            are not 1-D/2-D.
    """
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim == 1:
        codes = codes[None]
    codes = check_codes(codes)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.number)) or not np.isfinite(sigma) or sigma < 0:
        raise ValueError(
            f"`sigma` (standard deviation, thesis: 0.2 = sqrt(0.04)) must be a finite number >= 0. "
            f"Received: sigma={sigma!r}"
        )
    num_per_code = check_positive_integer(num_per_code, "num_per_code")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((len(codes), num_per_code, codes.shape[1])) * float(sigma)
    return (codes[:, None, :] + noise).reshape(-1, codes.shape[1]).astype(np.float32)
