#!/usr/bin/env python3
"""Writes the paper's six downstream benchmarks as ke multiple-choice task files.

UNTESTED HERE: the machine this was written on has no network access to the Hugging Face hub, so
this script has never downloaded anything. It was written against OLMo's
``olmo/eval/downstream.py`` (the prompt formats and metrics below) and the datasets' documented
fields; only the item converters were run, on the example records in OLMo's docstrings. Check a
few lines of its output before trusting a number. The tests never use it.

Needs ``pip install datasets`` and a network. Writes ``OUT/<task>.jsonl``, one line per validation
item, ``{"context": …, "choices": [" …", …], "label": i, "metric": "acc" | "len_norm"}``, which
``ke`` reads with ``tasks "OUT"`` and scores with ``evaluate MODEL on TASKS`` as OLMo's
``ICLMetric`` does. Contexts, continuations and metrics are OLMo's (the metric is each task class's
``metric_type``, which the paper's configs use as they list the evaluators by label):

==============  =========  ==================================================================
task            metric     context → continuations (each with a leading space)
==============  =========  ==================================================================
sciq            acc        "SUPPORT.strip()\\nQuestion: QUESTION\\nAnswer:" → 3 distractors, then
                           the correct answer (label 3)
winogrande      acc        see below (OLMo scores one continuation after two contexts)
piqa            len_norm   "Question: GOAL\\nAnswer:" → sol1, sol2
openbook_qa     len_norm   question_stem → the four choices; label from answerKey A–D
hellaswag       len_norm   preprocess("ACTIVITY_LABEL: CTX_A " + CTX_B.capitalize()) → the
                           preprocessed endings (" [title]" → ". ", "[…]" removed, "  " → " ")
arc_easy        acc        "Question: QUESTION\\nAnswer:" → the choices; label from answerKey
                           (A–E, or 1–5)
==============  =========  ==================================================================

**Winogrande is approximated.** OLMo uses *partial* scoring: two contexts, sentence[:blank] +
option1 and + option2, and one shared continuation, the text after the blank; the score is that
continuation's log-probability after each context. ke's format has one context and several
continuations, so this script writes *full* scoring instead: the context is the text before the
blank (right-stripped) and each choice is the rest of the sentence with that option filled in,
" OPTION REST". The choices' scores then include the options' own tokens, which favours likelier
names; expect numbers near, but not equal to, OLMo's. Items whose blank opens the sentence (no
text before it, hence no context) are skipped and counted.

Usage::

    python3 Scripts/export-tasks.py OUT                  # all six
    python3 Scripts/export-tasks.py OUT --only sciq piqa
    python3 Scripts/export-tasks.py OUT --limit 500      # the first 500 items of each
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys

# OLMo's dataset paths were "sciq", "winogrande", "piqa", "openbookqa", "hellaswag", "ai2_arc"; the
# hub now serves them under these ids (the same validation splits).
SOURCES = {
    "sciq": ("allenai/sciq", None),
    "winogrande": ("allenai/winogrande", "winogrande_xl"),
    "piqa": ("ybisk/piqa", None),
    "openbook_qa": ("allenai/openbookqa", "main"),
    "hellaswag": ("Rowan/hellaswag", None),
    "arc_easy": ("allenai/ai2_arc", "ARC-Easy"),
}


def sciq(doc):
    context = doc["support"].strip() + "\nQuestion: " + doc["question"] + "\nAnswer:"
    choices = [" " + doc["distractor1"], " " + doc["distractor2"], " " + doc["distractor3"],
               " " + doc["correct_answer"]]
    return context, choices, 3


def piqa(doc):
    return "Question: " + doc["goal"] + "\nAnswer:", [" " + doc["sol1"], " " + doc["sol2"]], int(doc["label"])


def hellaswag_preprocess(text: str) -> str:
    text = text.strip()
    # Brackets are artifacts of the WikiHow part of HellaSwag.
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def hellaswag(doc):
    context = hellaswag_preprocess(doc["activity_label"] + ": " + doc["ctx_a"] + " " + doc["ctx_b"].capitalize())
    return context, [" " + hellaswag_preprocess(e) for e in doc["endings"]], int(doc["label"])


def openbook_qa(doc):
    label = ["A", "B", "C", "D"].index(doc["answerKey"].strip())
    return doc["question_stem"], [" " + c for c in doc["choices"]["text"]], label


def arc_easy(doc):
    key = {"1": "A", "2": "B", "3": "C", "4": "D", "5": "E"}.get(doc["answerKey"], doc["answerKey"])
    label = ["A", "B", "C", "D", "E"].index(key)
    return "Question: " + doc["question"] + "\nAnswer:", [" " + c for c in doc["choices"]["text"]], label


def winogrande(doc):
    """Full scoring (see the module docstring); None when the blank opens the sentence."""
    sentence = doc["sentence"]
    blank = sentence.index("_")
    context = sentence[:blank].rstrip()
    if not context:
        return None
    rest = sentence[blank + 1:]
    # The whitespace before the blank (usually one space; none when the blank is glued to the
    # previous word, and then the choice starts without a space — harmless under acc).
    gap = sentence[len(context):blank]
    choices = [gap + option + rest for option in (doc["option1"], doc["option2"])]
    return context, choices, int(doc["answer"]) - 1


TASKS = {
    "sciq": (sciq, "acc"),
    "winogrande": (winogrande, "acc"),
    "piqa": (piqa, "len_norm"),
    "openbook_qa": (openbook_qa, "len_norm"),
    "hellaswag": (hellaswag, "len_norm"),
    "arc_easy": (arc_easy, "acc"),
}


def export(name: str, out: pathlib.Path, limit: int | None) -> None:
    import datasets  # imported here so that --help works without it

    path, config = SOURCES[name]
    data = datasets.load_dataset(path, config, split="validation")
    convert, metric = TASKS[name]
    lines, skipped = [], 0
    for doc in data:
        if limit is not None and len(lines) >= limit:
            break
        item = convert(doc)
        if item is None:
            skipped += 1
            continue
        context, choices, label = item
        if not context or len(choices) < 2 or not 0 <= label < len(choices):
            skipped += 1
            continue
        lines.append(json.dumps({"context": context, "choices": choices, "label": label, "metric": metric},
                                ensure_ascii=False))
    (out / f"{name}.jsonl").write_text("".join(l + "\n" for l in lines), encoding="utf-8")
    note = f", {skipped} skipped" if skipped else ""
    print(f"{name}: {len(lines)} items ({metric}{note}) → {out / (name + '.jsonl')}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=pathlib.Path, help="directory to write <task>.jsonl into")
    ap.add_argument("--only", nargs="+", choices=sorted(TASKS), help="tasks to write (default: all six)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many items per task")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or list(TASKS):
        export(name, args.out, args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
