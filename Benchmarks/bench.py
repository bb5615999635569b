#!/usr/bin/env python3
"""Benchmark workload and PyTorch reference for ke (issue 7).

    python3 Benchmarks/bench.py build DIR      # writes the workload: DIR/model (HF dir), DIR/corpus.txt
    python3 Benchmarks/bench.py torch DIR      # times PyTorch + transformers on it, prints JSON lines
    python3 Benchmarks/bench.py build-1b DIR   # an OLMo-1B-shaped BF16 checkpoint: DIR/model, DIR/corpus.txt

The workload: a Pythia-70m-shaped GPT-NeoX (hidden 512, 6 layers, d_ff 2048, 8 heads, rotary
0.25, vocab 50304) with random weights, and a corpus of 64 documents that each tokenise to at
least 256 tokens (ke reads it with `seq 256`). Needs `pip install torch transformers tokenizers`.
`Scripts/bench` runs both sides in one run and prints the ratios.
"""
import json
import os
import random
import sys
import time
from pathlib import Path

WORDS = ("the of and to in is was for on that with as by at from his her an which were are this "
         "be had not or have it one their all new first been has two after who they other also "
         "memory entropy model layer knowledge token value key network learning training data").split()


def build(out: Path):
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    model_dir = out / "model"
    torch.manual_seed(0)
    cfg = GPTNeoXConfig(hidden_size=512, num_hidden_layers=6, num_attention_heads=8,
                        intermediate_size=2048, rotary_pct=0.25, vocab_size=50304,
                        max_position_embeddings=2048, hidden_act="gelu", use_parallel_residual=True,
                        tie_word_embeddings=False)
    model = GPTNeoXForCausalLM(cfg)
    model.save_pretrained(model_dir, safe_serialization=True)
    # A byte-level tokenizer: 256 byte symbols and no merges, so every byte is a token.
    build_tokenizer_and_corpus(out)


def docs(out: Path, seq=256):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(out / "model" / "tokenizer.json"))
    lines = [l.rstrip("\n") for l in open(out / "corpus.txt") if l.strip()]
    return [tok.encode(l, add_special_tokens=False).ids[:seq] for l in lines]


def bench_torch(out: Path):
    import torch
    from transformers import AutoModelForCausalLM
    threads = int(os.environ.get("BENCH_THREADS", "2"))
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(out / "model", dtype=torch.float32, attn_implementation="sdpa")
    model.eval()
    ids = torch.tensor(docs(out))  # [64, 256]
    n_tokens = ids.numel()
    sums = {}

    def hook(name):
        def f(module, inp):
            a = inp[0].detach()
            sums[name] = sums.get(name, 0) + a.abs().sum(dim=(0, 1)).double()
        return f

    handles = [layer.mlp.dense_4h_to_h.register_forward_pre_hook(hook(i))
               for i, layer in enumerate(model.gpt_neox.layers)]

    def entropy_pass():
        sums.clear()
        with torch.no_grad():
            for b in range(0, ids.shape[0], 8):
                model(ids[b:b + 8])
        total = 0.0
        for s in sums.values():
            p = s / s.sum()
            total += float(-(p[p > 0] * p[p > 0].log()).sum())
        return total

    def timed(fn, reps=2):
        fn()  # warm-up
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        return best

    t = timed(entropy_pass)
    print(json.dumps({"side": "torch", "pass": "entropy", "tokens": n_tokens, "seconds": t,
                      "tokens_per_s": n_tokens / t, "threads": threads}), flush=True)
    for h in handles:
        h.remove()

    def ppl_pass():
        with torch.no_grad():
            for b in range(0, ids.shape[0], 8):
                model(ids[b:b + 8], labels=ids[b:b + 8])

    t = timed(ppl_pass)
    print(json.dumps({"side": "torch", "pass": "perplexity", "tokens": n_tokens, "seconds": t,
                      "tokens_per_s": n_tokens / t, "threads": threads}), flush=True)

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    batch = ids[:8, :128]

    def train_steps():
        for _ in range(4):
            loss = model(batch, labels=batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

    t = timed(train_steps, reps=1)
    n = 4 * batch.numel()
    print(json.dumps({"side": "torch", "pass": "train", "tokens": n, "seconds": t,
                      "tokens_per_s": n / t, "threads": threads}), flush=True)


def build_1b(out: Path):
    """OLMo-1B's shape (hidden 2048, 16 layers, 16 heads, d_ff 8192, vocab 50304, tied
    embeddings, non-parametric LayerNorm) with random BF16 weights (std 0.02), 2.4 GB."""
    import torch
    from safetensors.torch import save_file
    from transformers import OlmoConfig, OlmoForCausalLM

    model_dir = out / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    cfg = OlmoConfig(hidden_size=2048, num_hidden_layers=16, num_attention_heads=16,
                     intermediate_size=8192, vocab_size=50304, max_position_embeddings=2048,
                     tie_word_embeddings=True, torch_dtype="bfloat16")
    cfg.save_pretrained(model_dir)
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in OlmoForCausalLM(cfg).state_dict().items()}
    g = torch.Generator().manual_seed(0)
    tensors = {k: (torch.randn(shape, generator=g) * 0.02).to(torch.bfloat16)
               for k, shape in shapes.items() if k != "lm_head.weight"}
    save_file(tensors, str(model_dir / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer_and_corpus(out, docs=16)


def build_tokenizer_and_corpus(out: Path, docs=64):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    byte_vocab = {c: i for i, c in enumerate(pre_tokenizers.ByteLevel.alphabet())}
    tok = Tokenizer(models.BPE(vocab=byte_vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.save(str(out / "model" / "tokenizer.json"))
    rng = random.Random(0)
    with open(out / "corpus.txt", "w") as f:
        for _ in range(docs):
            f.write(" ".join(rng.choice(WORDS) for _ in range(80)) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("build", "torch", "build-1b"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    path = Path(sys.argv[2])
    {"build": build, "torch": bench_torch, "build-1b": build_1b}[sys.argv[1]](path)
