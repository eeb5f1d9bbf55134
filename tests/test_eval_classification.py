"""Classification metrics against a hand-computed confusion matrix."""

import numpy as np
import pytest

from ganaug.evaluation.classification import (
    classification_metrics,
    confusion_matrix_figure,
    format_table,
    metrics_table,
)

LABELS = np.array([0, 0, 1, 1, 1, 2])
PREDICTED = np.array([0, 1, 1, 1, 2, 2])


def test_metrics_match_hand_computation():
    m = classification_metrics(LABELS, PREDICTED, class_names=["a", "b", "c"])
    np.testing.assert_array_equal(m["confusion_matrix"], [[1, 1, 0], [0, 2, 1], [0, 0, 1]])
    np.testing.assert_allclose(
        m["confusion_matrix_normalised"], [[0.5, 0.5, 0], [0, 2 / 3, 1 / 3], [0, 0, 1]]
    )
    np.testing.assert_allclose(m["precision"], [1.0, 2 / 3, 0.5])
    np.testing.assert_allclose(m["recall"], [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(m["f1"], [2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_array_equal(m["support"], [2, 3, 1])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1_weighted"] == pytest.approx(2 / 3)
    assert m["f1_macro"] == pytest.approx(2 / 3)


def test_probabilities_give_the_same_metrics_and_absent_classes_are_zero():
    probabilities = np.eye(4)[PREDICTED] * 0.7 + 0.075
    m = classification_metrics(LABELS, probabilities)
    assert m["class_names"] == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(m["confusion_matrix"][3], [0, 0, 0, 0])
    np.testing.assert_array_equal(m["confusion_matrix_normalised"][3], [0, 0, 0, 0])
    assert m["accuracy"] == pytest.approx(4 / 6)


def test_tables_and_figure(tmp_path):
    m = classification_metrics(LABELS, PREDICTED, class_names=["neutrophil", "lymphocyte", "eosinophil"])
    markdown = metrics_table(m)
    assert markdown.splitlines()[0].startswith("| class | precision")
    assert "| lymphocyte | 0.667 | 0.667 | 0.667 | 3 |" in markdown
    text = metrics_table(m, format="text")
    assert "weighted F1" in text and "|" not in text
    figure = confusion_matrix_figure(m)
    path = tmp_path / "cm.png"
    figure.savefig(path)
    assert path.stat().st_size > 1000
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels == ["neutrophil", "lymphocyte", "eosinophil"]


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="len\\(predictions\\)=2"):
        classification_metrics(LABELS, PREDICTED[:2])
    with pytest.raises(ValueError, match="Received: labels in"):
        classification_metrics(LABELS, PREDICTED, num_classes=2)
    with pytest.raises(ValueError, match="Received: format='html'"):
        format_table(["a"], [[1]], format="html")
