"""Prints the reference values that Tests/KECoreTests/WorldTests.swift checks the Swift
generator against (Swift must reproduce the Python prototype bit for bit)."""
import json
import world as W


def fnv(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & W.MASK
    return f"{h:016x}"


w = W.World()
print("vocab", len(w.vocab), w.vocab[150], w.vocab[len(w.vocab) - 1])
print("name0", w.name(0), "|", w.name(w.new_person(0)))
print("attrs0", w.attrs(0))
print("doc", json.dumps(w.document(5, 0)))
print("held", json.dumps(w.heldout(1, step=7)[0]))
print("hash50", fnv("\n".join(w.document(s, r) for s in range(10) for r in range(5))))
print("known0", json.dumps(w.known_facts()[0]))
print("new1", json.dumps(w.new_facts()[1]))
a = W.World(seed=7, n_core=2000, arrivals=2, window=300, p_arrival=0.5)
print("arr", json.dumps(a.document(500, 3)))
print("arrhash", fnv("\n".join(a.document(s, r) for s in range(400, 420) for r in range(5))))

# tokenizer.json exactly as the `tokenizers` library writes it for this vocabulary
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402

t = Tokenizer(models.WordLevel({x: i for i, x in enumerate(w.vocab)}, unk_token="[UNK]"))
t.pre_tokenizer = pre_tokenizers.Whitespace()
t.add_special_tokens(["[UNK]", "[PAD]"])
print("tokjson", fnv(t.to_str()), len(t.to_str()))
print("tokids", t.encode(w.document(5, 0)).ids[:12])
