import pytest
import torch
from transformers import AutoModel, pipeline

import hf_nda  # noqa: F401
from hf_nda import AugmentationPolicyConfig, AugmentationPolicyNetwork, CRLTACConfig, CRLTACModel
from hf_nda.modeling.modeling_crl_tac import encode_views
from hf_nda.processing.discrete import CropGrid, Rotations


def small_model(head="crops"):
    torch.manual_seed(0)
    config = CRLTACConfig(policy=AugmentationPolicyConfig(head=head, conv_channels=4, hidden_dim=8))
    model = CRLTACModel(config).eval()
    with torch.no_grad():  # a non-uniform policy, so integration weights matter
        [m for m in model.policy.head if hasattr(m, "weight")][-1].weight.normal_(0, 1.0)
    return model


def canvases(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = -torch.ones(n, 1, 84, 84)
    for i in range(n):
        r, c = torch.randint(0, 3, (2,), generator=g).tolist()
        x[i, :, 28 * r:28 * r + 28, 28 * c:28 * c + 28] = torch.rand(1, 28, 28, generator=g) * 2 - 1
    return x


def test_new_policy_is_uniform_and_samples_by_its_probabilities():
    policy = AugmentationPolicyNetwork(AugmentationPolicyConfig(head="fc"))
    assert torch.allclose(AugmentationPolicyNetwork(AugmentationPolicyConfig(head="crops")).probs(canvases(1)),
                          torch.full((1, 289), 1 / 289))
    x = canvases(3)
    assert torch.allclose(policy.probs(x), torch.full((3, 289), 1 / 289))
    assert torch.allclose(policy.entropy(x), torch.log(torch.tensor(289.0)).expand(3))
    with torch.no_grad():
        policy.head[-1].bias.fill_(-30.0)
        policy.head[-1].bias[[5, 77]] = 0.0
    drawn = policy.sample(x, 64, torch.Generator().manual_seed(0))
    assert drawn.shape == (3, 64) and set(drawn.unique().tolist()) == {5, 77}
    again = policy.sample(x, 64, torch.Generator().manual_seed(0))
    assert torch.equal(drawn, again)


@pytest.mark.parametrize("head", ["fc", "crops"])
def test_both_policy_heads_give_one_logit_per_transform(head):
    policy = AugmentationPolicyNetwork(AugmentationPolicyConfig(head=head, conv_channels=4, hidden_dim=8))
    assert policy(canvases(2)).logits.shape == (2, 289)


def test_crop_head_is_translation_equivariant():
    model = small_model()
    x = canvases(1)
    shifted = torch.roll(x, shifts=(28, 28), dims=(2, 3))  # the cell moves by one cell = 7 grid steps
    a = model.policy(x).logits.view(17, 17)
    b = model.policy(shifted).logits.view(17, 17)
    # away from the canvas border, crop (i, j) of x scores as crop (i + 7, j + 7) of the shifted canvas
    torch.testing.assert_close(a[2:8, 2:8], b[9:15, 9:15], atol=1e-5, rtol=1e-5)


def test_index_applied_crops_equal_slicing():
    grid = CropGrid(crop_size=20, stride=4, image_size=84)
    x = canvases(3)
    index = torch.tensor([0, 150, 288])
    crops = grid.apply_index(x, index)
    for i, t in enumerate(index.tolist()):
        top, left = grid.corner(t)
        assert torch.equal(crops[i], x[i, :, top:top + 20, left:left + 20])


def test_deduplicated_encoding_equals_encoding_every_view():
    model = small_model()
    views = CropGrid().apply_all(canvases(2)).flatten(0, 1)
    f, h = encode_views(model.encoder, views)
    with torch.no_grad():
        out = model.encoder(views)
    torch.testing.assert_close(f, out.features, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(h, out.projections, atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_integrated_representation_equals_brute_force_sum_over_all_crops():
    model = small_model()
    x = canvases(2)
    grid = model.transform_set
    probs = model.policy.probs(x)
    h_sum, f_sum = torch.zeros(2, 50), torch.zeros(2, 200)
    for t in range(grid.num_transforms):
        out = model.encoder(grid.apply_index(x, torch.full((2,), t)))
        h_sum += probs[:, t:t + 1] * out.projections
        f_sum += probs[:, t:t + 1] * out.features
    got = model(x)
    torch.testing.assert_close(got.image_embeds, torch.nn.functional.normalize(h_sum, dim=1), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got.features, f_sum, atol=1e-5, rtol=1e-4)
    top = probs.topk(8, dim=1).indices
    h_top = torch.stack([model.encoder(grid.apply_index(x[i:i + 1].expand(8, -1, -1, -1), top[i])).projections.mean(0)
                         for i in range(2)])
    torch.testing.assert_close(model.get_image_features(x, topn=8), torch.nn.functional.normalize(h_top, dim=1),
                               atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_uniform_policy_gives_the_simclr_representation():
    model = small_model()
    model.policy.config.kind = "uniform"
    x = canvases(2)
    all_h = model.encoder(model.transform_set.apply_all(x).flatten(0, 1)).projections.view(2, 289, -1)
    expected = torch.nn.functional.normalize(all_h.mean(1), dim=1)
    torch.testing.assert_close(model.get_image_features(x), expected, atol=1e-5, rtol=1e-4)


def test_save_load_same_features_and_feature_extraction_pipeline(tmp_path):
    from hf_nda import NDAImageProcessor

    model = small_model()
    x = canvases(2)
    with torch.no_grad():
        before = model(x)
    model.save_pretrained(tmp_path)
    NDAImageProcessor(size={"height": 84, "width": 84}, num_channels=1).save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, CRLTACModel) and loaded.policy.config.head == "crops"
    with torch.no_grad():
        after = loaded(x)
    torch.testing.assert_close(after.image_embeds, before.image_embeds)
    torch.testing.assert_close(after.features, before.features)
    image = ((x[0, 0] + 1) * 127.5).round().byte().numpy()
    from PIL import Image

    extractor = pipeline("image-feature-extraction", model=str(tmp_path))
    feats = extractor(Image.fromarray(image), return_tensors=True)
    assert feats.shape[-1] == 50
    pixel = extractor.image_processor(Image.fromarray(image), return_tensors="pt").pixel_values
    with torch.no_grad():
        torch.testing.assert_close(feats.reshape(1, -1), loaded.get_image_features(pixel), atol=1e-5, rtol=1e-4)


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="does not fit"):
        CropGrid(crop_size=100, stride=4, image_size=84)
    with pytest.raises(Exception, match="built for 84×84 images but the policy sees 64×64"):
        AugmentationPolicyConfig(image_size=64)
    with pytest.raises(Exception, match="multiples of conv_stride"):
        AugmentationPolicyConfig(head="crops", transforms=CropGrid(crop_size=18, stride=4).to_dict())
    policy = AugmentationPolicyNetwork(AugmentationPolicyConfig(conv_channels=4, hidden_dim=8))
    with pytest.raises(ValueError, match="would mean other transforms"):
        policy.check_transform_set(CropGrid(crop_size=20, stride=8, image_size=84))
    policy.check_transform_set(CropGrid(crop_size=20, stride=4, image_size=84))
    with pytest.raises(Exception, match="discrete transform set"):
        AugmentationPolicyConfig(transforms={"name": "jigsaw", "k": 2})
    AugmentationPolicyConfig(transforms=Rotations().to_dict(), image_size=84)  # other discrete sets plug in
    with pytest.raises(ValueError, match="84×84 images"):
        policy(torch.zeros(1, 1, 64, 64))
