"""``python -m training.squad``: fine-tune the LLM on SQuAD and publish a new version.

Progress is a tqdm bar; the metrics (eval loss, EM/F1 on held-out articles, tokens/s) and the
new version id are printed at the end, and the loss plot lies in the version's folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging

from tqdm import tqdm

from shared.config import get_settings
from shared.model_store import ModelStore
from training.cli import command_name, user_errors_exit
from training.squad.loop import FinetuneConfig, finetune

CHOICES = {"dataset": ["squad"], "source": ["local", "hub"]}


@user_errors_exit
def main() -> None:
    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for field in dataclasses.fields(FinetuneConfig):
        flag = "--" + field.name.replace("_", "-")
        if field.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default)
        else:
            kind = {"int": int, "float": float}.get(str(field.type), str)
            parser.add_argument(flag, type=kind, default=field.default, choices=CHOICES.get(field.name))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = FinetuneConfig(**vars(args))
    except ValueError as error:
        parser.error(str(error))
    with tqdm(total=config.max_steps, desc="squad") as bar:

        def show(progress: dict) -> None:
            if progress["phase"] == "train":
                bar.update(progress["step"] - bar.n)
                within = progress.get("batch_in_step")  # a step of several batches, under way
                batch = {"batch": f"{within}/{progress['batches_per_step']}"} if within else {}
                bar.set_postfix(loss=progress["loss"], tok_s=progress["tokens_per_s"], **batch)
            else:
                bar.set_description(
                    "squad (publishing)" if progress["phase"] == "publish" else "squad (evaluating)"
                )

        version = finetune(ModelStore(get_settings().model_dir), config, progress=show)
    print(json.dumps({"version": version.version, "metrics": version.metadata["metrics"]}, indent=2))


if __name__ == "__main__":
    main()
