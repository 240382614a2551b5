import numpy as np
import pytest

from convenv.errors import InvalidArgumentError
from convenv.metrics import bootstrap_ci, mean_metrics, ranking_metrics, ranking_metrics_batch


def test_metrics_match_hand_computed_ranking():
    # 3 true facts among 12 candidates; ranking by score puts them at ranks 2, 4 and 11.
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.2, 0.1, 0.05, 0.0])
    truth = np.zeros(12, bool)
    truth[[1, 3, 10]] = True
    m = ranking_metrics(scores, truth)
    assert m["precision@1"] == 0.0
    assert m["precision@5"] == pytest.approx(2 / 5)
    assert m["recall@5"] == pytest.approx(2 / 3)
    assert m["recall@10"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx(1 / 2)
    # 9 wrong facts: ranks 2 and 4 are above 8 and 7 of them, rank 11 above 1
    assert m["auc"] == pytest.approx((8 + 7 + 1) / (3 * 9))


def test_perfect_ranking_and_shuffled_input():
    rng = np.random.default_rng(0)
    truth = np.array([True] * 4 + [False] * 20)
    order = rng.permutation(24)
    scores = truth.astype(float)[order] + 0.01 * rng.random(24)
    m = ranking_metrics(scores, truth[order])
    assert m == {
        "precision@1": 1.0,
        "precision@5": pytest.approx(4 / 5),
        "recall@5": 1.0,
        "recall@10": 1.0,
        "mrr": 1.0,
        "auc": 1.0,
    }


def test_ties_keep_candidate_order():
    m = ranking_metrics([0.0, 0.0, 0.0], [False, True, False])
    assert m["mrr"] == pytest.approx(1 / 2)
    assert m["precision@1"] == 0.0


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(InvalidArgumentError, match="no true candidate"):
        ranking_metrics([1.0, 2.0], [False, False])
    with pytest.raises(InvalidArgumentError, match="same 1-D shape"):
        ranking_metrics([1.0, 2.0], [True])
    with pytest.raises(InvalidArgumentError):
        mean_metrics([])


def test_bootstrap_interval_contains_mean_and_narrows_with_data():
    rng = np.random.default_rng(1)
    small = rng.random(20)
    large = rng.random(2000)
    mean, low, high = bootstrap_ci(small)
    assert low <= mean <= high
    _, low2, high2 = bootstrap_ci(large)
    assert (high2 - low2) < (high - low)
    assert bootstrap_ci(small, seed=3) == bootstrap_ci(small, seed=3)


def test_batch_metrics_equal_row_by_row_with_padding_and_ties():
    rng = np.random.default_rng(3)
    sizes = [23, 25, 24, 3, 25]
    width = max(sizes)
    scores = np.zeros((len(sizes), width))
    truth = np.zeros((len(sizes), width), bool)
    valid = np.arange(width) < np.array(sizes)[:, None]
    rows = []
    for i, n in enumerate(sizes):
        row_scores = np.round(rng.random(n), 1)  # rounded: many ties
        row_truth = np.zeros(n, bool)
        row_truth[rng.choice(n, size=min(n - 1, 4), replace=False)] = True
        scores[i, :n], truth[i, :n] = row_scores, row_truth
        scores[i, n:] = 99.0  # padding must never count, whatever its score
        rows.append(ranking_metrics(row_scores, row_truth))
    batch = ranking_metrics_batch(scores, truth, valid)
    for i, row in enumerate(rows):
        for name, value in row.items():
            assert batch[name][i] == pytest.approx(value), (name, i)


def test_batch_metrics_reject_bad_shapes():
    with pytest.raises(InvalidArgumentError, match=r"\(N, C\)"):
        ranking_metrics_batch(np.zeros(3), np.ones(3, bool))
    with pytest.raises(InvalidArgumentError, match="no true candidate"):
        ranking_metrics_batch(np.zeros((2, 3)), np.array([[1, 0, 0], [0, 0, 0]], bool))


def test_auc_matches_scikit_learn_on_random_and_tied_scores() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(3, 25))
        truth = np.zeros(n, bool)
        truth[rng.choice(n, size=int(rng.integers(1, n)), replace=False)] = True
        # Half the trials draw from three values only: many ties.
        scores = rng.integers(0, 3, n).astype(float) if trial % 2 else rng.random(n)
        assert ranking_metrics(scores, truth)["auc"] == pytest.approx(roc_auc_score(truth, scores))
    assert ranking_metrics(np.zeros(6), [True, False, True, False, False, False])["auc"] == 0.5


def test_ratio_of_pools_events_over_episodes():
    from convenv.statistics import clustered_bootstrap, ratio_of

    # Episode 0: 1 of 1 turns; episode 1: 1 of 9; the pooled rate is 2/10, not 0.56.
    statistic = ratio_of([1, 1], [1, 9])
    assert statistic(np.arange(2)) == pytest.approx(0.2)
    assert statistic(np.array([0, 0])) == 1.0 and ratio_of([0], [0])(np.array([0])) == 0.0
    value, low, high = clustered_bootstrap(statistic, [0, 1], n_resamples=200)
    assert value == pytest.approx(0.2) and 0.1 <= low <= value <= high <= 1.0
