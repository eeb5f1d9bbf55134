"""Semantic directions in the latent space, how real they are, and edits along them.

Saboo et al. ("Towards disease-aware image editing of chest X-rays"): the codes of two labelled
groups (healthy / cardiomegaly) are separated by linear discriminant analysis; projected on the
LDA direction they form two Gaussians whose means lie about 4.8 mean standard deviations apart
(``separation_score``). A direction can also come from one image pair: v = normalised
E(I*) - E(I) (``direction_from_pair``). Codes are edited by moving them along the normalised
direction (``edit``).

That 4.8 is measured *in sample*: on the very codes the direction was fitted to. With 512-d codes
and 350 images a fitted direction separates any two groups, even two drawn from one distribution
(``latent_direction`` on two such groups typically reports an in-sample separation above 2 with
shrinkage, and an unshrunk LDA separates them perfectly). ``latent_direction`` therefore reports,
next to the in-sample figure, the separation of **held-out** codes (k-fold cross-validation: fit on
k-1 folds, project the left-out fold) and a **permutation null** (group labels shuffled, the same
cross-validated procedure rerun), so a user can tell whether a direction is real.
"""

import dataclasses
import numbers
import warnings

import numpy as np

from ganaug.latent.inversion import check_codes

METHODS = ("lda", "fisher", "logistic", "mean_difference")


class WeakDirectionWarning(UserWarning):
    """Warned when a direction's held-out separation does not beat its permutation null."""


@dataclasses.dataclass(frozen=True)
class LatentDirection:
    """A unit direction in the latent space, where it came from and how well it separates.

    Attributes:
        vector: float32 ``(latent_dim,)`` of norm 1, pointing from group a (``negative``) towards
            group b (``positive``), fitted on all codes.
        method: how it was found (``"lda"``, ``"fisher"``, ``"logistic"``, ``"mean_difference"``,
            ``"pair"``).
        separation: **in-sample** ``separation_score`` of the two groups along ``vector``, on the
            codes it was fitted to (the figure Saboo et al. report; optimistic, see
            ``held_out_separation``). None for a pair. Also available as ``in_sample_separation``.
        provenance: free text recorded with figures (e.g. the group names).
        held_out_separation: cross-validated separation: per fold, the direction fitted on the
            other folds, the *signed* (mean_b - mean_a) / mean std of the left-out fold's
            projections; averaged over folds weighted by fold size. Near 0 when the groups do
            not differ (it can be negative). None when not measured (``class_direction``).
        held_out_auc: cross-validated AUC of the projections (probability that a left-out b code
            projects above a left-out a code), averaged over folds; 0.5 means no separation.
        in_sample_auc: the same AUC on the fitting codes along ``vector``.
        fold_separations: tuple of the per-fold held-out separations.
        null_separations: float64 ``(permutations,)``: ``held_out_separation`` with the group
            labels shuffled (group sizes kept), one per permutation; None without a null.
        null_separation_95: the 95th percentile of ``null_separations``.
        null_auc_95: the 95th percentile of the permuted held-out AUCs.
        p_value: one-sided permutation p-value of ``held_out_separation``,
            (1 + #{null >= observed}) / (1 + permutations).
        folds: number of cross-validation folds.
        permutations: number of label permutations of the null.
        shrinkage_intensity: for ``"lda"``, the covariance shrinkage intensity used by the full fit
            (the Ledoit-Wolf value for ``shrinkage="auto"``); None for the other methods.
    """

    vector: np.ndarray
    method: str
    separation: float = None
    provenance: str = ""
    held_out_separation: float = None
    held_out_auc: float = None
    in_sample_auc: float = None
    fold_separations: tuple = None
    null_separations: np.ndarray = dataclasses.field(default=None, repr=False)
    null_separation_95: float = None
    null_auc_95: float = None
    p_value: float = None
    folds: int = None
    permutations: int = None
    shrinkage_intensity: float = None

    @property
    def in_sample_separation(self):
        """The in-sample separation (``separation``): measured on the codes the direction was fitted to."""
        return self.separation

    @property
    def beats_null(self):
        """True if the held-out separation exceeds the null's 95th percentile (None without a null)."""
        if self.held_out_separation is None or self.null_separation_95 is None:
            return None
        return bool(self.held_out_separation > self.null_separation_95)

    def summary(self):
        """Returns the figures as a JSON-ready dict with labelled keys (no vector, no null samples)."""
        return {
            "method": self.method,
            "provenance": self.provenance,
            "in_sample_separation": self.separation,
            "in_sample_auc": self.in_sample_auc,
            "held_out_separation": self.held_out_separation,
            "held_out_auc": self.held_out_auc,
            "fold_separations": None if self.fold_separations is None else list(self.fold_separations),
            "null_separation_95": self.null_separation_95,
            "null_auc_95": self.null_auc_95,
            "p_value": self.p_value,
            "beats_null": self.beats_null,
            "folds": self.folds,
            "permutations": self.permutations,
            "shrinkage_intensity": self.shrinkage_intensity,
        }


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




def _ledoit_wolf_intensity(residuals, gram=None):
    """Returns the Ledoit-Wolf shrinkage intensity of centred data ``(n, d)`` towards mu * I.

    The formula of ``sklearn.covariance.ledoit_wolf_shrinkage`` (Ledoit & Wolf 2004), computed
    through the n x n Gram matrix (``gram``, computed here if None) when n < d.
    """
    n, d = residuals.shape
    if d == 1:
        return 0.0
    squares = residuals**2
    trace = squares.sum(axis=0) / n
    mu = trace.sum() / d
    if gram is None:
        gram = residuals @ residuals.T if n < d else residuals.T @ residuals
    delta_ = np.sum(gram**2) / n**2  # ||X^T X||_F^2 / n^2
    beta_ = np.sum(squares.sum(axis=1) ** 2)  # sum of the entries of X2^T X2
    beta = (beta_ / n - delta_) / (d * n)
    delta = (delta_ - 2.0 * mu * trace.sum() + d * mu**2) / d
    beta = min(beta, delta)
    return 0.0 if beta == 0 else float(beta / delta)


def _lda_vector(negative, positive, shrinkage):
    """Returns ``(Sigma^-1 (m_b - m_a), intensity)`` with Sigma the shrunk pooled within-group covariance.

    The features are standardised by their pooled within-group standard deviation, the pooled
    covariance of the standardised residuals is shrunk towards the identity
    (``(1 - s) S + s * mu * I``, ``s`` the Ledoit-Wolf intensity for ``"auto"``, 0 for None, else
    the given number) and the solution is mapped back. With s = 0 the limit s -> 0 is taken (a
    ridge of 1e-10 * mu): with fewer codes than dimensions the covariance is singular and the
    direction becomes the part of m_b - m_a along which the fitting codes have no within-group
    spread at all, the unshrunk case whose in-sample separation is unbounded.
    """
    residuals = np.concatenate([negative - negative.mean(axis=0), positive - positive.mean(axis=0)])
    difference = positive.mean(axis=0) - negative.mean(axis=0)
    n, d = residuals.shape
    scale = residuals.std(axis=0)
    scale[scale <= 1e-12] = 1.0
    standardised = residuals / scale
    target = difference / scale
    gram = standardised @ standardised.T if n < d else standardised.T @ standardised
    if shrinkage == "auto":
        intensity = _ledoit_wolf_intensity(standardised, gram)
    else:
        intensity = float(shrinkage or 0.0)
    mu = float(np.sum(standardised**2) / (n * d))
    a = max(intensity, 1e-10) * mu  # Sigma = a I + b X^T X
    b = (1.0 - intensity) / n
    if b <= 0.0:
        solution = target / a
    elif n < d:  # Woodbury: (aI + b X^T X)^-1 g = (g - X^T (a/b I + X X^T)^-1 X g) / a
        inner = np.linalg.solve((a / b) * np.eye(n) + gram, standardised @ target)
        solution = (target - standardised.T @ inner) / a
    else:
        solution = np.linalg.solve(a * np.eye(d) + b * gram, target)
    return solution / scale, intensity


def _fisher_vector(negative, positive, shrinkage):
    scatter = np.cov(negative, rowvar=False, bias=True) * len(negative)
    scatter = scatter + np.cov(positive, rowvar=False, bias=True) * len(positive)
    scatter = np.atleast_2d(scatter) / (len(negative) + len(positive))
    dimension = scatter.shape[0]
    target = np.trace(scatter) / dimension * np.eye(dimension)
    scatter = (1.0 - shrinkage) * scatter + shrinkage * target
    return np.linalg.solve(scatter, positive.mean(axis=0) - negative.mean(axis=0))


def _fit(negative, positive, method, shrinkage, seed):
    """Returns ``(unit vector oriented from a to b on these codes, lda intensity or None)``."""
    intensity = None
    if method == "lda":
        vector, intensity = _lda_vector(negative, positive, shrinkage)
    elif method == "fisher":
        amount = 0.1 if shrinkage == "auto" else float(shrinkage or 0.0)
        vector = _fisher_vector(negative, positive, amount)
    elif method == "logistic":
        from sklearn.linear_model import LogisticRegression

        codes = np.concatenate([negative, positive])
        targets = np.concatenate([np.zeros(len(negative), int), np.ones(len(positive), int)])
        vector = LogisticRegression(max_iter=1000, random_state=seed).fit(codes, targets).coef_[0]
    else:
        vector = positive.mean(axis=0) - negative.mean(axis=0)
    vector = _unit(vector, "direction").astype(np.float64)
    if np.dot(vector, positive.mean(axis=0) - negative.mean(axis=0)) < 0:
        vector = -vector
    return vector, intensity


def _signed_separation(negative, positive):
    """(mean(positive) - mean(negative)) / mean population std of two projection vectors."""
    spread = (negative.std() + positive.std()) / 2.0
    distance = positive.mean() - negative.mean()
    if spread > 0:
        return float(distance / spread)
    return 0.0 if distance == 0 else float(np.sign(distance) * np.inf)


def _auc(negative, positive):
    """P(positive > negative) + 0.5 P(tie): the Mann-Whitney AUC of two projection vectors."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([negative, positive]))
    rank_sum = ranks[len(negative):].sum()
    return float((rank_sum - len(positive) * (len(positive) + 1) / 2.0) / (len(negative) * len(positive)))


def _stratified_folds(labels, folds, rng):
    """Returns a fold index per code: each group shuffled and dealt round-robin over the folds."""
    assignment = np.empty(len(labels), dtype=int)
    for group in (0, 1):
        members = np.flatnonzero(labels == group)
        assignment[rng.permutation(members)] = np.arange(len(members)) % folds
    return assignment


def _cross_validate(codes, labels, assignment, folds, method, shrinkage, seed):
    """Returns ``(held-out separation, per-fold separations, held-out AUC)`` of one labelling."""
    separations, aucs, weights = [], [], []
    for fold in range(folds):
        test = assignment == fold
        train_negative = codes[~test & (labels == 0)]
        train_positive = codes[~test & (labels == 1)]
        vector, _ = _fit(train_negative, train_positive, method, shrinkage, seed)
        negative = codes[test & (labels == 0)] @ vector
        positive = codes[test & (labels == 1)] @ vector
        separations.append(_signed_separation(negative, positive))
        aucs.append(_auc(negative, positive))
        weights.append(int(test.sum()))
    weights = np.asarray(weights, dtype=np.float64)
    return (
        float(np.average(separations, weights=weights)),
        tuple(float(s) for s in separations),
        float(np.average(aucs, weights=weights)),
    )


def _single_threaded_blas():
    """Limits BLAS to one thread: the many small fits of the null run 10x slower with several
    threads on a shared CPU (thread start-up and oversubscription dominate matrices this small)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, run as is
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _check_method_and_shrinkage(method, shrinkage):
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}. Received: method={method!r}")
    if not (
        shrinkage is None
        or shrinkage == "auto"
        or (isinstance(shrinkage, numbers.Real) and not isinstance(shrinkage, bool) and 0 <= shrinkage <= 1)
    ):
        raise ValueError(f"`shrinkage` must be 'auto', None or a number in [0, 1]. Received: shrinkage={shrinkage!r}")


def _check_groups(negative_codes, positive_codes, names, minimum=2):
    negative = check_codes(negative_codes, name=names[0]).astype(np.float64)
    positive = check_codes(positive_codes, negative.shape[1], name=names[1]).astype(np.float64)
    for name, group in zip(names, (negative, positive)):
        if len(group) < minimum:
            raise ValueError(f"`{name}` must hold at least {minimum} codes. Received: {name}.shape={group.shape}")
    return negative, positive


def class_direction(negative_codes, positive_codes, *, method="lda", shrinkage="auto", seed=0, provenance=""):
    """Returns the direction separating two labelled groups of codes, pointing from a to b (in sample).

    The fit and the in-sample ``separation`` only; ``latent_direction`` adds the held-out
    separation and the permutation null, and should be preferred to judge a direction.

    ``"lda"``: Sigma^-1 (m_b - m_a) with Sigma the pooled within-group covariance of the
    standardised codes shrunk towards the identity (Saboo et al.'s LDA; ``shrinkage="auto"``:
    Ledoit-Wolf, so it works with fewer codes than dimensions); ``"fisher"``: the same without
    standardising, shrunk towards a scaled identity by ``shrinkage`` (a float in [0, 1]; "auto"
    means 0.1); ``"logistic"``: the weights of an L2 logistic regression (C = 1); ``"mean_difference"``:
    m_b - m_a (Fernández et al.'s difference of averages).

    Args:
        negative_codes: float ``(Na, latent_dim)``, group a (e.g. healthy).
        positive_codes: float ``(Nb, latent_dim)``, group b (e.g. diseased).
        method: one of ``"lda"``, ``"fisher"``, ``"logistic"``, ``"mean_difference"``.
        shrinkage: ``"auto"``, None or a float in [0, 1] (lda, fisher).
        seed: random state of the logistic regression solver.
        provenance: text recorded in the result.

    Returns:
        ``LatentDirection`` with the unit vector, the groups' in-sample ``separation_score`` along
        it and the in-sample AUC.

    Raises:
        ValueError: for an unknown ``method``, a bad ``shrinkage``, groups of fewer than 2 codes or
            of different latent_dim.
    """
    _check_method_and_shrinkage(method, shrinkage)
    negative, positive = _check_groups(negative_codes, positive_codes, ("negative_codes", "positive_codes"))
    vector, intensity = _fit(negative, positive, method, shrinkage, seed)
    vector = vector.astype(np.float32)
    return LatentDirection(
        vector=vector,
        method=method,
        separation=separation_score(negative, positive, vector),
        provenance=provenance,
        in_sample_auc=_auc(negative @ vector.astype(np.float64), positive @ vector.astype(np.float64)),
        shrinkage_intensity=intensity,
    )


def latent_direction(
    codes_a,
    codes_b,
    *,
    method="lda",
    shrinkage="auto",
    folds=5,
    permutations=200,
    seed=0,
    provenance="",
    warn=True,
):
    """Returns the direction from group a to group b with its separation measured honestly.

    Saboo et al. fit LDA to the W codes of 100 healthy and 250 cardiomegaly X-rays and report
    the separation of the two groups along the LDA direction (4.8 mean standard deviations). That
    figure is in-sample: with 512-d codes and a few hundred images, a fitted direction separates
    *any* two groups, so it cannot tell a real direction from an artefact. This function reports
    three figures, clearly apart:

    * ``separation`` (= ``in_sample_separation``): the paper's figure, on the fitting codes.
    * ``held_out_separation`` / ``held_out_auc``: stratified ``folds``-fold cross-validation.
      For each fold the direction is fitted on the other folds (oriented a -> b on those codes
      only) and the left-out codes are projected on it; the separation is signed, (mean_b -
      mean_a) / ((std_a + std_b) / 2), so it is near 0 (or negative) when the groups do not
      differ and near the true separation when they do (a little below it: the direction is
      estimated from (k-1)/k of the codes).
    * A permutation null: the group labels are shuffled ``permutations`` times (group sizes kept)
      and the same cross-validated procedure is rerun; ``null_separation_95`` is the null's 95th
      percentile and ``p_value`` the one-sided permutation p-value. A direction is worth
      editing along when ``held_out_separation`` beats the null (``beats_null``); otherwise a
      ``WeakDirectionWarning`` is issued (``warn=True``).

    Shrinkage (why the defaults are what they are): with fewer codes than dimensions the pooled
    within-group covariance is singular, and unshrunk LDA (``shrinkage=None``) finds a direction
    along which the fitting codes of the two groups do not overlap at all: an in-sample
    separation in the millions, and no better than chance on new codes. ``"lda"`` therefore
    shrinks the covariance of the standardised codes towards the identity with the Ledoit-Wolf
    intensity (``shrinkage="auto"``, the analytic choice that minimises the expected squared
    error of the covariance estimate; no tuning, and refitted inside each training fold, so no
    information leaks from the held-out fold); a number in [0, 1] fixes the intensity.
    ``"mean_difference"`` is the limit of full shrinkage (covariance taken as the identity):
    the most robust with very few codes, blind to correlated noise. ``"logistic"`` uses
    scikit-learn's L2-penalised logistic regression with C = 1 (its default; the penalty plays
    the role of shrinkage and ``shrinkage`` is ignored); it is ~40 ms per fit at 512-d, so the
    null costs ``folds * permutations`` fits (lower ``permutations`` for a quick look).
    ``"fisher"`` shrinks the unstandardised covariance by ``shrinkage`` ("auto" = 0.1).

    Args:
        codes_a: float ``(Na, latent_dim)``, group a (e.g. healthy), at least ``2 * folds`` codes.
        codes_b: float ``(Nb, latent_dim)``, group b (e.g. diseased), at least ``2 * folds`` codes.
        method: ``"lda"`` (default), ``"logistic"``, ``"mean_difference"`` or ``"fisher"``.
        shrinkage: ``"auto"`` (default), None or a number in [0, 1] (``"lda"``, ``"fisher"``).
        folds: number of cross-validation folds, >= 2 (default 5).
        permutations: number of label permutations of the null, >= 0 (default 200; 0 skips the
            null, the p-value and the warning).
        seed: seed of the fold assignment, the permutations and the logistic solver; the same
            seed gives the same result.
        provenance: text recorded in the result.
        warn: issue a ``WeakDirectionWarning`` when the held-out separation does not beat the
            null's 95th percentile.

    Returns:
        ``LatentDirection``: the unit vector fitted on all codes, its in-sample ``separation`` and
        ``in_sample_auc``, ``held_out_separation``, ``held_out_auc``, ``fold_separations``,
        ``null_separations``, ``null_separation_95``, ``null_auc_95``, ``p_value``, ``folds``,
        ``permutations`` and (lda) ``shrinkage_intensity``; ``summary()`` gives them as a dict.

    Raises:
        ValueError: for an unknown ``method``, a bad ``shrinkage``, ``folds`` or ``permutations``,
            groups of different latent_dim or with fewer than ``2 * folds`` codes.
    """
    _check_method_and_shrinkage(method, shrinkage)
    if isinstance(folds, bool) or not isinstance(folds, numbers.Integral) or folds < 2:
        raise ValueError(f"`folds` must be an integer >= 2. Received: folds={folds!r}")
    if isinstance(permutations, bool) or not isinstance(permutations, numbers.Integral) or permutations < 0:
        raise ValueError(f"`permutations` must be an integer >= 0. Received: permutations={permutations!r}")
    folds, permutations = int(folds), int(permutations)
    negative = check_codes(codes_a, name="codes_a").astype(np.float64)
    positive = check_codes(codes_b, negative.shape[1], name="codes_b").astype(np.float64)
    for name, group in (("codes_a", negative), ("codes_b", positive)):
        if len(group) < 2 * folds:
            raise ValueError(
                f"`{name}` must hold at least 2 * folds = {2 * folds} codes (2 per held-out fold), or lower "
                f"`folds`. Received: {name}.shape={group.shape}, folds={folds}"
            )
    direction = class_direction(
        negative, positive, method=method, shrinkage=shrinkage, seed=seed, provenance=provenance
    )
    codes = np.concatenate([negative, positive])
    labels = np.concatenate([np.zeros(len(negative), int), np.ones(len(positive), int)])
    rng = np.random.default_rng(seed)
    null = null_aucs = None
    null_95 = null_auc_95 = p_value = None
    with _single_threaded_blas():
        assignment = _stratified_folds(labels, folds, rng)
        held_out, per_fold, held_out_auc = _cross_validate(codes, labels, assignment, folds, method, shrinkage, seed)
        if permutations:
            null = np.empty(permutations)
            null_aucs = np.empty(permutations)
            for index in range(permutations):
                shuffled = rng.permutation(labels)
                shuffled_assignment = _stratified_folds(shuffled, folds, rng)
                null[index], _, null_aucs[index] = _cross_validate(
                    codes, shuffled, shuffled_assignment, folds, method, shrinkage, seed
                )
    if permutations:
        null_95 = float(np.percentile(null, 95))
        null_auc_95 = float(np.percentile(null_aucs, 95))
        p_value = float((1 + np.sum(null >= held_out)) / (1 + permutations))
    result = dataclasses.replace(
        direction,
        held_out_separation=held_out,
        held_out_auc=held_out_auc,
        fold_separations=per_fold,
        null_separations=null,
        null_separation_95=null_95,
        null_auc_95=null_auc_95,
        p_value=p_value,
        folds=folds,
        permutations=permutations,
    )
    if warn and result.beats_null is False:
        warnings.warn(
            f"The {method} direction{' (' + provenance + ')' if provenance else ''} does not beat its permutation "
            f"null: held-out separation {held_out:.3f} <= null 95th percentile {null_95:.3f} (p = {p_value:.3f}; "
            f"in-sample separation {direction.separation:.3f}). The groups may not differ along any direction "
            "these codes can resolve; edits along it are likely noise.",
            WeakDirectionWarning,
            stacklevel=2,
        )
    return result


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
