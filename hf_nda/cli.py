"""``hf-nda`` command line: one entry point, one sub-command per job.

Training sub-commands hand their remaining flags to the trainer's own HfArgumentParser, so
``hf-nda train gan --help`` shows exactly the flags of ``python -m hf_nda.trainers.gan``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__

TRAINERS = {}  # family name -> module path with a main(argv) function; filled as families land


def _show_negatives(args):
    from .showcase import show_negatives

    path = show_negatives(args.dataset, args.output, n=args.n, transforms=args.transforms, seed=args.seed,
                          size=args.size, data_dir=args.data_dir)
    print(f"wrote {path}")


def _train(args, rest):
    import importlib

    module = importlib.import_module(TRAINERS[args.family])
    return module.main(rest)


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

    if TRAINERS:
        train = sub.add_parser("train", help="train a model family (flags: hf-nda train FAMILY --help)",
                               add_help=False)
        train.add_argument("family", choices=sorted(TRAINERS))
        train.set_defaults(func=_train, passthrough=True)
    return parser


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if getattr(args, "passthrough", False):
        return args.func(args, rest) or 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
