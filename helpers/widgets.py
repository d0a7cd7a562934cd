"""A playground: one prompt, completions from several checkpoints side by side, with their scores.

    playground = Playground({"base": base_folder, "PPO": policy_folder}, scorers={"P(scifi)": genre_reward})
    playground.panel()          # in a notebook: type a prompt or pick a problem, press "Generate"

Checkpoints are folders, hub ids (as a real profile names its models), or already loaded
``(model, tokenizer)`` pairs. Scorers follow TRL's
reward convention, ``f(completions, prompts=..., answer=...) -> list[float]``. With ``problems``
(GSM8K records) the panel offers them in a drop-down and grades each answer against the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


class Playground:
    def __init__(self, checkpoints: dict, scorers: dict | None = None, problems: list[dict] | None = None,
                 format_prompt: Callable[[str], str] | None = None, device: str = "cpu"):
        if not checkpoints:
            raise ValueError("Give the playground at least one checkpoint: {'name': folder or (model, tokenizer)}.")
        self.models = {name: self._load(value, device) for name, value in checkpoints.items()}
        self.scorers = scorers or {}
        self.problems = problems or []
        self.format_prompt = format_prompt or (lambda text: text)
        self.device = device

    @staticmethod
    def _load(value, device: str):
        if isinstance(value, (str, Path)):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from helpers.env import resolve_model

            looks_local = isinstance(value, Path) or str(value).startswith((".", "/", "~"))
            if looks_local and not (Path(value).expanduser() / "config.json").exists():
                raise FileNotFoundError(f"No checkpoint in {value}: run the notebook that saves it first.")
            path = resolve_model(str(value))  # a folder, or a hub id that is cached or reachable
            return AutoModelForCausalLM.from_pretrained(path).to(device).eval(), AutoTokenizer.from_pretrained(path)
        return value

    def compare(self, prompt: str, answer: str | None = None, temperature: float = 0.7, max_new_tokens: int = 48,
                seed: int = 0) -> list[dict]:
        """One completion per checkpoint for the same prompt, with every scorer's score (and the verdict)."""
        import torch

        from helpers.answers import is_correct

        text = self.format_prompt(prompt)
        rows = []
        sampling = dict(do_sample=True, temperature=temperature, top_k=0) if temperature > 0 else dict(do_sample=False)
        for name, (model, tokenizer) in self.models.items():
            inputs = tokenizer(text, return_tensors="pt").to(model.device)
            devices = [model.device.index or 0] if model.device.type == "cuda" else []
            was_training = model.training
            model.eval()  # no dropout, and the key/value cache even when gradient checkpointing is on
            with torch.no_grad(), torch.random.fork_rng(devices=devices):  # leave the notebook's random stream alone
                torch.manual_seed(seed)
                output = model.generate(**inputs, **sampling, max_new_tokens=max_new_tokens,
                                        pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
            model.train(was_training)
            completion = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            row = {"checkpoint": name, "completion": completion}
            for score_name, scorer in self.scorers.items():
                row[score_name] = round(float(scorer([completion], prompts=[prompt], answer=[answer])[0]), 3)
            if answer is not None:
                row["correct"] = "✓" if is_correct(completion, answer) else "✗"
            rows.append(row)
        return rows

    def panel(self):
        """The ipywidgets panel: prompt box (or problem picker), sliders, a button and the results table."""
        import ipywidgets as widgets

        from helpers.report import html_table

        prompt = widgets.Textarea(description="prompt", layout=widgets.Layout(width="95%"))
        picker = widgets.Dropdown(options=[("(type your own)", None)] + [
            (p["question"][:80], i) for i, p in enumerate(self.problems)], description="problem")
        temperature = widgets.FloatSlider(value=0.7, min=0.0, max=1.5, step=0.1, description="temperature")
        length = widgets.IntSlider(value=48, min=8, max=256, step=8, description="new tokens")
        seed = widgets.IntText(value=0, description="seed")
        button = widgets.Button(description="Generate", button_style="primary")
        results = widgets.HTML()

        def on_pick(change):
            if change["new"] is not None:
                prompt.value = self.problems[change["new"]]["question"]

        def on_generate(_):
            if not prompt.value.strip():
                results.value = "<p>Type a prompt, or pick a problem.</p>"
                return
            answer = self.problems[picker.value]["answer"] if picker.value is not None else None
            rows = self.compare(prompt.value, answer, temperature.value, length.value, seed.value)
            results.value = html_table(list(rows[0]), [list(row.values()) for row in rows])

        picker.observe(on_pick, names="value")
        button.on_click(on_generate)
        controls = [picker] if self.problems else []
        return widgets.VBox([*controls, prompt, widgets.HBox([temperature, length, seed]), button, results])
