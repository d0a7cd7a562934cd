"""What a notebook shows beside its lesson: the settings it talks about (``show_settings``, the
rest folded away), and a playground: one prompt, completions from several checkpoints side by side,
with their scores.

    folders = {"base": base_folder, "PPO": policy_folder}
    playground = Playground(folders, scorers={"P(scifi)": genre_reward})
    playground.show("The ship")  # one comparison, then the panel: type a prompt or pick a problem

Checkpoints are folders, hub ids (as a real profile names its models), or already loaded ``(model,
tokenizer)`` pairs. Scorers follow TRL's reward convention, ``f(completions, prompts=...,
answer=...) -> list[float]``. With ``problems`` (GSM8K records) the panel offers them in a drop-down
and grades each answer against the reference.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from helpers.answers import is_correct
from helpers.env import headless
from helpers.models import resolve_model


def html_table(headers: list[str], rows: list[list]) -> str:
    """The playground's results as an HTML table, every cell escaped, numbers right-aligned."""

    def cell(value) -> str:
        if isinstance(value, float):
            return f'<td style="text-align: right">{value:.3g}</td>'
        return f"<td>{html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class SettingsTable:
    """The settings a lesson talks about, in a table; every other setting one click away."""

    def __init__(self, settings, keys: tuple[str, ...]):
        values = vars(settings)
        missing = [key for key in keys if key not in values]
        if missing:
            raise KeyError(f"No setting {missing} in this profile; it has {sorted(values)}.")
        self.shown = {key: values[key] for key in keys}
        self.rest = {key: value for key, value in values.items() if key not in self.shown}

    def _repr_html_(self) -> str:
        rest = html_table(["setting", "value"], [[k, v] for k, v in self.rest.items()])
        return (
            html_table(["setting", "value"], [[k, v] for k, v in self.shown.items()])
            + f"<details><summary>the other {len(self.rest)} settings</summary>{rest}</details>"
        )

    def __repr__(self) -> str:
        width = max(map(len, self.shown), default=0)
        lines = [f"{key:<{width}}  {value}" for key, value in self.shown.items()]
        return "\n".join([*lines, f"(and {len(self.rest)} more: {', '.join(self.rest)})"])


def show_settings(settings, *keys: str) -> SettingsTable:
    """The settings a lesson talks about (``keys``), the rest folded away: ``show_settings(settings,
    "learning_rate", "beta")`` as a cell's last line."""
    return SettingsTable(settings, keys)


class Playground:
    def __init__(
        self,
        checkpoints: dict,
        scorers: dict | None = None,
        problems: list[dict] | None = None,
        format_prompt: Callable[[str], str] | None = None,
        device: str = "cpu",
        dtype=None,
    ):
        """`dtype`: what a checkpoint given as a folder is loaded in (fp32 by default; transformers
        5 would otherwise pick the saved dtype, bf16 on a T4 where the trained policy computes in
        fp16)."""
        if not checkpoints:
            raise ValueError(
                "Give the playground at least one checkpoint: {'name': folder or (model, "
                "tokenizer)}."
            )
        self.models = {
            name: self._load(value, device, dtype) for name, value in checkpoints.items()
        }
        self.scorers = scorers or {}
        self.problems = problems or []
        self.format_prompt = format_prompt or (lambda text: text)
        self.device = device

    @staticmethod
    def _load(value, device: str, dtype=None):
        if isinstance(value, (str, Path)):
            import torch
            import transformers
            from transformers import AutoModelForCausalLM, AutoTokenizer

            looks_local = isinstance(value, Path) or str(value).startswith((".", "/", "~"))
            if looks_local and not (Path(value).expanduser() / "config.json").exists():
                raise FileNotFoundError(
                    f"No checkpoint in {value}: run the notebook that saves it first."
                )
            path = resolve_model(str(value))  # a folder, or a hub id that is cached or reachable
            dtype_key = (
                "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
            )
            model = AutoModelForCausalLM.from_pretrained(
                path, **{dtype_key: dtype or torch.float32}
            )
            return model.to(device).eval(), AutoTokenizer.from_pretrained(path)
        return value

    def compare(
        self,
        prompt: str,
        answer: str | None = None,
        temperature: float = 0.7,
        max_new_tokens: int = 48,
        seed: int = 0,
    ) -> list[dict]:
        """One completion per checkpoint for the same prompt, with every scorer's score (and the
        verdict)."""
        import torch

        text = self.format_prompt(prompt)
        rows = []
        sampling = (
            dict(do_sample=True, temperature=temperature, top_k=0)
            if temperature > 0
            else dict(do_sample=False)
        )
        for name, (model, tokenizer) in self.models.items():
            inputs = tokenizer(text, return_tensors="pt").to(model.device)
            devices = [model.device.index or 0] if model.device.type == "cuda" else []
            was_training = model.training
            # no dropout, and the key/value cache even when gradient checkpointing is on
            model.eval()
            with (
                torch.no_grad(),
                torch.random.fork_rng(devices=devices),
            ):  # leave the notebook's random stream alone
                torch.manual_seed(seed)
                output = model.generate(
                    **inputs,
                    **sampling,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                )
            model.train(was_training)
            completion = tokenizer.decode(
                output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True
            )
            row = {"checkpoint": name, "completion": completion}
            for score_name, scorer in self.scorers.items():
                row[score_name] = round(
                    float(scorer([completion], prompts=[prompt], answer=[answer])[0]), 3
                )
            if answer is not None:
                row["correct"] = "✓" if is_correct(completion, answer) else "✗"
            rows.append(row)
        return rows

    def show(self, prompt: str, answer: str | None = None, **generation):
        """One comparison as a table (``compare``'s arguments), then the panel to try your own."""
        from IPython.display import HTML, display

        rows = self.compare(prompt, answer, **generation)
        display(HTML(html_table(list(rows[0]), [list(row.values()) for row in rows])))
        return self.panel()

    def panel(self):
        """The ipywidgets panel: prompt box (or problem picker), sliders, a button and the results
        table."""
        import ipywidgets as widgets

        prompt = widgets.Textarea(description="prompt", layout=widgets.Layout(width="95%"))
        picker = widgets.Dropdown(
            options=[("(type your own)", None)]
            + [(p["question"][:80], i) for i, p in enumerate(self.problems)],
            description="problem",
        )
        temperature = widgets.FloatSlider(
            value=0.7, min=0.0, max=1.5, step=0.1, description="temperature"
        )
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
        return widgets.VBox(
            [*controls, prompt, widgets.HBox([temperature, length, seed]), button, results]
        )


class PreferencePanel:
    """Label preference pairs yourself (notebook 06): two completions of one prompt, click the
    better one.

    ``labelled()`` returns your choices as preference rows (``prompt``, ``chosen``, ``rejected``),
    with ``gold_margin`` (the gold scorer's chosen minus rejected) and ``flipped`` (you disagreed
    with it)."""

    def __init__(self, pairs: list[dict], gold: Callable[[list[str]], list[float]], seed: int = 0):
        import random

        rng = random.Random(seed)
        # shown in a random order, so that "A" is not always the annotator's choice
        self.pairs = [
            (
                p["prompt"],
                *(
                    (p["chosen"], p["rejected"])
                    if rng.random() < 0.5
                    else (p["rejected"], p["chosen"])
                ),
            )
            for p in pairs
        ]
        self.gold = gold
        self.choices: list[tuple[str, str, str]] = []  # (prompt, chosen, rejected)

    def choose(self, index: int, first_wins: bool) -> None:
        """Record that the first (or the second) completion of pair `index` is the better one."""
        prompt, a, b = self.pairs[index]
        self.choices.append((prompt, a, b) if first_wins else (prompt, b, a))

    def labelled(self) -> list[dict]:
        if not self.choices:
            return []
        chosen = self.gold([p + c for p, c, _ in self.choices])
        rejected = self.gold([p + r for p, _, r in self.choices])
        return [
            {"prompt": p, "chosen": c, "rejected": r, "gold_margin": gc - gr, "flipped": gc < gr}
            for (p, c, r), gc, gr in zip(self.choices, chosen, rejected)
        ]

    def panel(self):
        """The ipywidgets panel: one pair at a time, two buttons; at the end, how often you agreed
        with gold."""
        import html

        import ipywidgets as widgets

        shown = widgets.HTML()
        first, second = (
            widgets.Button(description="A is better"),
            widgets.Button(description="B is better"),
        )

        def show():
            index = len(self.choices)
            if index == len(self.pairs):
                rows = self.labelled()
                agreed = sum(not r["flipped"] for r in rows)
                shown.value = (
                    f"<p>Done: {len(rows)} pairs labelled. You agreed with the gold "
                    f"scorer on {agreed} of {len(rows)}. Run the next cell to add them to "
                    "the data.</p>"
                )
                first.disabled = second.disabled = True
                return
            prompt, a, b = self.pairs[index]
            shown.value = (
                f"<p>Pair {index + 1} of {len(self.pairs)}. Which continuation of "
                f"<b>{html.escape(prompt)}</b> is better?</p><p><b>A</b>: {html.escape(a)}</p>"
                f"<p><b>B</b>: {html.escape(b)}</p>"
            )

        first.on_click(lambda _: (self.choose(len(self.choices), True), show()))
        second.on_click(lambda _: (self.choose(len(self.choices), False), show()))
        show()
        return widgets.VBox([shown, widgets.HBox([first, second])])


def preference_panel(
    pairs: list[dict], gold: Callable[[list[str]], list[float]], seed: int = 0
) -> PreferencePanel:
    """Show the labelling panel in Jupyter; in a headless run (``helpers.env.headless()``) say so
    and show nothing."""
    labeller = PreferencePanel(pairs, gold, seed)
    if headless():
        print(
            "(headless run: the labelling panel is skipped; in Jupyter you label "
            f"{len(pairs)} pairs here)"
        )
    else:
        from IPython.display import display

        display(labeller.panel())
    return labeller
