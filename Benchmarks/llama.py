#!/usr/bin/env python3
"""llama.cpp side of the benchmark (issue 26): GGUF files of the bench model, and their timing.

Runs in the bench's own virtual environment ($KE_BENCH_DIR/venv, made by `Scripts/bench llama`),
which has llama-cpp-python (llama.cpp built from source for this CPU), gguf, safetensors, numpy.

    llama.py gguf DIR         DIR/gguf/bench-{f32,f16,q8_0,q4_0}.gguf from DIR/model (the
                              Pythia-70m-shaped model of `bench.py build`): F32 written with
                              gguf-py as convert_hf_to_gguf.py writes gptneox, the others
                              quantised from it by llama.cpp's own llama_model_quantize
    llama.py time DIR         one round: perplexity-style prompt processing with llama.cpp on each
                              file over DIR/tokens.npy (16 windows × 256 tokens, full logits, one
                              llama_decode per window, n_batch = n_ubatch = 256); JSON lines
    llama.py tinyllama DIR    DIR/tinyllama-q4_0.gguf: TinyLlama-1.1B's shape with random weights
                              (F16 written with gguf-py, quantised by llama_model_quantize), and
                              DIR/tokens.npy (16 × 256 random token ids)

Threads: $BENCH_THREADS (default 2).
"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

FORMATS = ("f32", "f16", "q8_0", "q4_0")


def threads() -> int:
    return int(os.environ.get("BENCH_THREADS", "2"))


# MARK: Writing GGUF files

def byte_level_vocab(tokenizer_json: Path, n_vocab: int):
    """The tokenizer metadata convert_hf_to_gguf.py's `_set_vocab_gpt2` writes: the tokenizer's
    tokens by id, padded to the model's vocabulary with `[PADi]` (type UNUSED), and its merges.

    The bench's byte-level tokenizer has no merges, but gguf-py writes no empty array and
    llama.cpp refuses a `gpt2` vocabulary without `tokenizer.ggml.merges`. So the first padding
    slot holds "ÀÀ" and the one merge is "À À": À is byte 0xC0, which never occurs in UTF-8 text,
    so the merge never fires and every text tokenises exactly as with the bench's tokenizer."""
    import gguf
    tok = json.loads(tokenizer_json.read_text())
    by_id = {i: t for t, i in tok["model"]["vocab"].items()}
    merges = [" ".join(m) if isinstance(m, list) else m for m in tok["model"].get("merges", [])]
    if not merges:
        by_id[len(by_id)] = "ÀÀ"
        merges = ["À À"]
    tokens, types = [], []
    for i in range(n_vocab):
        if i in by_id:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
    return tokens, types, merges


def write_bench_f32(model_dir: Path, out: Path):
    """The bench model as convert_hf_to_gguf.py's GPTNeoXModel writes it, in F32: the config as
    `gptneox.*` keys, tensors renamed by gguf-py's own tensor map, and the fused query_key_value
    (HF rows (head, {q,k,v}, head_dim)) regrouped into rows (q | k | v)."""
    import gguf
    from safetensors.numpy import load_file
    cfg = json.loads((model_dir / "config.json").read_text())
    D, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    hd = D // H
    tensors = load_file(str(model_dir / "model.safetensors"))
    V = tensors["gpt_neox.embed_in.weight"].shape[0]
    w = gguf.GGUFWriter(str(out), "gptneox")
    w.add_name("ke bench (Pythia-70m shape, random weights)")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(D)
    w.add_block_count(L)
    w.add_feed_forward_length(cfg["intermediate_size"])
    # transformers ≥ 5 keeps rotary_pct as rope_parameters.partial_rotary_factor. The converter
    # writes no rope base for gptneox: llama.cpp's default, 10000, must be the model's.
    rope = cfg.get("rope_parameters") or {}
    if rope.get("rope_theta", cfg.get("rotary_emb_base", 10000.0)) != 10000.0:
        raise SystemExit("llama.py: the bench model's rope base is not 10000 (gptneox GGUF files carry none)")
    w.add_rope_dimension_count(int(rope.get("partial_rotary_factor", cfg.get("rotary_pct", 0.25)) * hd))
    w.add_head_count(H)
    w.add_parallel_residual(cfg.get("use_parallel_residual", True))
    w.add_layer_norm_eps(cfg["layer_norm_eps"])
    tokens, types, merges = byte_level_vocab(model_dir / "tokenizer.json", V)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GPTNEOX, L)
    for name in sorted(tensors):
        t = tensors[name].astype(np.float32)
        if name.endswith("attention.query_key_value.weight"):
            t = t.reshape(H, 3, hd, D).transpose(1, 0, 2, 3).reshape(3 * D, D)
        elif name.endswith("attention.query_key_value.bias"):
            t = t.reshape(H, 3, hd).transpose(1, 0, 2).reshape(3 * D)
        gname = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gname is None:
            raise SystemExit(f"llama.py: no GGUF name for tensor {name}")
        w.add_tensor(gname, np.ascontiguousarray(t))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quantize(src: Path, dst: Path, ftype: str):
    """`dst` = `src` quantised by llama.cpp's llama_model_quantize with its default choices per
    tensor (what `llama-quantize` writes)."""
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = {"f16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16, "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
                    "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0}[ftype]
    params.nthread = threads()
    tmp = dst.with_suffix(".partial")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params)
    if rc != 0:
        raise SystemExit(f"llama.py: llama_model_quantize {ftype} failed ({rc})")
    tmp.rename(dst)


def build_gguf(out: Path):
    gdir = out / "gguf"
    gdir.mkdir(exist_ok=True)
    f32 = gdir / "bench-f32.gguf"
    if not f32.exists():
        tmp = gdir / "bench-f32.partial"
        write_bench_f32(out / "model", tmp)
        tmp.rename(f32)
    for ftype in FORMATS[1:]:
        dst = gdir / f"bench-{ftype}.gguf"
        if not dst.exists():
            quantize(f32, dst, ftype)


def build_tinyllama(out: Path):
    """TinyLlama-1.1B's shape (22 layers, hidden 2048, d_ff 5632, 32 heads, 4 KV heads, vocab
    32000, RMSNorm, untied head) with random N(0, 0.02) weights: F16 via gguf-py, streamed one
    tensor at a time, then Q4_0 by llama_model_quantize. Random weights need no RoPE permutation.
    The vocabulary is SentencePiece-shaped (<unk>, <s>, </s>, 256 byte tokens, then distinct
    pieces) so both readers accept it; the corpus is token ids."""
    out.mkdir(parents=True, exist_ok=True)
    dst = out / "tinyllama-q4_0.gguf"
    V = 32000
    if not (out / "tokens.npy").exists():
        ids = np.random.default_rng(0).integers(3, V, size=(16, 256), dtype=np.int32)
        np.save(out / "tokens.npy", ids)
    if dst.exists():
        return
    f16 = out / "tinyllama-f16.gguf"
    if not f16.exists():
        write_tinyllama_f16(f16, np.random.default_rng(1))
    quantize(f16, dst, "q4_0")
    f16.unlink()


def write_tinyllama_f16(path: Path, rng):
    """The F16 file of `build_tinyllama`, written under a temporary name and renamed when whole."""
    import gguf
    D, L, F, H, KV, V = 2048, 22, 5632, 32, 4, 32000
    kv_dim = D // H * KV
    partial = path.with_suffix(".partial")
    w = gguf.GGUFWriter(str(partial), "llama")
    w.add_name("ke bench (TinyLlama-1.1B shape, random weights)")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_context_length(2048)
    w.add_embedding_length(D)
    w.add_block_count(L)
    w.add_feed_forward_length(F)
    w.add_rope_dimension_count(D // H)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(V)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    tokens += [f"\u2581t{i}" for i in range(V - len(tokens))]
    types += [gguf.TokenType.NORMAL] * (V - len(types))
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([-float(i) for i in range(V)])
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    shapes = [("token_embd.weight", (V, D))]
    for b in range(L):
        shapes += [(f"blk.{b}.attn_norm.weight", (D,)), (f"blk.{b}.attn_q.weight", (D, D)),
                   (f"blk.{b}.attn_k.weight", (kv_dim, D)), (f"blk.{b}.attn_v.weight", (kv_dim, D)),
                   (f"blk.{b}.attn_output.weight", (D, D)), (f"blk.{b}.ffn_norm.weight", (D,)),
                   (f"blk.{b}.ffn_gate.weight", (F, D)), (f"blk.{b}.ffn_up.weight", (F, D)),
                   (f"blk.{b}.ffn_down.weight", (D, F))]
    shapes += [("output_norm.weight", (D,)), ("output.weight", (V, D))]
    # Norm weights are 1-D and stay F32, as the converter keeps them.
    dtype = {True: np.float32, False: np.float16}
    for name, shape in shapes:
        dt = dtype[len(shape) == 1]
        w.add_tensor_info(name, shape, np.dtype(dt), int(np.prod(shape)) * np.dtype(dt).itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, shape in shapes:
        if len(shape) == 1:
            w.write_tensor_data(np.ones(shape, dtype=np.float32))
        else:
            w.write_tensor_data((rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16))
    w.close()
    partial.rename(path)


# MARK: Timing

def time_round(out: Path):
    """One round over every GGUF file: load, one warm-up window, then the 16 windows timed one
    llama_decode each (Llama.eval), with logits for every position (logits_all). The perplexity
    is exp of the mean next-token NLL over positions 1…255 of each window, from those logits in
    float64 (after the clock stops), as ke's `perplexity` counts a 256-token row."""
    import llama_cpp
    windows = np.load(out / "tokens.npy")
    n_win, T = windows.shape
    for ftype in FORMATS:
        path = out / "gguf" / f"bench-{ftype}.gguf"
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=T, n_batch=T, n_ubatch=T, n_threads=threads(),
                              n_threads_batch=threads(), logits_all=True, verbose=False)
        llm.reset()
        llm.eval(windows[0].tolist())  # warm-up
        seconds, nll, count = 0.0, 0.0, 0
        for row in windows:
            ids = row.tolist()
            llm.reset()
            t = time.perf_counter()
            llm.eval(ids)
            seconds += time.perf_counter() - t
            logits = np.asarray(llm.scores[:T], dtype=np.float64)
            mx = logits.max(axis=1, keepdims=True)
            logp = logits - mx - np.log(np.exp(logits - mx).sum(axis=1, keepdims=True))
            nll -= logp[np.arange(T - 1), row[1:]].sum()
            count += T - 1
        print(json.dumps({"side": "llama.cpp", "format": ftype, "tokens": int(n_win * T), "seconds": seconds,
                          "tokens_per_s": n_win * T / seconds, "perplexity": float(np.exp(nll / count)),
                          "threads": threads()}), flush=True)
        del llm


if __name__ == "__main__":
    commands = {"gguf": build_gguf, "time": time_round, "tinyllama": build_tinyllama}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    commands[sys.argv[1]](Path(sys.argv[2]))
