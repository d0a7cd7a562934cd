"""Run by tests/test_resume.py in the legacy stack (TRL 0.11): a hand-written PPO loop, cut off
after its checkpoint and run again, against the same loop run through. Prints JSON."""

import json
import random
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import torch
from transformers import AutoTokenizer
from trl import AutoModelForCausalLMWithValueHead, PPOConfig, PPOTrainer

from helpers.resume import LoopCheckpoint
from helpers.tiny import build

torch.set_num_threads(1)
FOLDER = str(build("tiny-gpt2"))
PROMPTS = ["The ship", "Once upon a time", "The detective"]


def run(path: Path, settings: SimpleNamespace, disconnect_after: int | None = None) -> dict:
    torch.manual_seed(0)  # as a fresh kernel's seed_everything: the value head's initialisation
    model = AutoModelForCausalLMWithValueHead.from_pretrained(FOLDER)
    tokenizer = AutoTokenizer.from_pretrained(FOLDER)
    tokenizer.pad_token = tokenizer.eos_token
    config = PPOConfig(
        batch_size=4, mini_batch_size=2, learning_rate=settings.learning_rate, seed=0, log_with=None
    )
    trainer = PPOTrainer(config, model, None, tokenizer)  # seeds torch: a fresh kernel's state
    rng = random.Random(0)
    checkpoint = LoopCheckpoint(path, trainer, at=2, rng=rng, settings=settings)
    history = []
    start = checkpoint.resume(history)
    for step in range(start, settings.steps):
        queries = [
            tokenizer(rng.choice(PROMPTS), return_tensors="pt").input_ids[0] for _ in range(4)
        ]
        responses = trainer.generate(queries, return_prompt=False, do_sample=True, top_k=0,
                                     min_length=-1, max_new_tokens=4, pad_token_id=0)  # fmt: skip
        scores = [torch.tensor(float(len(set(r.tolist())))) for r in responses]
        stats = trainer.step(queries, responses, scores)
        kl, kl_coef = float(stats["objective/kl"]), float(stats["objective/kl_coef"])
        tokens = [r.tolist() for r in responses]
        history.append({"step": step, "tokens": tokens, "kl": kl, "kl_coef": kl_coef})
        checkpoint.save(step, history)
        if step == disconnect_after:
            return {"history": history, "saved": path.exists()}
    weights = sum(float(p.double().abs().sum()) for p in model.parameters())
    return {
        "history": history,
        "weights": weights,
        "start": start,
        "deleted": checkpoint.finish() > 0,
    }


with tempfile.TemporaryDirectory() as folder:
    settings = SimpleNamespace(steps=5, learning_rate=1e-3)
    through = run(Path(folder, "through.pt"), settings)
    cut = run(Path(folder, "cut.pt"), settings, disconnect_after=3)
    resumed = run(Path(folder, "cut.pt"), settings)
    other = run(Path(folder, "other.pt"), settings, disconnect_after=3)
    changed = run(Path(folder, "other.pt"), SimpleNamespace(steps=5, learning_rate=2e-3))
    left = sorted(p.name for p in Path(folder).iterdir())
json.dump({"through": through, "cut": cut, "resumed": resumed, "changed": changed, "left": left},
          sys.stdout)  # fmt: skip
