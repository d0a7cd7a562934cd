"""Run by either stack's Python: build (or reuse) every tiny model in a cache folder, load it the
way notebooks do, and print JSON the tests compare across stacks.

    python tests/stack_probe.py CACHE_DIR
    python tests/stack_probe.py --checkpoint FOLDER  # one causal LM checkpoint, e.g. notebook 02's
"""

import json
import sys

import torch
import transformers

from helpers import env, tiny

TEXT = "Question: A robe takes 2 bolts of blue fiber. <answer>3</answer> The starship"


def probe(folder, kind):
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    ids = tokenizer(TEXT)["input_ids"]
    if kind in ("gpt2", "qwen2"):
        model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    else:
        model = transformers.AutoModel.from_pretrained(folder)
    with torch.no_grad():
        out = model(torch.tensor([ids]))
    values = out.logits if kind in ("gpt2", "qwen2") else out.last_hidden_state
    result = {
        "tokenizer": type(tokenizer).__name__,
        "ids": ids,
        "outputs": values[0, :3, :4].tolist(),
    }
    if kind == "qwen2":
        chat = [{"role": "user", "content": "What is 2 + 2?"}]
        result["chat"] = tokenizer.apply_chat_template(
            chat, tokenize=False, add_generation_prompt=True
        )
        result["eos_token"] = tokenizer.eos_token
    return result


if __name__ == "__main__":
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    report = {"stack": env.detect_stack(), "trl": env.trl_api_family(), "models": {}}
    if sys.argv[1] == "--checkpoint":
        report["models"]["checkpoint"] = probe(sys.argv[2], "gpt2")
    else:
        for name, recipe in tiny.TINY_MODELS.items():
            report["models"][name] = probe(tiny.build(name, sys.argv[1]), recipe["kind"])
    print(json.dumps(report))
