from pathlib import Path

import pytest

from hf_nda.trainers.arguments import parse_args
from hf_nda.trainers.gan import NDAGANTrainingArguments
from hf_nda.trainers.moco import NDAMoCoTrainingArguments

RECIPES = Path(__file__).parents[2] / "hf_nda" / "recipes"


@pytest.mark.parametrize("name, cls", [("nda_gan_fashion_mnist.yaml", NDAGANTrainingArguments),
                                       ("nda_gan_paper.yaml", NDAGANTrainingArguments),
                                       ("nda_moco_fashion_mnist.yaml", NDAMoCoTrainingArguments)])
def test_recipes_parse_and_validate(name, cls):
    (args,) = parse_args(cls, [str(RECIPES / name)])
    args.validate()
    assert args.nda == ["jigsaw"] and args.output_dir.startswith("runs/")


def test_demo_recipe_matches_the_main_job():
    from hf_nda.demo import train_args

    (from_file,) = parse_args(NDAGANTrainingArguments, [str(RECIPES / "nda_gan_fashion_mnist.yaml")])
    (from_demo,) = parse_args(NDAGANTrainingArguments, train_args(Path(from_file.output_dir), "jigsaw", 1200, 0))
    assert from_file == from_demo


def test_copgen_recipe_parses_and_validates():
    from hf_nda.trainers.copgen import COPGenTrainingArguments

    (args,) = parse_args(COPGenTrainingArguments, [str(RECIPES / "copgen_fashion_mnist.yaml")])
    args.validate()
    assert args.generator == "outputs/demo/nda-gan" and args.constraint == "project" and args.center
