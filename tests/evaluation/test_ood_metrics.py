import evaluate
import numpy as np
import pytest
import torch

from hf_nda.evaluation import OOD_METRIC_PATH, aupr_in, aupr_out, auroc, fpr_at_tpr, ood_metrics
from hf_nda.evaluation.fid_style import frechet_distance


def test_auroc_by_hand():
    # pairs (in, out) with out > in: (.1,.25) (.2,.25) (.3,.9) (.1,.9) (.2,.9)  ;  (.3,.25) wrong -> 5/6
    assert auroc([0.1, 0.2, 0.3], [0.25, 0.9]) == pytest.approx(5 / 6)
    assert auroc([0, 0], [1, 1]) == 1.0 and auroc([1, 1], [0, 0]) == 0.0


def test_fpr_at_95_tpr_by_hand():
    ins = np.arange(100) / 100  # in-distribution 0.00 .. 0.99
    outs = np.arange(20) / 20 + 0.5  # OOD 0.50 .. 1.45
    # detecting 95 % of OOD (19 of 20) needs threshold 0.55: in-distribution above it: 0.55..0.99 = 45
    assert fpr_at_tpr(ins, outs) == pytest.approx(0.45)
    assert fpr_at_tpr([0.0, 0.1], [0.5, 0.6]) == 0.0


def test_aupr_in_and_out_for_perfect_and_reversed_scores():
    assert aupr_out([0, 0.1], [0.5, 0.6]) == pytest.approx(1.0)
    assert aupr_in([0, 0.1], [0.5, 0.6]) == pytest.approx(1.0)
    assert aupr_out([0.5, 0.6], [0, 0.1]) < 0.6


def test_evaluate_module_by_path_matches_the_functions():
    rng = np.random.default_rng(0)
    ins, outs = rng.normal(0, 1, 200), rng.normal(1, 1, 100)
    metric = evaluate.load(OOD_METRIC_PATH)
    got = metric.compute(predictions=np.concatenate([ins, outs]).tolist(), references=[0] * 200 + [1] * 100)
    expected = ood_metrics(ins, outs)
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == pytest.approx(expected[key])


def test_bad_scores():
    with pytest.raises(ValueError, match="NaN"):
        auroc([0.1, float("nan")], [0.2])
    with pytest.raises(ValueError, match="at least one"):
        auroc([], [0.2])


def test_frechet_distance_by_hand():
    mu1, mu2 = np.zeros(2), np.array([3.0, 4.0])
    s1, s2 = np.eye(2), 4 * np.eye(2)
    # 25 + tr(I + 4I - 2·2I) = 25 + 1·2 = 27
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(27.0)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_fid_style_distance_separates_real_from_noise():
    from hf_nda.evaluation.fid_style import fid_style_distance

    g = torch.Generator().manual_seed(0)
    base = torch.zeros(1, 1, 32, 32)
    base[..., 8:24, 8:24] = 1
    real_a = (base + 0.05 * torch.randn(40, 1, 32, 32, generator=g)).clamp(-1, 1)
    real_b = (base + 0.05 * torch.randn(40, 1, 32, 32, generator=g)).clamp(-1, 1)
    noise = torch.rand(40, 1, 32, 32, generator=g) * 2 - 1
    assert fid_style_distance(real_a, real_b) < fid_style_distance(noise, real_b)
