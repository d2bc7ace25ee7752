"""Two moons: label propagation follows the moons where two labels alone do not."""

import numpy as np
import pytest

from ssl_teach.toy import fit_mlp, label_propagation, predict, two_moons


def test_two_labels_alone_cut_across_the_moons_and_propagated_labels_follow_them():
    points, classes = two_moons(300, noise=0.08, seed=0)
    labeled = np.array([int(np.argmin(np.abs(points[:300, 0] + 1))), 300 + int(np.argmax(points[300:, 0]))])
    assert classes[labeled].tolist() == [0, 1]
    alone = predict(fit_mlp(points[labeled], classes[labeled]), points)
    propagated = label_propagation(points, labeled, classes[labeled])
    assert (alone == classes).mean() < 0.9
    assert (propagated == classes).mean() > 0.97
    boundary = predict(fit_mlp(points, propagated), points)
    assert (boundary == classes).mean() > 0.97


def test_label_propagation_keeps_the_given_labels_and_checks_its_arguments():
    points = np.array([[0, 0], [0.1, 0], [5, 5], [5.1, 5]], np.float32)
    out = label_propagation(points, np.array([0, 2]), np.array([1, 0]), k=1)
    assert out.tolist() == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="alpha must be in"):
        label_propagation(points, np.array([0]), np.array([0]), alpha=1.0)
    with pytest.raises(ValueError, match="k must be"):
        label_propagation(points, np.array([0]), np.array([0]), k=0)
