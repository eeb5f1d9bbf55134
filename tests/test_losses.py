"""Losses against values computed by hand from fixed logits (TF-GAN style)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from ganaug.training import losses

REAL = [[2.0], [-1.0]]
FAKE = [[0.5], [-3.0]]


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def bce(logit, target):
    p = sigmoid(logit)
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


def mean(values):
    return sum(values) / len(values)


def test_non_saturating_discriminator_matches_hand_computation():
    expected = mean([-math.log(sigmoid(2.0)) - math.log(1 - sigmoid(0.5)),
                     -math.log(sigmoid(-1.0)) - math.log(1 - sigmoid(-3.0))])
    result = losses.non_saturating_discriminator_loss(REAL, FAKE)
    assert result.shape == (2,)
    np.testing.assert_allclose(float(tf.reduce_mean(result)), expected, rtol=1e-6)


def test_label_smoothing_targets_real_at_one_minus_s():
    s = 0.1
    expected = mean([bce(2.0, 1 - s) + bce(0.5, 0.0), bce(-1.0, 1 - s) + bce(-3.0, 0.0)])
    result = losses.non_saturating_discriminator_loss(REAL, FAKE, label_smoothing=s)
    np.testing.assert_allclose(float(tf.reduce_mean(result)), expected, rtol=1e-6)
    # one-sided: fakes are untouched, so smoothing changes the loss only through real logits
    only_fake = losses.non_saturating_discriminator_loss([[8.0]], [[0.5]], label_smoothing=s)
    np.testing.assert_allclose(float(only_fake[0]), bce(8.0, 1 - s) + bce(0.5, 0.0), rtol=1e-5)


def test_non_saturating_and_minimax_generator():
    expected_ns = mean([-math.log(sigmoid(0.5)), -math.log(sigmoid(-3.0))])
    expected_mm = mean([math.log(1 - sigmoid(0.5)), math.log(1 - sigmoid(-3.0))])
    np.testing.assert_allclose(float(tf.reduce_mean(losses.non_saturating_generator_loss(FAKE))), expected_ns, rtol=1e-6)
    np.testing.assert_allclose(float(tf.reduce_mean(losses.minimax_generator_loss(FAKE))), expected_mm, rtol=1e-6)
    np.testing.assert_allclose(
        losses.minimax_discriminator_loss(REAL, FAKE).numpy(),
        losses.non_saturating_discriminator_loss(REAL, FAKE).numpy(),
    )


def test_least_squares():
    s = 0.2
    expected_d = mean([0.5 * (2.0 - 0.8) ** 2 + 0.5 * 0.5**2, 0.5 * (-1.0 - 0.8) ** 2 + 0.5 * 9.0])
    expected_g = mean([0.5 * (0.5 - 1) ** 2, 0.5 * (-3.0 - 1) ** 2])
    d = losses.least_squares_discriminator_loss(REAL, FAKE, label_smoothing=s)
    np.testing.assert_allclose(float(tf.reduce_mean(d)), expected_d, rtol=1e-6)
    np.testing.assert_allclose(float(tf.reduce_mean(losses.least_squares_generator_loss(FAKE))), expected_g, rtol=1e-6)


def test_hinge_and_wasserstein():
    expected_hinge = mean([max(0, 1 - 2.0) + max(0, 1 + 0.5), max(0, 1 + 1.0) + max(0, 1 - 3.0)])
    np.testing.assert_allclose(float(tf.reduce_mean(losses.hinge_discriminator_loss(REAL, FAKE))), expected_hinge)
    np.testing.assert_allclose(float(tf.reduce_mean(losses.hinge_generator_loss(FAKE))), -mean([0.5, -3.0]))
    expected_w = mean([0.5 - 2.0, -3.0 - (-1.0)])
    np.testing.assert_allclose(float(tf.reduce_mean(losses.wasserstein_discriminator_loss(REAL, FAKE))), expected_w)
    np.testing.assert_allclose(float(tf.reduce_mean(losses.wasserstein_generator_loss(FAKE))), 1.25)


def test_dispatch_matches_named_functions():
    for name in losses.LOSSES:
        d = losses.discriminator_loss(REAL, FAKE, loss=name)
        g = losses.generator_loss(FAKE, loss=name)
        assert d.shape == (2,) and g.shape == (2,)
    np.testing.assert_allclose(
        losses.discriminator_loss(REAL, FAKE, loss="hinge").numpy(),
        losses.hinge_discriminator_loss(REAL, FAKE).numpy(),
    )


def test_gradient_penalty_of_a_linear_critic():
    # critic(x) = sum(w * x): its gradient is w everywhere, so the penalty is (||w|| - 1)^2.
    w = tf.constant([[[[3.0]], [[4.0]]]])  # shape (1, 2, 1, 1), ||w|| = 5
    real = tf.ones((2, 2, 1, 1))
    fake = tf.zeros((2, 2, 1, 1))
    penalty = losses.gradient_penalty(
        lambda x: tf.reduce_sum(w * x, axis=[1, 2, 3]), real, fake, tf.constant([0.3, 0.9])
    )
    np.testing.assert_allclose(penalty.numpy(), [(5.0 - 1.0) ** 2] * 2, rtol=1e-5)


def test_gradient_penalty_is_finite_at_zero_gradient():
    weight = tf.Variable(0.0)
    real = tf.ones((2, 4, 4, 1))
    fake = -tf.ones((2, 4, 4, 1))
    with tf.GradientTape() as tape:
        # The critic is constant in x (its gradient wrt the images is exactly zero).
        penalty = losses.gradient_penalty(lambda x: weight * 0.0 * tf.reduce_sum(x, axis=[1, 2, 3]) + weight,
                                          real, fake, tf.constant([0.5, 0.5]))
        total = tf.reduce_mean(penalty)
    gradient = tape.gradient(total, weight)
    np.testing.assert_allclose(penalty.numpy(), [(math.sqrt(1e-12) - 1.0) ** 2] * 2, rtol=1e-6)
    assert gradient is None or np.isfinite(gradient.numpy())


def test_interpolation_is_per_example():
    real = tf.fill((2, 2, 2, 1), 2.0)
    fake = tf.zeros((2, 2, 2, 1))
    mixed = losses.interpolated_images(real, fake, tf.constant([0.25, 1.0]))
    np.testing.assert_allclose(mixed[0].numpy(), 0.5)
    np.testing.assert_allclose(mixed[1].numpy(), 2.0)


def test_acgan_losses_follow_odena():
    real_class = [[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]
    fake_class = [[0.0, 1.0, 0.0], [1.0, 2.0, 3.0]]
    real_labels = [0, 2]
    fake_labels = [1, 0]

    def ce(logits, label):
        return -(logits[label] - math.log(sum(math.exp(v) for v in logits)))

    source_d = [bce(2.0, 1.0) + bce(0.5, 0.0), bce(-1.0, 1.0) + bce(-3.0, 0.0)]
    expected_d = mean([source_d[i] + ce(real_class[i], real_labels[i]) + ce(fake_class[i], fake_labels[i])
                       for i in range(2)])
    expected_g = mean([bce(FAKE[i][0], 1.0) + ce(fake_class[i], fake_labels[i]) for i in range(2)])
    d = losses.acgan_discriminator_loss(REAL, FAKE, real_class, fake_class, real_labels, fake_labels)
    g = losses.acgan_generator_loss(FAKE, fake_class, fake_labels)
    np.testing.assert_allclose(float(tf.reduce_mean(d)), expected_d, rtol=1e-6)
    np.testing.assert_allclose(float(tf.reduce_mean(g)), expected_g, rtol=1e-6)


def test_errors_name_the_bad_argument():
    with pytest.raises(ValueError, match="Received: loss='nope'"):
        losses.discriminator_loss(REAL, FAKE, loss="nope")
    with pytest.raises(ValueError, match="Received: label_smoothing=1.5"):
        losses.non_saturating_discriminator_loss(REAL, FAKE, label_smoothing=1.5)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.discriminator_loss(REAL, FAKE, loss="hinge", label_smoothing=0.1)


def test_lecam_regularization_matches_hand_values():
    # Tseng et al. 2021, eq. 3: relu(D(x) - alpha_F)^2 + relu(alpha_R - D(G(z)))^2 per example.
    real = np.array([[1.0], [-0.5]], np.float32)
    fake = np.array([[0.2], [-2.0]], np.float32)
    value = losses.lecam_regularization(real, fake, 0.5, -0.3).numpy()
    # (1 + 0.3)^2 + (0.5 - 0.2)^2 = 1.78; relu(-0.5 + 0.3) = 0 and (0.5 + 2)^2 = 6.25
    np.testing.assert_allclose(value, [1.78, 6.25], rtol=1e-6)


def test_lecam_objective_updates_its_averages_before_the_term():
    from ganaug.training.objectives import ConditionalObjective

    objective = ConditionalObjective(loss="hinge", lecam_weight=0.5, lecam_decay=0.9)
    objective.build(None, None)
    first_real, first_fake = np.array([[2.0], [0.0]], np.float32), np.array([[-1.0], [-3.0]], np.float32)
    term = objective.logit_regularisation((first_real, None), (first_fake, None)).numpy()
    # the first step sets the averages to its means: alpha_R = 1, alpha_F = -2
    np.testing.assert_allclose(term, 0.5 * np.array([16.0 + 4.0, 4.0 + 16.0]), rtol=1e-6)
    real, fake = np.array([[3.0], [3.0]], np.float32), np.array([[1.0], [1.0]], np.float32)
    term = objective.logit_regularisation((real, None), (fake, None)).numpy()
    alpha_r, alpha_f = 0.9 * 1.0 + 0.1 * 3.0, 0.9 * -2.0 + 0.1 * 1.0  # 1.2 and -1.7
    np.testing.assert_allclose(term, 0.5 * ((3.0 - alpha_f) ** 2 + max(alpha_r - 1.0, 0.0) ** 2), rtol=1e-5)
    assert set(objective.checkpoint_objects()) == {"lecam"}
    assert ConditionalObjective(loss="hinge").logit_regularisation((real, None), (fake, None)) is None
    with pytest.raises(ValueError, match="lecam_decay"):
        ConditionalObjective(lecam_decay=1.0)
    with pytest.raises(ValueError, match="lecam_weight"):
        ConditionalObjective(lecam_weight=-0.1)
