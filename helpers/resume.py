"""Resume a hand-written PPO loop (notebooks 01 and 03: TRL 0.11's ``PPOTrainer.step`` called by
the notebook) after a disconnect.

The modern notebooks resume through transformers' own checkpoints (``helpers.env``'s
``halfway_save_steps``). A loop of its own keeps one checkpoint of its own, at one step: the
weights that train (and whether dropout is on), Adam's moments, the KL coefficient, the loop's
history so far and every random stream (the loop's, Python's, NumPy's, torch's). Rerun the notebook
after a disconnect and the loop starts after that step, on the same random streams, so it goes on
as the run without a disconnect would have (tests/test_resume.py). The earlier cells run again
(their training is replaced by the checkpoint's); the checkpoint is deleted when the loop ends.

    checkpoint = LoopCheckpoint(output_dir / "ppo_checkpoint.pt", ppo_trainer, at=50, rng=rng,
                                settings=settings)
    start = checkpoint.resume(history)        # 1, or the step after the saved one
    for step in range(start, steps):
        ...
        checkpoint.save(step, history)        # writes at step ``at`` only
    checkpoint.finish()
"""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

GB = 1024**3


class LoopCheckpoint:
    def __init__(
        self, path: str | Path, trainer, at: int, rng: random.Random, settings: SimpleNamespace
    ):
        """``trainer``: a TRL 0.11 PPOTrainer; ``at``: the step after which to save; ``rng``: the
        loop's own random stream (its prompts); ``settings``: the run's settings, so that a
        checkpoint of other settings (or of another seed) is not resumed."""
        self.path, self.trainer, self.at, self.rng = Path(path), trainer, at, rng
        self.settings = {key: repr(value) for key, value in sorted(vars(settings).items())}
        self.settings["seed"] = repr(
            torch.initial_seed()
        )  # the notebook's seed, as seed_everything set it

    def resume(self, history: list) -> int:
        """The first step to run: 1, or the step after the saved one (``history`` then holds the
        saved run's steps)."""
        if not self.path.exists():
            return 1
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        if state["settings"] != self.settings:
            print(f"{self.path} holds a run of other settings: starting afresh.")
            self.path.unlink()
            return 1
        parameters = dict(self.trainer.model.named_parameters())
        with torch.no_grad():
            for name, value in state["weights"].items():
                parameters[name].copy_(value)
        self.trainer.model.train(state["training"])  # dropout on or off while sampling, as then
        self.trainer.optimizer.load_state_dict(state["optimizer"])
        self.trainer.kl_ctl.value = state["kl_coef"]
        self.rng.setstate(state["rng"])
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])  # PPOTrainer.step shuffles its mini-batches with it
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        history[:] = state["history"]
        print(f"Resuming after step {state['step']}, from {self.path}.")
        return state["step"] + 1

    def save(self, step: int, history: list) -> None:
        """After step ``at``, write the checkpoint whole (a disconnect mid-write leaves none)."""
        if step != self.at:
            return
        model = self.trainer.model
        state = {
            "step": step,
            "settings": self.settings,
            "weights": {
                n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad
            },
            "training": model.training,
            "optimizer": self.trainer.optimizer.state_dict(),
            "kl_coef": float(self.trainer.kl_ctl.value),
            "rng": self.rng.getstate(),
            "python_rng": random.getstate(),
            "numpy_rng": np.random.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "history": list(history),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        torch.save(state, partial)
        partial.replace(self.path)

    def finish(self) -> float:
        """Delete the checkpoint once the loop is over; its size in GB (on Google Drive a deleted
        file sits in the Trash, against the quota, until the Trash is emptied)."""
        if not self.path.exists():
            return 0.0
        size = self.path.stat().st_size / GB
        self.path.unlink()
        return size
