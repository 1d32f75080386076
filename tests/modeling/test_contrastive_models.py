import pytest
import torch
from transformers import AutoModel, AutoModelForImageClassification

import hf_nda  # noqa: F401
from hf_nda import ContrastiveEncoder, ContrastiveEncoderConfig, ContrastiveEncoderForImageClassification


def test_save_then_auto_from_pretrained_gives_identical_features_and_ood_state(tmp_path):
    torch.manual_seed(0)
    enc = ContrastiveEncoder(ContrastiveEncoderConfig(projection_hidden_dim=32, projection_dim=16)).eval()
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    enc.save_pretrained(tmp_path / "plain")
    loaded = AutoModel.from_pretrained(tmp_path / "plain").eval()
    assert type(loaded) is ContrastiveEncoder
    assert torch.equal(enc(x).features, loaded(x).features) and torch.equal(enc(x).projections, loaded(x).projections)
    assert enc(x).projections.norm(dim=1).allclose(torch.ones(4))

    enc.fit_ood(torch.randn(30, enc.feature_dim))
    enc.save_pretrained(tmp_path / "fitted")
    fitted = AutoModel.from_pretrained(tmp_path / "fitted").eval()
    assert fitted.config.ood_num_fitted == 30
    assert torch.equal(enc.ood_scores(x), fitted.ood_scores(x))


def test_small_stem_and_classification_head(tmp_path):
    config = ContrastiveEncoderConfig(small_stem=True, num_labels=3)
    enc = ContrastiveEncoder(config)
    assert enc.backbone.conv1.stride == (1, 1) and isinstance(enc.backbone.maxpool, torch.nn.Identity)
    clf = ContrastiveEncoderForImageClassification(config)
    out = clf(torch.zeros(2, 1, 32, 32), labels=torch.tensor([0, 2]))
    assert out.logits.shape == (2, 3) and out.loss is not None
    clf.save_pretrained(tmp_path)
    assert type(AutoModelForImageClassification.from_pretrained(tmp_path)) is ContrastiveEncoderForImageClassification
    with pytest.raises(ValueError, match="small_stem applies to ResNet"):
        ContrastiveEncoder(ContrastiveEncoderConfig(backbone="efficientnet_lite0", small_stem=True))
