"""Linear probe and kNN accuracy of frozen features — a contrastive encoder's, or an AMR
autoencoder's codes — (train split fits, held-out test split reports), and representation analysis: image-vs-NDA-view cosine distance (paper Fig. 9),
alignment and uniformity (Wang & Isola, 2020).

The linear probe is scikit-learn's multinomial logistic regression on standardised features (a
convex fit, so no probe-training hyper-parameters to tune); it is then folded into a
``ContrastiveEncoderForImageClassification`` (standardisation included), saved under
``classifier/`` so ``pipeline("image-classification")`` uses it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data import cached_pixel_values
from ..data.sources import load_image_dataset

logger = logging.getLogger(__name__)


@torch.no_grad()
def encode(model, images: torch.Tensor, batch_size: int = 256, field: str = "features") -> torch.Tensor:
    model.eval()
    device = next(model.parameters()).device
    if field == "features" and hasattr(model, "get_image_features"):  # AMR: skip decoding the reconstructions
        run = model.get_image_features
    else:
        def run(batch):
            return getattr(model(pixel_values=batch), field)
    return torch.cat([run(b.to(device)).float().cpu() for b in images.split(batch_size)])


def knn_accuracy(train_f, train_y, test_f, test_y, k: int = 20) -> float:
    """Majority vote of the k most cosine-similar training features."""
    a, b = F.normalize(train_f, dim=1), F.normalize(test_f, dim=1)
    votes = []
    for chunk in b.split(1024):
        idx = (chunk @ a.T).topk(k, dim=1).indices
        votes.append(torch.mode(train_y[idx], dim=1).values)
    return float((torch.cat(votes) == test_y).float().mean())


def fit_linear_probe(train_f, train_y, num_classes: int):
    """Logistic regression on standardised features, returned as (weight, bias) acting on raw features."""
    from sklearn.linear_model import LogisticRegression

    mean, std = train_f.mean(0), train_f.std(0).clamp_min(1e-6)
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(((train_f - mean) / std).numpy(), train_y.numpy())
    coef = torch.zeros(num_classes, train_f.shape[1])
    intercept = torch.full((num_classes,), -1e4)  # classes absent from the training labels
    coef[clf.classes_] = torch.from_numpy(clf.coef_).float()
    intercept[clf.classes_] = torch.from_numpy(clf.intercept_).float()
    weight = coef / std
    return weight, intercept - weight @ mean


def representation_metrics(model, images: torch.Tensor, nda: str = "jigsaw", seed: int = 0) -> dict:
    """Cosine distance image ↔ NDA view (projections), alignment of two positive views, uniformity."""
    from ..processing import MoCoV2Views, get_transform

    g = torch.Generator().manual_seed(seed)
    z = encode(model, images, field="projections")
    z_nda = encode(model, get_transform(nda)(images, generator=g), field="projections")
    views = MoCoV2Views()
    a = encode(model, views(images, generator=g), field="projections")
    b = encode(model, views(images, generator=g), field="projections")
    distance = 1 - (z * z_nda).sum(1)
    uniform = torch.pdist(z[:2000]).pow(2).mul(-2).exp().mean().log()
    return {"nda": nda, "nda_cosine_distances": distance.tolist(), "nda_cosine_distance_mean": float(distance.mean()),
            "alignment": float((a - b).norm(dim=1).pow(2).mean()), "uniformity": float(uniform)}


def linear_probe(model_path: str, dataset: str = "fashion_mnist", *, max_train: int | None = 10000,
                 max_test: int | None = None, knn_k: int = 20, output_dir: str | None = None,
                 data_dir: str | None = None, command: str | None = None) -> dict:
    """Probe the features of a contrastive encoder or an AMR autoencoder's codes (folder, run
    directory or repo id); writes ``probe_results.json`` next to the model when it is a local folder
    and, for a contrastive encoder, ``classifier/`` and ``nda_cosine_distance.png`` too."""
    import hf_nda  # noqa: F401
    from transformers import AutoImageProcessor, AutoModel

    from ..modeling import AMRAutoencoder, ContrastiveEncoder, CRLTACModel

    model = AutoModel.from_pretrained(model_path)
    if isinstance(model, CRLTACModel):  # f and h integrated over P(T|x) (hf_nda.evaluation.policy_maps)
        return _probe_crl_tac(model, model_path, dataset, max_train=max_train, max_test=max_test, knn_k=knn_k,
                              output_dir=output_dir, data_dir=data_dir, command=command)
    if not isinstance(model, (ContrastiveEncoder, AMRAutoencoder)):
        raise ValueError(f"{model_path} holds a {type(model).__name__}, which has no features to probe; "
                         "probe a ContrastiveEncoder (`hf-nda train moco`) or an AMRAutoencoder (`hf-nda train amr`)")
    processor = AutoImageProcessor.from_pretrained(model_path)
    train_x, train_y = cached_pixel_values(dataset, "train", processor, data_dir=data_dir)
    test_x, test_y = cached_pixel_values(dataset, "test", processor, data_dir=data_dir)
    train_x, train_y = train_x[:max_train], train_y[:max_train]
    test_x, test_y = test_x[:max_test], test_y[:max_test]
    train_f, test_f = encode(model, train_x), encode(model, test_x)
    names = load_image_dataset(dataset, "test", data_dir=data_dir).features["label"].names
    weight, bias = fit_linear_probe(train_f, train_y, len(names))
    linear_top1 = float(((test_f @ weight.T + bias).argmax(1) == test_y).float().mean())
    results = {"dataset": dataset, "num_train": len(train_x), "num_test": len(test_x), "linear_top1": linear_top1,
               "knn_k": knn_k, "knn_top1": knn_accuracy(train_f, train_y, test_f, test_y, knn_k),
               "command": command or f"hf-nda probe --model {model_path} --dataset {dataset}"}
    out = Path(output_dir) if output_dir else (Path(model_path) if Path(model_path).is_dir() else Path("probe"))
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(model, ContrastiveEncoder):
        representation = representation_metrics(model, test_x[:2000])
        results["representation"] = {k: v for k, v in representation.items() if k != "nda_cosine_distances"}
        save_probe_classifier(model, processor, weight, bias, names, out / "classifier")
        plot_cosine_distances({"this model": representation["nda_cosine_distances"]}, out / "nda_cosine_distance.png")
    (out / "probe_results.json").write_text(json.dumps(results, indent=2))
    if (out / "run_info.json").exists():
        from ..trainers import write_run_cards

        write_run_cards(out)
    return results


def _probe_crl_tac(model, model_path, dataset, *, max_train, max_test, knn_k, output_dir, data_dir, command) -> dict:
    """:func:`linear_probe` of a CRL-TAC model: ``linear_top1`` / ``knn_top1`` are f's (integrated
    over P(T|x)), ``*_h`` the normalised integrated projection's; plus digit mass and uniformity."""
    from transformers import AutoImageProcessor

    from .policy_maps import crl_tac_probe

    processor = AutoImageProcessor.from_pretrained(model_path)
    train_x, train_y = cached_pixel_values(dataset, "train", processor, data_dir=data_dir)
    test_x, test_y = cached_pixel_values(dataset, "test", processor, data_dir=data_dir)
    train_x, train_y, test_x, test_y = train_x[:max_train], train_y[:max_train], test_x[:max_test], test_y[:max_test]
    test_set = load_image_dataset(dataset, "test", data_dir=data_dir) if not Path(dataset).exists() else None
    names = test_set.features["label"].names if test_set is not None else [str(i) for i in range(int(train_y.max()) + 1)]
    positions = (torch.as_tensor(test_set["position"])[:len(test_x)]
                 if test_set is not None and "position" in test_set.column_names else None)
    found = crl_tac_probe(model, train_x, train_y, test_x, test_y, len(names), positions, knn_k)
    results = {"dataset": dataset, "num_train": len(train_x), "num_test": len(test_x),
               "linear_top1": found["linear_top1_f"], "knn_top1": found["knn_top1_f"], "knn_k": knn_k, **found,
               "command": command or f"hf-nda probe --model {model_path} --dataset {dataset}"}
    out = Path(output_dir) if output_dir else (Path(model_path) if Path(model_path).is_dir() else Path("probe"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe_results.json").write_text(json.dumps(results, indent=2))
    if (out / "run_info.json").exists():
        from ..trainers import write_run_cards

        write_run_cards(out)
    return results


def save_probe_classifier(model, processor, weight, bias, names, path: Path) -> None:
    """Fold the probe into a ``ContrastiveEncoderForImageClassification`` (for
    ``pipeline("image-classification")``) and save it."""
    from ..hub import save_pretrained_atomic
    from ..modeling import ContrastiveEncoderForImageClassification

    config = model.config.to_dict()
    config.update(num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    for key in ("ood_num_fitted", "ood_threshold", "ood_threshold_tpr", "model_type", "transformers_version"):
        config.pop(key, None)
    classifier = ContrastiveEncoderForImageClassification(type(model.config)(**config))
    classifier.backbone.load_state_dict(model.backbone.state_dict())
    classifier.classifier.weight.data, classifier.classifier.bias.data = weight, bias
    save_pretrained_atomic(classifier, path, processor)


def plot_cosine_distances(distances: dict[str, list], path: Path, nda: str = "jigsaw") -> None:
    """Histogram of the cosine distance between each image and its NDA view (paper Fig. 9)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in distances.items():
        ax.hist(np.asarray(values), bins=50, range=(0, 2), alpha=0.6, label=label)
    ax.set(xlabel=f"cosine distance: image vs its {nda} view (projection space)", ylabel="images")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
