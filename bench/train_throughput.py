"""Training throughput: the project's SQuAD loop against a baseline ``Trainer``, same data, same model.

The baseline is configured as the original course material did: fp32, every example padded to
384 tokens (``padding="max_length"``), batch 8. The project's loop groups examples of similar
length and pads each batch only to its longest example, uses fused AdamW, bf16 autocast where
the hardware runs it natively (a recent GPU, a CPU with AVX512-BF16; ``--fp32`` turns it off)
and (``--compile``) torch.compile.
Both count real (non-pad) tokens per second. The model is randomly initialised (throughput
only): a small GPT-2 configuration on the CPU, GPT-2 124M on a CUDA GPU. The tokenizer is the
served LLM's (MODEL_DIR), so no download is needed.

    python -m bench.train_throughput --steps 20
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
from torch.utils.data import DataLoader
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

from shared.config import get_settings
from shared.model_registry import ModelName
from shared.model_store import ModelStore
from training.cli import command_name
from training.device import get_device, uses_bf16
from training.length_grouping import length_grouped_batches
from training.squad.data import load_squad
from training.squad.features import Encoder, collate, prompt_text
from training.squad.loop import FinetuneConfig, new_optimizer, optimizer_step

MAX_LENGTH = 384
BASELINE_BATCH = 8


def model_config(vocab_size: int, cuda: bool) -> GPT2Config:
    if cuda:
        return GPT2Config(vocab_size=vocab_size, n_positions=1024)  # GPT-2 124M
    return GPT2Config(vocab_size=vocab_size, n_positions=512, n_embd=256, n_layer=4, n_head=4)


def fresh_model(vocab_size: int, device: torch.device) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    return GPT2LMHeadModel(model_config(vocab_size, device.type == "cuda")).to(device)


def project_loop(
    tokenizer,
    examples,
    steps: int,
    batch_size: int,
    device: torch.device,
    compile_model: bool,
    mixed_precision: bool,
) -> float:
    encoder = Encoder(tokenizer, MAX_LENGTH)
    features = [encoder.encode(example) for example in examples]
    lengths = [len(f["input_ids"]) for f in features]
    loader = DataLoader(
        features,  # type: ignore[arg-type]
        batch_sampler=length_grouped_batches(lengths, batch_size, seed=0),
        collate_fn=collate(tokenizer.pad_token_id),
    )
    model = fresh_model(len(tokenizer), device)
    config = FinetuneConfig(
        max_steps=steps,
        batch_size=batch_size,
        learning_rate=5e-5,
        compile=compile_model,
        mixed_precision=mixed_precision,
    )
    optimizer, schedule = new_optimizer(model, config)
    forward = torch.compile(model) if compile_model else model
    batches = itertools.cycle(loader)
    optimizer_step(forward, model, batches, optimizer, schedule, config, device)  # warm-up (and compile)
    _sync(device)
    started, tokens = time.perf_counter(), 0
    for _ in range(steps):
        tokens += optimizer_step(forward, model, batches, optimizer, schedule, config, device)[1]
    _sync(device)
    return tokens / (time.perf_counter() - started)


class _CountingTrainer(Trainer):
    """Counts real tokens, and starts the clock at its second step: the first is its warm-up, as
    the project loop's is (the Trainer's setup and first step are not timed either)."""

    real_tokens = 0
    steps = 0
    timed_from: tuple[float, int] | None = None  # (perf_counter, real tokens) at the second step

    def training_step(self, model, inputs, *args, **kwargs):
        self.steps += 1
        if self.steps == 2:
            _sync(self.args.device)
            self.timed_from = (time.perf_counter(), self.real_tokens)
        self.real_tokens += int(inputs["attention_mask"].sum())
        return super().training_step(model, inputs, *args, **kwargs)


def baseline_trainer(tokenizer, examples, steps: int, device: torch.device, workdir: str) -> float:
    texts = [prompt_text(e["context"], e["question"]) + " " + e["answers"]["text"][0] for e in examples]
    encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=MAX_LENGTH)
    rows = [
        {"input_ids": ids, "attention_mask": mask, "labels": ids}
        for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"], strict=True)
    ]
    arguments = TrainingArguments(
        output_dir=workdir,
        per_device_train_batch_size=BASELINE_BATCH,
        max_steps=steps + 1,
        learning_rate=5e-5,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        use_cpu=device.type != "cuda",
        dataloader_num_workers=0,
    )
    trainer = _CountingTrainer(model=fresh_model(len(tokenizer), device), args=arguments, train_dataset=rows)
    trainer.train()
    _sync(device)
    assert trainer.timed_from is not None, "the Trainer ran fewer than two steps"
    started, tokens_before = trainer.timed_from
    return (trainer.real_tokens - tokens_before) / (time.perf_counter() - started)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(
        prog=command_name(__spec__), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8, help="the project loop's batch size")
    parser.add_argument("--compile", action="store_true", help="torch.compile the project's model")
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast in the project's loop")
    parser.add_argument("--tokenizer", help="a directory with a tokenizer (default: the served LLM's)")
    args = parser.parse_args()
    device = get_device()
    served = ModelStore(get_settings().model_dir).served_version(ModelName.LLM)
    if args.tokenizer is None and served is None:
        parser.error("no LLM in MODEL_DIR to take the tokenizer from: run `make models` or pass --tokenizer")
    source = args.tokenizer or served.path  # type: ignore[union-attr]
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    needed = (args.steps + 2) * max(args.batch_size, BASELINE_BATCH)
    examples = list(load_squad().train.shuffle(seed=0).select(range(needed)))

    ours = project_loop(tokenizer, examples, args.steps, args.batch_size, device, args.compile, not args.fp32)
    with tempfile.TemporaryDirectory() as workdir:
        baseline = baseline_trainer(tokenizer, examples, args.steps, device, workdir)
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"device: {name}; model: {'GPT-2 124M' if cuda else 'small GPT-2 (4 layers, 256 wide)'}")
    extras = (", bf16" if uses_bf16(device, not args.fp32) else ", fp32") + ", fused AdamW"
    print(f"project loop (dynamic padding{extras}): {ours:12,.0f} real tokens/s")
    print(f"baseline Trainer (fp32, max_length 384, batch 8):        {baseline:12,.0f} real tokens/s")
    print(f"ratio: {ours / baseline:.2f}x")


if __name__ == "__main__":
    main()
