"""Tiny-run prototype: pretrain an OLMo-style model on the synthetic world, then measure
knowledge entropy, acquisition, retention and resuscitation at each checkpoint.

Research script (never needed by tests or CI). Single thread by design:
    python proto.py '{"name": "E1", "steps": 2000, ...}'
Every run appends one JSON line to results.jsonl. See NOTES.md.

Model: the math of HF OlmoForCausalLM (non-parametric LayerNorm, RoPE rotate-half,
SwiGLU MLP, untied LM head, no biases), written by hand for speed.
Knowledge entropy: sum over layers of H(mean |silu(gate x) * (up x)| / sum) on heldout.
"""
from __future__ import annotations

import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import world as W

torch.set_num_threads(1)


# ---------------------------------------------------------------------------- model
class Block(nn.Module):
    def __init__(self, d, ff, heads):
        super().__init__()
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.gate = nn.Linear(d, ff, bias=False)
        self.up = nn.Linear(d, ff, bias=False)
        self.down = nn.Linear(ff, d, bias=False)
        self.heads = heads


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Olmo(nn.Module):
    def __init__(self, vocab, d=64, layers=4, ff=256, heads=4, seq=64, theta=10000.0):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, ff, heads) for _ in range(layers))
        self.head = nn.Linear(d, vocab, bias=False)
        hd = d // heads
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2).float() / hd))
        t = torch.arange(seq).float()
        fr = torch.outer(t, inv)
        emb = torch.cat([fr, fr], -1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        for p in self.parameters():
            nn.init.normal_(p, std=0.02)
        self.capture = None  # list of per-layer |coef| sums when set

    def forward(self, ids, mask=None):
        B, T = ids.shape
        x = self.emb(ids)
        cos, sin = self.cos[:T], self.sin[:T]
        for li, b in enumerate(self.blocks):
            h = F.layer_norm(x, (x.shape[-1],))
            H = b.heads
            q = b.q(h).view(B, T, H, -1).transpose(1, 2)
            k = b.k(h).view(B, T, H, -1).transpose(1, 2)
            v = b.v(h).view(B, T, H, -1).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + b.o(a.transpose(1, 2).reshape(B, T, -1))
            h = F.layer_norm(x, (x.shape[-1],))
            c = F.silu(b.gate(h)) * b.up(h)
            if self.capture is not None:
                ca = c.abs()
                if mask is not None:
                    ca = ca * mask[..., None]
                self.capture[li] += ca.sum((0, 1)).double()
            x = x + b.down(c)
        return self.head(F.layer_norm(x, (x.shape[-1],)))


# ---------------------------------------------------------------------------- helpers
def entropy(model, held):
    L = len(model.blocks)
    model.capture = [torch.zeros(model.blocks[0].up.out_features, dtype=torch.float64) for _ in range(L)]
    with torch.no_grad():
        for i in range(0, len(held), 64):
            model(held[i:i + 64])
    ms = model.capture
    model.capture = None
    hs = []
    for m in ms:
        p = m / m.sum()
        hs.append(float(-(p * p.clamp_min(1e-300).log()).sum()))
    return sum(hs), hs, ms


def top10_share(ms):
    out = []
    for m in ms:
        s = m.sort(descending=True).values
        out.append(float(s[: len(s) // 10].sum() / s.sum()))
    return sum(out) / len(out)


def encode_probes(w, facts, kind):
    rows = []
    for f in facts:
        for inp, tgt in zip(f[kind + "_input"], f[kind + "_target"]):
            a = [w.ids[x] for x in inp.split()]
            b = [w.ids[x] for x in tgt.split()]
            rows.append((a + b, len(a)))
    return rows


def probe(model, rows):
    """Mean target-token accuracy and log-prob (per probe, then averaged)."""
    T = max(len(r) for r, _ in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    for i, (r, _) in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    with torch.no_grad():
        lp = F.log_softmax(model(ids).float(), -1)
    accs, lps = [], []
    for i, (r, n) in enumerate(rows):
        pos = torch.arange(n - 1, len(r) - 1)
        tg = torch.tensor(r[n:])
        accs.append(float((lp[i, pos].argmax(-1) == tg).float().mean()))
        lps.append(float(lp[i, pos, tg].mean()))
    return sum(accs) / len(accs), sum(lps) / len(lps)


def lr_at(cfg, s):
    lr, wu, steps = cfg["lr"], cfg["warmup"], cfg["steps"]
    if s < wu:
        return lr * (s + 1) / wu
    sch = cfg["schedule"]
    if sch == "const":
        return lr
    if sch == "cos":
        t = (s - wu) / max(1, steps - wu)
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))
    if sch == "wsd":  # linear decay to 0 over the last `decay` fraction
        d0 = int(steps * (1 - cfg["decay"]))
        return lr if s < d0 else lr * max(0.0, (steps - s) / (steps - d0))
    if sch == "invsqrt":
        return lr * math.sqrt(wu / (s + 1))
    raise ValueError(sch)


def make_opt(model, lr, wd):
    dec = [p for n, p in model.named_parameters() if p.dim() >= 2]
    return torch.optim.AdamW([{"params": dec, "weight_decay": wd}], lr=lr, betas=(0.9, 0.95), eps=1e-8)


def lm_loss(model, ids, mask=None):
    logits = model(ids[:, :-1])
    l = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
    if mask is None:
        return l.mean()
    m = mask[:, 1:].reshape(-1)
    return (l * m).sum() / m.sum()


def inject(model, w, cfg, new_facts, new_rows, known_rows, seed):
    """Continued training: half the rows are new facts' train_contexts, half replay."""
    opt = make_opt(model, cfg["inj_lr"], 0.0)
    g = torch.Generator().manual_seed(seed)
    ctx = [[w.ids[x] for x in f["train_context"].split()] for f in new_facts]
    B = cfg["inj_batch"]
    for s in range(cfg["inj_steps"]):
        rows = [ctx[int(i)] for i in torch.randint(len(ctx), (B // 2,), generator=g)]
        rows += w.batch_ids(cfg["steps"], B - B // 2, tag=2 + 1000 * seed + s)
        T = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), T, dtype=torch.long)
        mask = torch.zeros(len(rows), T)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        loss = lm_loss(model, ids, mask)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    acq = (probe(model, new_rows["mem"])[0] + probe(model, new_rows["gen"])[0]) / 2
    ret_after = probe(model, known_rows)[0]
    return acq, ret_after


def resuscitate(model, ms, p=0.5, q=2.0):
    """Paper rule: memories with mean |coef| <= p-quantile get coef * (layer mean / theirs) * q."""
    with torch.no_grad():
        for b, m in zip(model.blocks, ms):
            m = m.float()
            thr = torch.quantile(m, p)
            sel = m <= thr
            scale = torch.ones_like(m)
            scale[sel] = (m.mean() / m[sel].clamp_min(1e-12)) * q
            b.up.weight.mul_(scale[:, None])


def spearman(x, y):
    def rank(v):
        o = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        for k, i in enumerate(o):
            r[i] = float(k)
        return r
    rx, ry = rank(x), rank(y)
    n = len(x)
    mx, my = sum(rx) / n, sum(ry) / n
    num = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    den = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return num / den if den else 0.0


# ---------------------------------------------------------------------------- run
DEFAULT = dict(name="run", seed=1, steps=2000, batch=32, lr=2e-3, warmup=100, schedule="const",
               decay=0.2, wd=0.1, d=64, layers=4, ff=256, heads=4, seq=64,
               world={}, ckpts=None, inj_steps=40, inj_lr=1e-3, inj_batch=16, inj_seeds=2,
               n_held=128, eval=True)


def main():
    cfg = dict(DEFAULT)
    cfg.update(json.loads(sys.argv[1]))
    wk = dict(seed=cfg["seed"], seq=cfg["seq"])
    wk.update(cfg["world"])
    w = W.World(**wk)
    torch.manual_seed(cfg["seed"])
    model = Olmo(len(w.vocab), cfg["d"], cfg["layers"], cfg["ff"], cfg["heads"], cfg["seq"])
    opt = make_opt(model, cfg["lr"], cfg["wd"])
    steps = cfg["steps"]
    ck = cfg["ckpts"] or sorted({25, 50, 100, 200, 400} | {int(steps * f) for f in (0.35, 0.5, 0.65, 0.8, 0.9, 1.0)})
    held = torch.tensor([[w.ids[x] for x in d.split()] for d in w.heldout(cfg["n_held"], step=steps)])
    known, new = w.known_facts(), w.new_facts()
    known_rows = encode_probes(w, known, "mem") + encode_probes(w, known, "gen")
    known_mem = encode_probes(w, known, "mem")
    new_rows = {"mem": encode_probes(w, new, "mem"), "gen": encode_probes(w, new, "gen")}
    states = {}
    t0 = time.time()
    losses = []
    for s in range(1, steps + 1):
        for gr in opt.param_groups:
            gr["lr"] = lr_at(cfg, s - 1)
        ids = torch.tensor(w.batch_ids(s, cfg["batch"]))
        loss = lm_loss(model, ids)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss))
        if s in ck:
            states[s] = {k: v.clone() for k, v in model.state_dict().items()}
            e, hs, _ = entropy(model, held)
            print(f"step {s} loss {sum(losses[-25:]) / len(losses[-25:]):.3f} H {e:.3f} "
                  f"known {probe(model, known_rows)[0]:.3f} t {time.time() - t0:.0f}s", flush=True)
    train_time = time.time() - t0
    if cfg.get("save"):
        torch.save(states, cfg["save"])
    L, ff = cfg["layers"], cfg["ff"]
    hmax = L * math.log(ff)
    rows = []
    for s in ck:
        model.load_state_dict(states[s])
        e, hs, ms = entropy(model, held)
        kacc = probe(model, known_rows)[0]
        wn = math.sqrt(sum(float((p ** 2).sum()) for p in model.parameters()))
        row = dict(step=s, H=e, layers=hs, top10=top10_share(ms), known=kacc, known_mem=probe(model, known_mem)[0], wnorm=wn,
                   loss=sum(losses[max(0, s - 25):s]) / len(losses[max(0, s - 25):s]))
        if cfg["eval"] and s >= 100:
            acqs, rets, kafter = [], [], []
            for k in range(cfg["inj_seeds"]):
                model.load_state_dict(states[s])
                a, r = inject(model, w, cfg, new, new_rows, known_rows, k)
                acqs.append(a)
                rets.append(r / kacc if kacc > 0 else float("nan"))
                kafter.append(r)
            row.update(acq=sum(acqs) / len(acqs), ret=sum(rets) / len(rets), kafter=sum(kafter) / len(kafter))
        rows.append(row)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != "layers"}), flush=True)
    res = dict(cfg=cfg, train_time=train_time, hmax=hmax, rows=rows)
    if cfg["eval"]:
        model.load_state_dict(states[steps])
        _, _, ms = entropy(model, held)
        resuscitate(model, ms)
        rstate = {k: v.clone() for k, v in model.state_dict().items()}
        rk = probe(model, known_rows)[0]
        acqs, rets = [], []
        base = rows[-1]["known"]
        for k in range(cfg["inj_seeds"]):
            model.load_state_dict(rstate)
            a, r = inject(model, w, cfg, new, new_rows, known_rows, k)
            acqs.append(a)
            base = rows[-1]["known"]
            rets.append(r)
        ka = sum(rets) / len(rets)
        res["resus"] = dict(known=rk, acq=sum(acqs) / len(acqs), kafter=ka,
                            ret_own=ka / rk if rk > 0 else None, ret_vs_plain=ka / base if base > 0 else None)
    lo = max(100, int(0.05 * steps))
    sel = [r for r in rows if r["step"] >= lo]
    res["rho_H"] = spearman([r["step"] for r in sel], [r["H"] for r in sel])
    hm = max(r["H"] for r in sel)
    res["drop_pct_of_max"] = 100 * (hm - sel[-1]["H"]) / hmax
    if cfg["eval"]:
        res["rho_acq"] = spearman([r["step"] for r in sel], [r["acq"] for r in sel])
        res["rho_ret"] = spearman([r["step"] for r in sel], [r["ret"] for r in sel])
    res["total_time"] = time.time() - t0
    print(json.dumps({k: v for k, v in res.items() if k not in ("rows", "cfg")}))
    with open("results.jsonl", "a") as f:
        f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
