"""Generates tiny Hugging Face checkpoints for ke's checkpoint tests (run once, output committed).

Each directory holds what `save_pretrained` writes (config.json, model.safetensors or shards)
plus `canonical.safetensors`: the same weights in ke's canonical names and layouts, computed
here independently of the Swift code (GPT-2 Conv1D transposed, fused QKV split), so the tests
can check the mapping against transformers' own files.

    python3 Tests/Fixtures/checkpoint/make_fixtures.py
"""
import json, os, shutil
import torch
from safetensors.torch import save_file
from transformers import (GPT2Config, GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM,
                          LlamaConfig, LlamaForCausalLM, OlmoConfig, OlmoForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


def randomize(model):
    # Distinct, non-trivial values everywhere (norm weights and biases too).
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)


def canonical_llama(sd, cfg, prefix="model."):
    out = {"embed": sd[prefix + "embed_tokens.weight"]}
    norm = cfg.model_type == "llama"
    for l in range(cfg.num_hidden_layers):
        h = f"{prefix}layers.{l}."
        if norm:
            out[f"L{l}.attn_norm.w"] = sd[h + "input_layernorm.weight"]
            out[f"L{l}.mlp_norm.w"] = sd[h + "post_attention_layernorm.weight"]
        for n in "qkvo":
            out[f"L{l}.{n}.w"] = sd[h + f"self_attn.{n}_proj.weight"]
            if cfg.attention_bias:
                out[f"L{l}.{n}.b"] = sd[h + f"self_attn.{n}_proj.bias"]
        out[f"L{l}.gate.w"] = sd[h + "mlp.gate_proj.weight"]
        out[f"L{l}.up.w"] = sd[h + "mlp.up_proj.weight"]
        out[f"L{l}.down.w"] = sd[h + "mlp.down_proj.weight"]
    if norm:
        out["final_norm.w"] = sd[prefix + "norm.weight"]
    if not cfg.tie_word_embeddings:
        out["lm_head"] = sd["lm_head.weight"]
    return out


def canonical_neox(sd, cfg):
    D, H = cfg.hidden_size, cfg.num_attention_heads
    hd = D // H
    p = "gpt_neox."
    out = {"embed": sd[p + "embed_in.weight"]}
    for l in range(cfg.num_hidden_layers):
        h = f"{p}layers.{l}."
        out[f"L{l}.attn_norm.w"] = sd[h + "input_layernorm.weight"]
        out[f"L{l}.attn_norm.b"] = sd[h + "input_layernorm.bias"]
        w = sd[h + "attention.query_key_value.weight"].view(H, 3, hd, D)
        b = sd[h + "attention.query_key_value.bias"].view(H, 3, hd)
        for j, n in enumerate("qkv"):
            out[f"L{l}.{n}.w"] = w[:, j].reshape(D, D)
            out[f"L{l}.{n}.b"] = b[:, j].reshape(D)
        out[f"L{l}.o.w"] = sd[h + "attention.dense.weight"]
        out[f"L{l}.o.b"] = sd[h + "attention.dense.bias"]
        out[f"L{l}.mlp_norm.w"] = sd[h + "post_attention_layernorm.weight"]
        out[f"L{l}.mlp_norm.b"] = sd[h + "post_attention_layernorm.bias"]
        out[f"L{l}.up.w"] = sd[h + "mlp.dense_h_to_4h.weight"]
        out[f"L{l}.up.b"] = sd[h + "mlp.dense_h_to_4h.bias"]
        out[f"L{l}.down.w"] = sd[h + "mlp.dense_4h_to_h.weight"]
        out[f"L{l}.down.b"] = sd[h + "mlp.dense_4h_to_h.bias"]
    out["final_norm.w"] = sd[p + "final_layer_norm.weight"]
    out["final_norm.b"] = sd[p + "final_layer_norm.bias"]
    out["lm_head"] = sd["lm_head.weight"]
    return out


def canonical_gpt2(sd, cfg):
    D = cfg.n_embd
    p = "transformer."
    out = {"embed": sd[p + "wte.weight"], "pos_embed": sd[p + "wpe.weight"]}
    for l in range(cfg.n_layer):
        h = f"{p}h.{l}."
        out[f"L{l}.attn_norm.w"] = sd[h + "ln_1.weight"]
        out[f"L{l}.attn_norm.b"] = sd[h + "ln_1.bias"]
        w, b = sd[h + "attn.c_attn.weight"], sd[h + "attn.c_attn.bias"]
        for j, n in enumerate("qkv"):
            out[f"L{l}.{n}.w"] = w[:, j * D:(j + 1) * D].t()
            out[f"L{l}.{n}.b"] = b[j * D:(j + 1) * D]
        out[f"L{l}.o.w"] = sd[h + "attn.c_proj.weight"].t()
        out[f"L{l}.o.b"] = sd[h + "attn.c_proj.bias"]
        out[f"L{l}.mlp_norm.w"] = sd[h + "ln_2.weight"]
        out[f"L{l}.mlp_norm.b"] = sd[h + "ln_2.bias"]
        out[f"L{l}.up.w"] = sd[h + "mlp.c_fc.weight"].t()
        out[f"L{l}.up.b"] = sd[h + "mlp.c_fc.bias"]
        out[f"L{l}.down.w"] = sd[h + "mlp.c_proj.weight"].t()
        out[f"L{l}.down.b"] = sd[h + "mlp.c_proj.bias"]
    out["final_norm.w"] = sd[p + "ln_f.weight"]
    out["final_norm.b"] = sd[p + "ln_f.bias"]
    return out


def emit(name, model, canon_fn, **save_kw):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    randomize(model)
    model.save_pretrained(d, **save_kw)
    os.remove(os.path.join(d, "generation_config.json"))  # not read by ke
    sd = {k: v.float() for k, v in model.state_dict().items()}
    canon = {k: v.float().contiguous() for k, v in canon_fn(sd, model.config).items()}
    save_file(canon, os.path.join(d, "canonical.safetensors"))
    n = sum(p.numel() for p in model.parameters())
    with open(os.path.join(d, "parameters.json"), "w") as f:
        json.dump({"parameters": n}, f)
    print(name, n, sorted(os.listdir(d)))


emit("gpt2", GPT2LMHeadModel(GPT2Config(n_embd=8, n_head=2, n_layer=2, vocab_size=11, n_positions=16)),
     canonical_gpt2)
emit("gpt_neox", GPTNeoXForCausalLM(GPTNeoXConfig(hidden_size=8, num_attention_heads=2, num_hidden_layers=2,
     intermediate_size=16, vocab_size=11, max_position_embeddings=16, rotary_pct=0.5)), canonical_neox)
emit("llama_gqa", LlamaForCausalLM(LlamaConfig(hidden_size=8, num_attention_heads=4, num_key_value_heads=2,
     num_hidden_layers=2, intermediate_size=12, vocab_size=11, max_position_embeddings=16)), canonical_llama)
# OLMo, tied, with clip_qkv, stored as bfloat16 (the canonical file holds the exact bf16 values as f32).
emit("olmo_bf16", OlmoForCausalLM(OlmoConfig(hidden_size=8, num_attention_heads=2, num_hidden_layers=2,
     intermediate_size=12, vocab_size=11, max_position_embeddings=16, clip_qkv=8.0,
     tie_word_embeddings=True)).to(torch.bfloat16), canonical_llama)
# Llama in float16, sharded into several files with an index.
emit("llama_sharded_f16", LlamaForCausalLM(LlamaConfig(hidden_size=8, num_attention_heads=2,
     num_hidden_layers=2, intermediate_size=12, vocab_size=11, max_position_embeddings=16,
     attention_bias=True)).to(torch.float16), canonical_llama, max_shard_size="1KB")
