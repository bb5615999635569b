#!/usr/bin/env python3
"""Checks that a checkpoint directory (e.g. written by ``ke save``) loads in transformers and
computes the same logits as a reference.

Needs: ``pip install torch transformers tokenizers safetensors``.

Usage::

    python3 Scripts/verify-saved.py DIR REF_DIR [--tol 1e-4] [--expect KEY]

``DIR`` is loaded with ``AutoModelForCausalLM.from_pretrained(DIR, dtype=float32,
attn_implementation="eager")`` and run on every corpus document, each alone. The documents are
``REF_DIR/expected.json``'s ``docs`` when that file has them, otherwise ``Tests/Fixtures/corpus.txt``
encoded (no special tokens) with ``DIR/tokenizer.json`` (or ``REF_DIR/tokenizer.json``).

Reference logits: ``logits.<d>`` from ``REF_DIR/expected.safetensors`` when it exists, otherwise
``REF_DIR`` itself loaded and run by transformers the same way. With ``--expect KEY`` only
document 0 is compared, against tensor ``KEY`` of ``expected.safetensors`` (for example
``--expect rescale.logits.0`` to check a saved rescaled model, ``ablate.logits.0`` for an ablation).

When ``REF_DIR`` has a ``tokenizer_config.json``, ``generation_config.json`` or a chat template,
the directories' metadata is compared too, as transformers loads it: the tokenizer's special
tokens (``AutoTokenizer.special_tokens_map`` and ``all_special_ids``), the chat template and the
rendering of a short conversation with it, and ``GenerationConfig.from_pretrained(...).to_dict()``
(without ``transformers_version``); every difference is a mismatch.

Prints the max absolute difference per document and overall; exit status 0 when it is at most
``--tol`` (and the metadata agrees), 1 on a mismatch, 2 when something cannot be loaded.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_model(path: pathlib.Path):
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path), dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


def logits(model, ids):
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float()


def documents(dir_: pathlib.Path, ref: pathlib.Path) -> list:
    exp = ref / "expected.json"
    if exp.exists() and "docs" in json.loads(exp.read_text()):
        return json.loads(exp.read_text())["docs"]
    from tokenizers import Tokenizer

    tok_path = dir_ / "tokenizer.json"
    if not tok_path.exists():
        tok_path = ref / "tokenizer.json"
    tok = Tokenizer.from_file(str(tok_path))
    lines = (ROOT / "Tests" / "Fixtures" / "corpus.txt").read_text(encoding="utf-8").splitlines()
    return [tok.encode(l, add_special_tokens=False).ids for l in lines if l.strip()]


def has_metadata(ref: pathlib.Path) -> bool:
    names = ["tokenizer_config.json", "generation_config.json", "chat_template.jinja", "chat_template.json"]
    return any((ref / n).exists() for n in names)


def metadata(path: pathlib.Path) -> dict:
    """What transformers makes of a directory's tokenizer and generation settings."""
    import transformers

    out = {}
    tok = transformers.AutoTokenizer.from_pretrained(str(path))
    out["special_tokens_map"] = {k: (sorted(map(str, v)) if isinstance(v, list) else str(v))
                                 for k, v in tok.special_tokens_map.items()}
    out["all_special_ids"] = sorted(tok.all_special_ids)
    out["eos_token"] = (tok.eos_token, tok.eos_token_id)
    out["chat_template"] = tok.chat_template
    if tok.chat_template:
        out["chat_rendered"] = tok.apply_chat_template(
            [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hello!"}],
            tokenize=False, add_generation_prompt=True)
    try:
        gen = transformers.GenerationConfig.from_pretrained(str(path)).to_dict()
        gen.pop("transformers_version", None)
        gen = {k: v for k, v in gen.items() if v is not None}
    except OSError:
        gen = None
    out["generation_config"] = gen
    return out


def check_metadata(dir_: pathlib.Path, ref: pathlib.Path) -> bool:
    got, want = metadata(dir_), metadata(ref)
    ok = True
    for key in want:
        same = got.get(key) == want[key]
        ok = ok and same
        shown = want[key] if key != "chat_template" else (f"{len(want[key] or '')} characters" if want[key] else None)
        print(f"{key}: {'same' if same else 'DIFFERENT'} ({shown!r})" if same
              else f"{key}: DIFFERENT: saved {got.get(key)!r}, source {want[key]!r}")
    print(f"metadata -> {'OK' if ok else 'MISMATCH'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description="Compare a saved checkpoint's logits with a reference.")
    ap.add_argument("dir", type=pathlib.Path)
    ap.add_argument("ref", type=pathlib.Path)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--expect", help="compare doc 0 against this tensor of expected.safetensors")
    args = ap.parse_args()

    try:
        model = load_model(args.dir)
        docs = documents(args.dir, args.ref)
        ref_st = args.ref / "expected.safetensors"
        if ref_st.exists():
            from safetensors.torch import load_file

            expected = load_file(str(ref_st))
            if args.expect:
                if args.expect not in expected:
                    print(f"no tensor {args.expect!r} in {ref_st}", file=sys.stderr)
                    return 2
                refs = [expected[args.expect]]
                docs = docs[:1]
            else:
                refs = [expected[f"logits.{i}"] for i in range(len(docs))]
        else:
            if args.expect:
                print(f"--expect needs {ref_st}", file=sys.stderr)
                return 2
            ref_model = load_model(args.ref)
            refs = [logits(ref_model, d) for d in docs]
    except Exception as e:  # noqa: BLE001 - report any load failure as exit 2
        print(f"load failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 2

    meta_ok = True
    if has_metadata(args.ref):
        try:
            meta_ok = check_metadata(args.dir, args.ref)
        except Exception as e:  # noqa: BLE001 - report any load failure as exit 2
            print(f"metadata load failed: {type(e).__name__}: {e}", file=sys.stderr)
            return 2

    worst = 0.0
    for i, (d, r) in enumerate(zip(docs, refs)):
        got = logits(model, d)
        if tuple(got.shape) != tuple(r.shape):
            print(f"doc {i}: shape {tuple(got.shape)} != reference {tuple(r.shape)}")
            return 1
        diff = float((got - r.float()).abs().max())
        worst = max(worst, diff)
        print(f"doc {i}: {len(d):3d} tokens  max |Δlogit| = {diff:.3e}")
    ok = worst <= args.tol
    print(f"overall max |Δlogit| = {worst:.3e} (tol {args.tol:g}) -> {'OK' if ok else 'MISMATCH'}")
    return 0 if ok and meta_ok else 1


if __name__ == "__main__":
    sys.exit(main())
