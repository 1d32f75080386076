import datasets
import numpy as np
import pytest
import torch
from transformers import pipeline

import hf_nda  # noqa: F401
from hf_nda import COPGenNavigator, COPGenNavigatorConfig, NDAGenerator, NDAGeneratorConfig, NDAImageProcessor
from hf_nda.cli import main as cli_main
from hf_nda.data import generate_pairs, load_pair_dataset
from hf_nda.data.batches import PairSource
from hf_nda.modeling.generators import load_generator
from hf_nda.pipelines.positive_generation import block_seed


@pytest.fixture(scope="module")
def navigator_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("copgen")
    torch.manual_seed(0)
    NDAGenerator(NDAGeneratorConfig(latent_dim=16, base_channels=8, image_size=28)).save_pretrained(root / "gen")
    adapter = load_generator(str(root / "gen"))
    COPGenNavigator(COPGenNavigatorConfig(latent_dim=16, positive="gaussian", sigma=0.5,
                                          generator=adapter.describe())).save_pretrained(root / "nav")
    return root / "nav"


def columns(ds):
    images = {c: np.stack([np.asarray(im) for im in ds[c]]) for c in ("anchor", "positive")}
    return {**images, **{c: np.asarray(ds[c]) for c in ("z", "z_positive", "seed")}}


def same(a, b):
    return all(np.array_equal(a[c], b[c]) for c in a)


def test_same_seed_gives_an_identical_sharded_dataset(navigator_dir, tmp_path):
    a = generate_pairs(str(navigator_dir), 10, tmp_path / "a", seed=1, batch_size=4, num_shards=2, device="cpu",
                       progress=False)
    b = generate_pairs(str(navigator_dir), 10, tmp_path / "b", seed=1, batch_size=4, device="cpu", progress=False)
    c = generate_pairs(str(navigator_dir), 10, seed=2, batch_size=4, device="cpu", progress=False)  # in memory
    assert a.column_names == ["anchor", "positive", "z", "z_positive", "seed"] and len(a) == 10
    assert isinstance(a.features["anchor"], datasets.Image) and a[0]["anchor"].size == (28, 28)
    assert sorted(p.name for p in (tmp_path / "a").glob("*.arrow")) == ["data-00000-of-00002.arrow",
                                                                         "data-00001-of-00002.arrow"]
    assert same(columns(a), columns(b)) and same(columns(a), columns(load_pair_dataset(tmp_path / "a")))
    assert not np.array_equal(columns(a)["anchor"], columns(c)["anchor"])
    assert a["seed"] == [1] * 4 + [block_seed(1, 1)] * 4 + [block_seed(1, 2)] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary folders left


def test_rows_equal_the_pipeline_under_the_same_seed(navigator_dir):
    ds = generate_pairs(str(navigator_dir), 7, seed=3, batch_size=3, device="cpu", progress=False)
    pipe = pipeline("positive-generation", model=str(navigator_dir))
    out = pipe(7, seed=3, batch_size=3, return_latents=True)
    assert np.array_equal(columns(ds)["positive"], np.stack([np.asarray(r["positive"]) for r in out]))
    assert np.allclose(columns(ds)["z_positive"], torch.stack([r["positive_latent"] for r in out]).numpy())
    again = pipe(3, seed=ds[4]["seed"], batch_size=3)  # any row's batch, made again from its seed column
    assert np.array_equal(np.asarray(again[1]["anchor"]), np.asarray(ds[4]["anchor"]))


def test_pair_source_reads_the_dataset(navigator_dir):
    ds = generate_pairs(str(navigator_dir), 5, seed=0, batch_size=8, device="cpu", progress=False)
    proc = NDAImageProcessor(size={"height": 28, "width": 28}, num_channels=1)
    source = PairSource.from_dataset(ds, proc, anchor_column="anchor", positive_column="positive")
    out = pipeline("positive-generation", model=str(navigator_dir))(5, seed=0, batch_size=8)
    for tensor, key in zip(source.tensors, ("anchor", "positive")):
        assert torch.equal(tensor, proc([r[key] for r in out], return_tensors="pt").pixel_values)
    anchors, positives = source.bind(batch_size=4, seed=0).batch(0)
    assert anchors.shape == positives.shape == (4, 1, 28, 28)


def test_existing_output_is_kept_and_a_failed_run_leaves_nothing(navigator_dir, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(ValueError, match="overwrite=True"):
        generate_pairs(str(navigator_dir), 2, tmp_path / "taken", device="cpu", progress=False)
    nav = COPGenNavigator.from_pretrained(str(navigator_dir))
    adapter = load_generator(**nav.config.generator)
    calls = []

    def failing_decode(z, **kwargs):
        calls.append(len(z))
        if len(calls) > 2:
            raise RuntimeError("decoder died")
        return type(adapter).decode(adapter, z, **kwargs)

    adapter.decode = failing_decode
    with pytest.raises(RuntimeError, match="decoder died"):
        generate_pairs(nav, 6, tmp_path / "new", batch_size=2, image_generator=adapter, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    generate_pairs(str(navigator_dir), 2, tmp_path / "taken", overwrite=True, device="cpu", progress=False)
    assert len(load_pair_dataset(tmp_path / "taken")) == 2


def test_push_to_hub_goes_through_datasets(navigator_dir, monkeypatch):
    pushed = []
    monkeypatch.setattr(datasets.Dataset, "push_to_hub",
                        lambda self, repo_id, **kw: pushed.append((repo_id, len(self))))
    generate_pairs(str(navigator_dir), 3, push_to_hub="me/pairs", device="cpu", progress=False)
    assert pushed == [("me/pairs", 3)]


def test_cli_writes_the_dataset_and_says_where(navigator_dir, tmp_path, capsys):
    out = tmp_path / "pairs"
    assert cli_main(["generate-pairs", "--navigator", str(navigator_dir), "--num_pairs", "5", "--output_dir", str(out),
                     "--batch_size", "2", "--seed", "4", "--device", "cpu"]) == 0
    assert f"wrote 5 pairs to {out}" in capsys.readouterr().out
    assert load_pair_dataset(out)["seed"][0] == 4


def test_load_pair_dataset_rejects_other_datasets(tmp_path):
    datasets.Dataset.from_dict({"image": [0, 1]}).save_to_disk(str(tmp_path / "other"))
    with pytest.raises(ValueError, match="not a pair dataset"):
        load_pair_dataset(tmp_path / "other")
