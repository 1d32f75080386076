"""``hf-nda`` command line: one entry point, one sub-command per job.

Training sub-commands hand their remaining flags to the trainer's own HfArgumentParser, so
``hf-nda train gan --help`` shows exactly the flags of ``python -m hf_nda.trainers.gan``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path

from . import __version__


def _show_negatives(args):
    from .showcase import show_negatives

    path = show_negatives(args.dataset, args.output, n=args.n, transforms=args.transforms, seed=args.seed,
                          size=args.size, data_dir=args.data_dir)
    print(f"wrote {path}")


def _train(args, rest):
    import importlib

    from .trainers import TRAINER_MODULES

    return importlib.import_module(TRAINER_MODULES[args.family]).main(rest)


def _evaluate_ood(args):
    from .evaluation.report import evaluate_ood, markdown_table

    command = "hf-nda evaluate-ood " + shlex.join(sys.argv[2:]) if len(sys.argv) > 2 else None
    results = evaluate_ood(args.model, args.dataset, num_images=args.num_images, severity=args.severity,
                           other_datasets=args.other_datasets, output_dir=args.output_dir,
                           batch_size=args.batch_size, data_dir=args.data_dir, command=command,
                           fid_samples=args.fid_samples)
    print(markdown_table(results))
    if "fid_style" in results:
        print(f"FID-style distance (EfficientNet-Lite0 features, not Inception FID): {results['fid_style']['value']:.2f}")


def _probe(args):
    from .evaluation.probe import linear_probe

    command = "hf-nda probe " + shlex.join(sys.argv[2:]) if len(sys.argv) > 2 else None
    r = linear_probe(args.model, args.dataset, max_train=args.max_train, max_test=args.max_test, knn_k=args.knn_k,
                     output_dir=args.output_dir, data_dir=args.data_dir, command=command)
    line = (f"linear probe top-1 {r['linear_top1']:.4f}, kNN (k={r['knn_k']}) top-1 {r['knn_top1']:.4f} "
            f"({r['num_train']} train / {r['num_test']} test images)")
    if "representation" in r:  # contrastive encoders
        rep = r["representation"]
        line += f"; image-vs-{rep['nda']} cosine distance {rep['nda_cosine_distance_mean']:.3f}"
    print(line)


def _push(args):
    from .hub import push_run

    files = push_run(args.run_dir, args.repo_id, private=args.private, dry_run=args.dry_run)
    print(("would upload" if args.dry_run else "uploaded") + f" {len(files)} files to {args.repo_id}")
    if args.dry_run:
        print("\n".join(files))


def _generate_pairs(args):
    from .data.pairs import generate_pairs

    dataset = generate_pairs(args.navigator, args.num_pairs, args.output_dir, seed=args.seed,
                             image_generator=args.generator, batch_size=args.batch_size, num_shards=args.num_shards,
                             push_to_hub=args.push_to_hub, overwrite=args.overwrite, device=args.device)
    print(f"wrote {len(dataset)} pairs to {args.output_dir}" + (f" and pushed them to {args.push_to_hub}"
                                                                 if args.push_to_hub else ""))


def _zoo_list(args):
    from .hub import REFERENCE_FILE, read_results
    from .zoo import registry

    print(f"| name | family | what it is | key metric ({args.output_dir}) | repo id |\n|---|---|---|---|---|")
    for name, entry in registry().items():
        built = read_results(Path(args.output_dir) / name, REFERENCE_FILE)
        metric = built["metrics"][0] if built else None
        shown = f"{metric['name']}: {metric['value']:.4f}" if metric else f"{entry.metrics[0].name}: not built"
        print(f"| {name} | {entry.family} | {entry.summary} | {shown} | {entry.repo_id()} |")


def _zoo_build(args):
    from .zoo import build, registry

    names = list(registry()) if args.all else args.names
    if not names:
        raise ValueError("name the reference models to build (`hf-nda zoo list`) or pass --all")
    started, built = time.perf_counter(), {}
    for name in names:
        built[name] = build(name, args.output_dir, org=args.org, force=args.force)
    print("| name | metric | value |\n|---|---|---:|")
    for name, info in built.items():
        for metric in info["metrics"]:
            print(f"| {name} | {metric['name']} | {metric['value']:.4f} |")
    print(f"built {len(built)} reference models in {args.output_dir} in {time.perf_counter() - started:.0f} s")


def _zoo_publish(args):
    from .zoo import publish

    repo_id, files = publish(args.name, args.output_dir, org=args.org, private=args.private, dry_run=args.dry_run)
    print(("would upload" if args.dry_run else "uploaded") + f" {len(files)} files to {repo_id}")
    if args.dry_run:
        print("\n".join(files))


def _demo(args):
    from .demo import run_demo

    run_demo(args.output_dir, steps=args.steps, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    from .processing import NEGATIVE_NAMES

    parser = argparse.ArgumentParser(prog="hf-nda", description="Negative data augmentation for 🤗 models.")
    parser.add_argument("--version", action="version", version=f"hf-nda {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    show = sub.add_parser("show-negatives", help="write a PNG grid of real images and their negatives")
    show.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "mnist", "digits"])
    show.add_argument("--output", default="negatives.png")
    show.add_argument("--n", type=int, default=8, help="images per row")
    show.add_argument("--transforms", nargs="+", default=NEGATIVE_NAMES)
    show.add_argument("--size", type=int, default=32)
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--data_dir", default=None, help="folder with the raw dataset files (offline)")
    show.set_defaults(func=_show_negatives)

    from .trainers import TRAINER_MODULES

    train = sub.add_parser("train", help="train a model family (flags: hf-nda train FAMILY --help)", add_help=False)
    train.add_argument("family", choices=sorted(TRAINER_MODULES))
    train.set_defaults(func=_train, passthrough=True)

    ev = sub.add_parser("evaluate-ood", help="score a test split against the OOD suite; write table and plots")
    ev.add_argument("--model", required=True, help="model folder, run directory or Hub repo id")
    ev.add_argument("--dataset", default="fashion_mnist", help="in-distribution dataset (its test split)")
    ev.add_argument("--num_images", type=int, default=2000, help="in-distribution test images (and per OOD set)")
    ev.add_argument("--severity", type=int, default=5, choices=range(1, 6), help="corruption severity")
    ev.add_argument("--other_datasets", nargs="*", default=None, help="other datasets used as OOD sets")
    ev.add_argument("--batch_size", type=int, default=256)
    ev.add_argument("--fid_samples", type=int, default=1000, help="generated images for the FID-style distance (0: skip)")
    ev.add_argument("--output_dir", default=None, help="where to write reports (default: the model folder)")
    ev.add_argument("--data_dir", default=None)
    ev.set_defaults(func=_evaluate_ood)

    probe = sub.add_parser("probe", help="linear probe + kNN accuracy of encoder features (MoCo) or AMR codes, "
                                         "on a held-out test split")
    probe.add_argument("--model", required=True, help="encoder / autoencoder folder, run directory or Hub repo id")
    probe.add_argument("--dataset", default="fashion_mnist")
    probe.add_argument("--max_train", type=int, default=10000, help="training images the probe is fitted on")
    probe.add_argument("--max_test", type=int, default=None)
    probe.add_argument("--knn_k", type=int, default=20)
    probe.add_argument("--output_dir", default=None)
    probe.add_argument("--data_dir", default=None)
    probe.set_defaults(func=_probe)

    push = sub.add_parser("push", help="upload a run directory (all models + card) to the Hub")
    push.add_argument("run_dir")
    push.add_argument("repo_id")
    push.add_argument("--private", action="store_true")
    push.add_argument("--dry_run", action="store_true", help="list the files without uploading")
    push.set_defaults(func=_push)

    pairs = sub.add_parser("generate-pairs", help="write a dataset of anchor/positive pairs from a COP-Gen navigator")
    pairs.add_argument("--navigator", required=True, help="COP-Gen run directory, navigator folder or Hub repo id")
    pairs.add_argument("--generator", default=None, help="load the navigator's generator from this folder or repo id "
                       "(default: the one its config names)")
    pairs.add_argument("--num_pairs", type=int, required=True)
    pairs.add_argument("--output_dir", required=True, help="where the dataset is written (save_to_disk)")
    pairs.add_argument("--seed", type=int, default=0, help="same seed and batch size, same dataset")
    pairs.add_argument("--batch_size", type=int, default=256)
    pairs.add_argument("--num_shards", type=int, default=None, help="default: shards of at most 500MB")
    pairs.add_argument("--push_to_hub", default=None, metavar="REPO_ID", help="also upload the dataset to this repo")
    pairs.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --output_dir")
    pairs.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    pairs.set_defaults(func=_generate_pairs)

    zoo = sub.add_parser("zoo", help="reference checkpoints: list, build (train + evaluate), publish to the Hub")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", required=True)
    listing = zoo_sub.add_parser("list", help="the reference models, what each is for, their metrics once built")
    listing.add_argument("--output_dir", default="outputs/zoo", help="where built models are looked for")
    listing.set_defaults(func=_zoo_list)
    build = zoo_sub.add_parser("build", help="train (resumable), evaluate and write a Hub-ready folder per model")
    build.add_argument("names", nargs="*", metavar="NAME")
    build.add_argument("--all", action="store_true", help="every model of the registry")
    build.add_argument("--output_dir", default="outputs/zoo", help="models are built into OUTPUT_DIR/NAME")
    build.add_argument("--org", default=None, help="the Hub organisation the cards and configs name (default: hf-nda)")
    build.add_argument("--force", action="store_true", help="rebuild a finished model (training still resumes)")
    build.set_defaults(func=_zoo_build)
    publish = zoo_sub.add_parser("publish", help="upload a built model to ORG/NAME with huggingface_hub")
    publish.add_argument("name", metavar="NAME")
    publish.add_argument("--org", default=None, help="must be the organisation it was built for (default: hf-nda)")
    publish.add_argument("--output_dir", default="outputs/zoo")
    publish.add_argument("--private", action="store_true")
    publish.add_argument("--dry_run", action="store_true", help="list the files without uploading")
    publish.set_defaults(func=_zoo_publish)

    demo = sub.add_parser("demo", help="the main job: plain GAN vs NDA-GAN on Fashion-MNIST, OOD table, plots")
    demo.add_argument("--output_dir", default="outputs/demo")
    demo.add_argument("--steps", type=int, default=1200)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def _quiet_libraries() -> None:
    """A command shows its own progress bar and summary: hf_nda's INFO lines, the libraries' warnings
    only — not a "Loading weights" / "Saving the dataset" bar for every model and cache file."""
    import datasets
    from transformers.utils import logging as transformers_logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("hf_nda").setLevel(logging.INFO)
    transformers_logging.disable_progress_bar()
    datasets.disable_progress_bars()


def main(argv=None) -> int:
    _quiet_libraries()
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if getattr(args, "passthrough", False):  # training: the trainer's own parser and errors
        return args.func(args, rest) or 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        args.func(args)
    except (ValueError, TypeError, OSError) as error:  # a bad argument or input: its message, not a traceback
        parser.exit(2, f"hf-nda {args.command}: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
