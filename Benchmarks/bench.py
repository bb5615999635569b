#!/usr/bin/env python3
"""Benchmark workload and PyTorch reference for ke (issue 7).

    python3 Benchmarks/bench.py build DIR      # writes the workload: DIR/model (HF dir), DIR/corpus.txt
    python3 Benchmarks/bench.py torch DIR      # times PyTorch + transformers on it, prints JSON lines
    python3 Benchmarks/bench.py build-1b DIR   # an OLMo-1B-shaped BF16 checkpoint: DIR/model, DIR/corpus.txt
    python3 Benchmarks/bench.py summary LOG PEAK        # Scripts/bench's table from its JSON lines
    python3 Benchmarks/bench.py summary-llama LOG PEAK  # the llama stage's table (PEAK: GFLOP/s)
    python3 Benchmarks/bench.py tokens DIR     # DIR/tokens.npy: the first 16 documents' 256 token ids
                                               # (the windows ke and llama.cpp both read, llama.py)

The workload: a Pythia-70m-shaped GPT-NeoX (hidden 512, 6 layers, d_ff 2048, 8 heads, rotary
0.25, vocab 50304) with random weights, and a corpus of 64 documents that each tokenise to at
least 256 tokens (ke reads it with `seq 256`). Needs `pip install torch transformers tokenizers`.
`Scripts/bench` runs both sides in one run and prints the ratios.
"""
import json
import math
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

    def timed(fn):
        # One timed run after a warm-up: Scripts/bench repeats the rounds and reports
        # min/median/max over them.
        fn()
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

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

    t = timed(train_steps)
    n = 4 * batch.numel()
    print(json.dumps({"side": "torch", "pass": "train", "tokens": n, "seconds": t,
                      "tokens_per_s": n / t, "threads": threads}), flush=True)


def write_tokens(out: Path):
    """The first 16 documents' 256 token ids as a [16, 256] int32 .npy (ke: `corpus "tokens.npy"`),
    so ke and llama.cpp (Benchmarks/llama.py) read the same windows without tokenising."""
    import numpy as np
    ids = np.array(docs(out)[:16], dtype=np.int32)
    assert ids.shape == (16, 256), ids.shape
    np.save(out / "tokens.npy", ids)


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


# MARK: Reports (Scripts/bench)

# FLOPs per token of the bench model (matrix products only): the body 2·(4·D² + 2·D·F)·L (q, k,
# v, o and the two FFN matrices), attention 2·2·T·D·L (scores and values, T = 256, the causal half
# counted in full as the GEMMs compute it), the head 2·D·V. Entropy has no head, perplexity has
# it, a training step is ≈ 3× perplexity (forward, and two products per matrix backward).
D, F, L, V, T = 512, 2048, 6, 50304, 256
BODY = 2 * (4 * D * D + 2 * D * F) * L + 4 * T * D * L
FLOPS = {"entropy": BODY, "perplexity": BODY + 2 * D * V, "train": 3 * (BODY + 2 * D * V)}
PASSES = ("entropy", "perplexity", "train")


def spread(values):
    """min/median/max of `values` (the median of an even count is the lower middle one: a time
    that was measured)."""
    v = sorted(values)
    return v[0], v[(len(v) - 1) // 2], v[-1]


def ke_timed(lines, side):
    """The `time` results ke printed for `side`, in order (rounds × passes)."""
    return [l["line"] for l in lines if l.get("side") == side and isinstance(l.get("line"), dict)
            and l["line"].get("kind") == "timed"]


def summary(log: Path, peak_gflops: str):
    """The side-by-side table: tokens/s min/median/max over the rounds per pass and side, the
    per-round ratio to PyTorch (median [min–max]), and the per-round share of the sgemm peak
    (median [min–max]): each round's rate against the peak measured at that round's start
    (`{"side": "peak"}` lines), or against `peak_gflops`, the run's first peak, without them."""
    lines = [json.loads(l) for l in open(log) if l.strip()]
    tokens = {"entropy": 64 * 256, "perplexity": 64 * 256, "train": 4 * 8 * 128}
    rates = {}
    for side in ("ke-fixed-order", "ke-openblas"):
        timed = ke_timed(lines, side)
        rates[side] = {p: [tokens[p] / t["seconds"] for t in timed[i::3]] for i, p in enumerate(PASSES)}
    rates["torch"] = {p: [l["tokens_per_s"] for l in lines if l.get("side") == "torch" and l["pass"] == p]
                      for p in PASSES}
    names = {"ke-fixed-order": "ke (fixed-order)", "ke-openblas": "ke (OpenBLAS)", "torch": "PyTorch"}
    rounds = len(rates["torch"]["entropy"])
    peaks = [l["gflops"] for l in lines if l.get("side") == "peak"] or [float(peak_gflops)] * rounds
    print(f"{rounds} rounds; tokens/s min / median / max; ratio = ke ÷ PyTorch per round, median [min–max]; "
          f"share of the sgemm peak per round, median [min–max]; peaks per round (GFLOP/s): "
          + ", ".join(f"{p:.1f}" for p in peaks))
    print(f"{'pass':<12}{'side':<18}{'min':>8}{'median':>8}{'max':>8}{'vs PyTorch':>20}{'% peak':>16}  GFLOP/token")
    for p in PASSES:
        for side, name in names.items():
            r = rates[side][p]
            if not r:
                continue
            lo, med, hi = spread(r)
            if side == "torch":
                ratio = ""
            else:
                q = spread([a / b for a, b in zip(r, rates["torch"][p])])
                ratio = f"{q[1]:.2f} [{q[0]:.2f}–{q[2]:.2f}]"
            sh = spread([x * FLOPS[p] / (g * 1e9) * 100 for x, g in zip(r, peaks)])
            share = f"{sh[1]:.0f} [{sh[0]:.0f}–{sh[2]:.0f}] %"
            print(f"{p:<12}{name:<18}{lo:>8.0f}{med:>8.0f}{hi:>8.0f}{ratio:>20}{share:>16}  {FLOPS[p] / 1e9:.3f}")


def summary_llama(log: Path, peak_gflops: str):
    """ke against llama.cpp on the same GGUF files: perplexity-style prompt processing over
    tokens.npy, tokens/s min/median/max per side, ke ÷ llama.cpp per round, and both perplexities."""
    from statistics import median
    lines = [json.loads(l) for l in open(log) if l.strip()]
    peak = float(peak_gflops) * 1e9
    formats = ("f32", "f16", "q8_0", "q4_0")
    ke = {f: [] for f in formats}
    ke_ppl = {f: [] for f in formats}
    for f in formats:
        for t in ke_timed(lines, f"ke-{f}"):
            ke[f].append(16 * 256 / t["seconds"])
            ke_ppl[f].append(t["value"]["perplexity"])
    llama = {f: [l["tokens_per_s"] for l in lines if l.get("side") == "llama.cpp" and l["format"] == f] for f in formats}
    llama_ppl = {f: [l["perplexity"] for l in lines if l.get("side") == "llama.cpp" and l["format"] == f] for f in formats}
    rounds = len(llama["f32"])
    print(f"{rounds} rounds; perplexity-style prompt processing, 16 windows × 256 tokens, full logits; "
          f"tokens/s min / median / max; share of the sgemm peak ({peak_gflops} GFLOP/s) at the median, "
          f"{FLOPS['perplexity'] / 1e9:.3f} GFLOP/token")
    print(f"{'file':<7}{'side':<11}{'min':>8}{'median':>8}{'max':>8}{'% peak':>8}{'ke ÷ llama.cpp':>22}{'perplexity':>14}")
    for f in formats:
        for name, r, ppl in (("ke", ke[f], ke_ppl[f]), ("llama.cpp", llama[f], llama_ppl[f])):
            if not r:
                print(f"{f:<7}{name:<11}   (no result)")
                continue
            lo, med, hi = spread(r)
            ratio = ""
            if name == "ke" and llama[f]:
                q = spread([a / b for a, b in zip(r, llama[f])])
                ratio = f"{q[1]:.2f} [{q[0]:.2f}–{q[2]:.2f}]"
            p = f"{median(ppl):.4f}" if ppl else "?"
            print(f"{f:<7}{name:<11}{lo:>8.0f}{med:>8.0f}{hi:>8.0f}{med * FLOPS['perplexity'] / peak * 100:>7.0f}%{ratio:>22}{p:>14}")
        if ke_ppl[f] and llama_ppl[f]:
            a, b = median(ke_ppl[f]), median(llama_ppl[f])
            print(f"{'':<7}perplexity: llama.cpp − ke = {b - a:+.4g} ({(b - a) / a * 100:+.4f} %; losses differ by {math.log(b / a):+.2e} nats)")


if __name__ == "__main__":
    commands = {"build": build, "torch": bench_torch, "build-1b": build_1b, "tokens": write_tokens}
    reports = {"summary": summary, "summary-llama": summary_llama}
    if len(sys.argv) == 3 and sys.argv[1] in commands:
        commands[sys.argv[1]](Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] in reports:
        reports[sys.argv[1]](Path(sys.argv[2]), sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
