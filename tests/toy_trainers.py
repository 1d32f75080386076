"""Two tiny trainers on the shared loop, for the loop's own tests: one drawing latents (no dataset)
through a frozen "pretrained" decoder, one drawing anchor/positive pairs. Run as a script under
``torch.distributed.run`` it trains the latent one and writes what each rank saw to OUT/rank-R.json.

    python tests/toy_trainers.py OUT_DIR
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from hf_nda.data.batches import LatentSource, PairSource
from hf_nda.trainers.arguments import BaseTrainingArguments
from hf_nda.trainers.base import BaseTrainer
from hf_nda.trainers.contrastive import nt_xent


@dataclass
class ToyArguments(BaseTrainingArguments):
    learning_rate: float = 0.05


class LatentToyTrainer(BaseTrainer):
    """Learns a map M so that a frozen decoder D gives D(M(z)) = target(z) = D(2z) for z ~ N(0, I)."""

    family = "toy-latent"
    arguments_class = ToyArguments

    def build(self):
        torch.manual_seed(1)
        self.source = LatentSource(latent_dim=4)
        mapper = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
        self.models = {"mapper": mapper}
        self.optimizers = {"mapper": torch.optim.Adam(mapper.parameters(), lr=self.args.learning_rate)}
        self.add_frozen("decoder", torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8)))

    def training_step(self, step, generator):
        (z,) = self.batch(step)
        decoder = self.frozen_models["decoder"]
        with torch.no_grad():
            target = decoder(2 * z)
        loss = self.backward_and_step("mapper", lambda _: F.mse_loss(decoder(self.models["mapper"](z)), target), [None])
        return {"loss": float(loss)}


class PairToyTrainer(BaseTrainer):
    """A linear encoder trained with NT-Xent on (image, noisy copy) pairs."""

    family = "toy-pairs"
    arguments_class = ToyArguments

    def build(self):
        torch.manual_seed(1)
        images = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
        noise = 0.8 * torch.randn(images.shape, generator=torch.Generator().manual_seed(1))
        self.source = PairSource(images, images + noise)
        encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16))
        self.models = {"encoder": encoder}
        self.optimizers = {"encoder": torch.optim.Adam(encoder.parameters(), lr=self.args.learning_rate)}

    def training_step(self, step, generator):
        anchors, positives = self.batch(step)
        encoder = self.models["encoder"]

        def loss_fn(_):
            return nt_xent(F.normalize(encoder(anchors), dim=1), F.normalize(encoder(positives), dim=1), 0.1)

        return {"loss": float(self.backward_and_step("encoder", loss_fn, [None]))}


def main(out_dir: str) -> None:
    args = ToyArguments(output_dir=out_dir, batch_size=16, max_steps=4, save_steps=2, report_to="none",
                        sample_steps=0, logging_steps=1)
    trainer = LatentToyTrainer(args, argv=[])
    trainer.train()
    decoder = trainer.frozen_models["decoder"]
    seen = {"mapper_type": type(trainer.models["mapper"]).__name__, "decoder_type": type(decoder).__name__,
            "decoder_training": decoder.training, "decoder_grads": [p.grad is not None for p in decoder.parameters()],
            "num_processes": trainer.accelerator.num_processes}
    rank = trainer.accelerator.process_index
    (Path(out_dir) / f"rank-{rank}.json").write_text(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
