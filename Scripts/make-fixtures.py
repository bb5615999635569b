#!/usr/bin/env python3
"""Regenerates the committed test fixtures under ``Tests/Fixtures`` with Hugging Face as the oracle.

Needs: ``pip install torch transformers tokenizers safetensors`` (made with torch 2.15 CPU,
transformers 5.24, tokenizers 0.23, safetensors 0.8). Python is used only here, never by the tests.

Runs every generator module ``Scripts/fixtures/*.py`` (in name order), each exposing
``main(out_root: pathlib.Path)``:

* ``models.py`` writes ``corpus.txt``, ``corpus.jsonl``, ``facts.json``, ``models/<name>/`` (tiny
  random HF checkpoints + ``tokenizer.json`` + ``expected.json`` + ``expected.safetensors``) and
  ``series/`` (checkpoint folders with mixed step names + ``expected.json``).
* ``activations.py`` writes ``activations/``: transformers' ``ACT2FN`` activations and their torch
  autograd derivatives on a fixed grid; ``python3 Scripts/make-fixtures.py activations``.
* ``continual.py`` writes ``continual/``: a PyTorch reference of the knowledge-entropy paper's
  continual-pretraining protocol run on ``models/olmo``, ``models/llama_tied`` and ``models/neox``
  (it reads them, so into a fresh ``--out`` run ``models`` first); ``python3 Scripts/make-fixtures.py continual``.
* ``tokenizers.py`` (if present) writes ``tokenizers/``.
* ``gguf_tokenizers.py`` writes ``formats/gguf_tokenizers/``: tokenizer-only GGUF files (SentencePiece
  ``llama`` and byte-level ``gpt2``) and the ids and decodings transformers gives for them; needs
  ``gguf`` and ``sentencepiece`` too. Run it alone with ``python3 Scripts/make-fixtures.py gguf_tokenizers``.
* ``gguf_save.py`` writes ``formats/gguf_save/``: a GGUF model with a chat template and special
  tokens in its metadata and what transformers reads from it (what ``save`` must write as
  tokenizer_config.json and generation_config.json); needs ``gguf``. Run it alone with
  ``python3 Scripts/make-fixtures.py gguf_save``.
* ``gguf_iquants.py`` writes ``formats/gguf_iquants/``: random blocks of every GGUF i-quant type
  (and TQ1_0, TQ2_0) with gguf-py's dequantisation, and a tiny Llama of i-quant matrices with the
  logits and knowledge entropy transformers computes from it; needs ``gguf`` and ``accelerate``.
  Run it alone with ``python3 Scripts/make-fixtures.py gguf_iquants``.
* ``ggml_grids.py`` is not a fixture: it writes ``Sources/KECore/Formats/GGMLGrids.swift``, the
  i-quant lookup tables read from the installed gguf-py (``--out`` does not apply); run it alone
  with ``python3 Scripts/make-fixtures.py ggml_grids``.
* ``tokenizers_hf16.py`` writes ``tokenizers/hf16/`` (issue 16: added-token numbering, Oniguruma
  regexes, Unicode classes, post-processors, random strings); run it alone with
  ``python3 Scripts/make-fixtures.py tokenizers_hf16``. It reads the ``tokenizers/*.json`` files
  of ``tokenizers.py``, so it runs after it.
* ``tasks.py`` writes ``tasks/`` (multiple-choice task files and transformers' per-choice
  log-probabilities for four model fixtures) and ``tasks_bad/`` (malformed task files); it reads
  the ``models/`` folders, so it runs after ``models.py``. Run it alone with
  ``python3 Scripts/make-fixtures.py tasks``.

See ``Tests/Fixtures/README.md`` for what every recorded number means. Everything is seeded and
single-threaded, so re-running reproduces identical files.

Usage::

    python3 Scripts/make-fixtures.py              # all generators, into Tests/Fixtures
    python3 Scripts/make-fixtures.py models       # only Scripts/fixtures/models.py
    python3 Scripts/make-fixtures.py --out /tmp/fx models
"""

import argparse
import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
GENERATORS = ROOT / "Scripts" / "fixtures"


def load_generator(path: pathlib.Path):
    """Imports one generator file under a private module name (a file called ``tokenizers.py``
    must not shadow the ``tokenizers`` package, so the folder is never put on ``sys.path``)."""
    spec = importlib.util.spec_from_file_location(f"ke_fixture_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("only", nargs="*", help="generator names to run (default: all)")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "Tests" / "Fixtures")
    args = ap.parse_args()
    files = sorted(p for p in GENERATORS.glob("*.py") if not p.name.startswith("_"))
    if args.only:
        unknown = set(args.only) - {p.stem for p in files}
        if unknown:
            print(f"unknown generators: {sorted(unknown)}", file=sys.stderr)
            return 2
        files = [p for p in files if p.stem in args.only]
    for path in files:
        print(f"[{path.stem}]")
        load_generator(path).main(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
