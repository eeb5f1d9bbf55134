"""Semantic directions in the latent space and edits along them.

Saboo et al. ("Towards disease-aware image editing of chest X-rays"): the codes of two labelled
groups (healthy / cardiomegaly) are separated by linear discriminant analysis; projected on the
LDA direction they form two Gaussians whose means lie about 4.8 mean standard deviations apart
(``separation_score``). A direction can also come from one image pair: v = normalised
E(I*) - E(I) (``direction_from_pair``). Codes are edited by moving them along the normalised
direction (``edit``).
"""

import dataclasses

import numpy as np

from ganaug.latent.inversion import check_codes

METHODS = ("lda", "fisher", "logistic", "mean_difference")


@dataclasses.dataclass(frozen=True)
class LatentDirection:
    """A unit direction in the latent space and where it came from.

    Attributes:
        vector: float32 ``(latent_dim,)`` of norm 1, pointing from group a (``negative``) towards
            group b (``positive``).
        method: how it was found (``"lda"``, ``"fisher"``, ``"logistic"``, ``"mean_difference"``,
            ``"pair"``).
        separation: ``separation_score`` of the two groups along ``vector`` (None for a pair).
        provenance: free text recorded with figures (e.g. the group names).
    """

    vector: np.ndarray
    method: str
    separation: float = None
    provenance: str = ""


def _unit(vector, name):
    vector = np.asarray(vector, dtype=np.float64).reshape(-1)
    norm = np.linalg.norm(vector)
    if not np.isfinite(norm) or norm < 1e-12:
        raise ValueError(f"`{name}` has zero length and cannot be normalised. Received: norm={norm}")
    return (vector / norm).astype(np.float32)


def projections(codes, direction):
    """Returns the coordinate of each code along the unit ``direction``, float64 ``(N,)``."""
    codes = check_codes(codes)
    vector = direction.vector if isinstance(direction, LatentDirection) else direction
    return codes.astype(np.float64) @ _unit(vector, "direction").astype(np.float64)


def separation_score(negative_codes, positive_codes, direction):
    """Returns how far apart two groups lie along a direction, in mean standard deviations.

    Saboo et al.: |mean(p_b) - mean(p_a)| / ((std(p_a) + std(p_b)) / 2), with p the projections
    of each group on the unit direction and std the population standard deviation (ddof=0). They
    report 4.8 for healthy vs cardiomegaly chest X-rays.

    Args:
        negative_codes: float ``(Na, latent_dim)``, group a.
        positive_codes: float ``(Nb, latent_dim)``, group b.
        direction: ``LatentDirection`` or a float ``(latent_dim,)`` vector (normalised here).

    Returns:
        float, the separation (inf if both groups have zero spread along the direction).

    Raises:
        ValueError: for groups with fewer than 2 codes or a zero direction.
    """
    negative = projections(negative_codes, direction)
    positive = projections(positive_codes, direction)
    for name, group in (("negative_codes", negative), ("positive_codes", positive)):
        if len(group) < 2:
            raise ValueError(f"`{name}` must hold at least 2 codes. Received: {len(group)} codes")
    spread = (negative.std() + positive.std()) / 2.0
    distance = abs(positive.mean() - negative.mean())
    return float(distance / spread) if spread > 0 else float("inf")


def _fisher_vector(negative, positive, shrinkage):
    scatter = np.cov(negative, rowvar=False, bias=True) * len(negative)
    scatter = scatter + np.cov(positive, rowvar=False, bias=True) * len(positive)
    scatter = np.atleast_2d(scatter) / (len(negative) + len(positive))
    dimension = scatter.shape[0]
    target = np.trace(scatter) / dimension * np.eye(dimension)
    scatter = (1.0 - shrinkage) * scatter + shrinkage * target
    return np.linalg.solve(scatter, positive.mean(axis=0) - negative.mean(axis=0))


def class_direction(negative_codes, positive_codes, *, method="lda", shrinkage="auto", seed=0, provenance=""):
    """Returns the direction separating two labelled groups of codes, pointing from a to b.

    ``"lda"``: scikit-learn's LinearDiscriminantAnalysis (Saboo et al.), solver "lsqr" with
    ``shrinkage`` (``"auto"``: Ledoit-Wolf, so it works with fewer codes than dimensions);
    ``"fisher"``: w = Sw^-1 (m_b - m_a) with Sw shrunk towards a scaled identity by ``shrinkage``
    (a float in [0, 1]; "auto" means 0.1); ``"logistic"``: the weights of an L2 logistic regression;
    ``"mean_difference"``: m_b - m_a (Fernández et al.'s difference of averages).

    Args:
        negative_codes: float ``(Na, latent_dim)``, group a (e.g. healthy).
        positive_codes: float ``(Nb, latent_dim)``, group b (e.g. diseased).
        method: one of ``"lda"``, ``"fisher"``, ``"logistic"``, ``"mean_difference"``.
        shrinkage: ``"auto"``, None or a float in [0, 1] (lda, fisher).
        seed: random state of the logistic regression solver.
        provenance: text recorded in the result.

    Returns:
        ``LatentDirection`` with the unit vector and the groups' ``separation_score`` along it.

    Raises:
        ValueError: for an unknown ``method``, a bad ``shrinkage``, groups of fewer than 2 codes or
            of different latent_dim.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}. Received: method={method!r}")
    if not (shrinkage is None or shrinkage == "auto" or (isinstance(shrinkage, (int, float)) and 0 <= shrinkage <= 1)):
        raise ValueError(f"`shrinkage` must be 'auto', None or a number in [0, 1]. Received: shrinkage={shrinkage!r}")
    negative = check_codes(negative_codes, name="negative_codes").astype(np.float64)
    positive = check_codes(positive_codes, negative.shape[1], name="positive_codes").astype(np.float64)
    for name, group in (("negative_codes", negative), ("positive_codes", positive)):
        if len(group) < 2:
            raise ValueError(f"`{name}` must hold at least 2 codes. Received: {name}.shape={group.shape}")
    codes = np.concatenate([negative, positive])
    targets = np.concatenate([np.zeros(len(negative), int), np.ones(len(positive), int)])
    if method == "lda":
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        model = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage).fit(codes, targets)
        vector = model.coef_[0]
    elif method == "fisher":
        amount = 0.1 if shrinkage == "auto" else float(shrinkage or 0.0)
        vector = _fisher_vector(negative, positive, amount)
    elif method == "logistic":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=1000, random_state=seed).fit(codes, targets)
        vector = model.coef_[0]
    else:
        vector = positive.mean(axis=0) - negative.mean(axis=0)
    vector = _unit(vector, "direction")
    if np.dot(vector, positive.mean(axis=0) - negative.mean(axis=0)) < 0:
        vector = -vector
    return LatentDirection(
        vector=vector,
        method=method,
        separation=separation_score(negative, positive, vector),
        provenance=provenance,
    )


def direction_from_pair(code, edited_code, *, provenance="pair"):
    """Returns the unit direction from one code to another (Saboo et al.: normalised E(I*) - E(I)).

    Args:
        code: float ``(latent_dim,)``, the code of the original image I.
        edited_code: float ``(latent_dim,)``, the code of the edited image I*.
        provenance: text recorded in the result.

    Returns:
        ``LatentDirection`` with ``method="pair"``.

    Raises:
        ValueError: for codes of different shapes or identical codes.
    """
    code = np.asarray(code, dtype=np.float32).reshape(-1)
    edited_code = np.asarray(edited_code, dtype=np.float32).reshape(-1)
    if code.shape != edited_code.shape:
        raise ValueError(
            f"`edited_code` must have the shape of `code` {code.shape}. Received: edited_code.shape={edited_code.shape}"
        )
    return LatentDirection(vector=_unit(edited_code - code, "edited_code - code"), method="pair", provenance=provenance)


def direction_from_image_pair(encoder, image, edited_image, *, provenance="pair"):
    """Returns ``direction_from_pair(E(image), E(edited_image))`` (Saboo et al.).

    Args:
        encoder: image -> code model.
        image: float32 ``(H, W, C)`` in [-1, 1], the original image I.
        edited_image: float32 ``(H, W, C)``, the edited image I*.
        provenance: text recorded in the result.

    Returns:
        ``LatentDirection`` with ``method="pair"``.
    """
    from ganaug.latent.encoder_training import encode

    codes = encode(encoder, np.stack([np.asarray(image), np.asarray(edited_image)]).astype(np.float32))
    return direction_from_pair(codes[0], codes[1], provenance=provenance)


def edit(codes, direction, strengths=(-2.0, -1.0, 0.0, 1.0, 2.0)):
    """Returns codes moved along a normalised direction: z + s v for every strength s.

    Saboo et al.: translating the codes of healthy images along the cardiomegaly direction.

    Args:
        codes: float ``(N, latent_dim)`` (or one code ``(latent_dim,)``).
        direction: ``LatentDirection`` or a float ``(latent_dim,)`` vector (normalised here).
        strengths: the distances s to move, in latent units along the unit vector.

    Returns:
        float32 ``(N * len(strengths), latent_dim)``, code-major: row ``i * len(strengths) + j`` is
        ``codes[i] + strengths[j] * v``.

    Raises:
        ValueError: for empty or non-finite strengths, a zero direction or mismatched lengths.
    """
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim == 1:
        codes = codes[None]
    codes = check_codes(codes)
    vector = _unit(direction.vector if isinstance(direction, LatentDirection) else direction, "direction")
    if vector.shape[0] != codes.shape[1]:
        raise ValueError(
            f"`direction` must have length latent_dim={codes.shape[1]}. Received: direction.shape={vector.shape}"
        )
    strengths = np.asarray(strengths, dtype=np.float32).reshape(-1)
    if strengths.size == 0 or not np.all(np.isfinite(strengths)):
        raise ValueError(f"`strengths` must be a non-empty list of finite numbers. Received: strengths={strengths}")
    moved = codes[:, None, :] + strengths[None, :, None] * vector[None, None, :]
    return moved.reshape(-1, codes.shape[1]).astype(np.float32)
