"""Seeded synthetic world for the built-in tiny run (Python prototype).

Research script, never needed by tests or CI. It mirrors the Swift generator in
Sources/KECore/World/ (same PRNG: SplitMix64; same derivation of per-row streams),
so settings found here carry over. See NOTES.md for the experiments.

World:
  - people: two-token names (first, last) drawn from generated syllable words;
    attributes birth date (month day , year), birth city, university, major, employer;
    attribute values are Zipf(1)-distributed per attribute, fixed per person.
  - a core population of `n_core` people sampled Zipf(1) by rank in the stream,
    plus optionally `arrivals` newcomers per step, each active for `window` steps
    (a never-exhausted long tail), taking a share `p_arrival` of biographies.
  - filler text from a small Zipfian grammar (nouns, verbs, adjectives, function
    words, noun->verb and verb->object preferences).
  - documents: segments (a biography with all 5 attribute sentences in random
    order, or a filler paragraph) until `seq` words; one word = one token.
"""
from __future__ import annotations

MASK = (1 << 64) - 1
GOLD = 0x9E3779B97F4A7C15


def mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class Rng:
    """SplitMix64."""

    def __init__(self, seed: int):
        self.s = seed & MASK

    def next(self) -> int:
        self.s = (self.s + GOLD) & MASK
        return mix64(self.s)

    def uniform(self) -> float:
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def below(self, n: int) -> int:
        return self.next() % n


def derive(seed: int, *parts: int) -> int:
    """A seed for a sub-stream: folds each part in with mix64."""
    h = mix64((seed ^ 0x5851F42D4C957F2D) & MASK)
    for p in parts:
        h = mix64((h ^ ((p * GOLD) & MASK)) & MASK)
    return h


def zipf_cdf(n: int) -> list[float]:
    c, acc = [], 0.0
    for k in range(n):
        acc += 1.0 / (k + 1)
        c.append(acc)
    return [x / acc for x in c]


def sample_cdf(cdf: list[float], u: float) -> int:
    lo, hi = 0, len(cdf) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "j", "k", "kl", "l", "m", "n",
          "p", "pr", "r", "s", "st", "t", "tr", "v", "w", "z"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]
CODAS = ["", "", "n", "r", "l", "s", "m", "th", "nd", "x"]

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
FUNCTION = ["the", "a", "and", "of", "with", "in", "to", "for", "on", "by", "near", "but",
            "then", "while", "again", "very", "often", "never", "."]

# Templates: "{n}" = full name, "{v}" = value at the end (probes cut there).
TRAIN_TEMPLATES = {
    "birth_date": ["{n} was born on {v} .", "{n} came into this world on {v} .",
                   "the birth date of {n} is {v} ."],
    "birth_city": ["{n} was born in {v} .", "{n} spent early years in {v} .",
                   "the birthplace of {n} is {v} ."],
    "university": ["{n} studied at {v} .", "{n} graduated from {v} .",
                   "the school of {n} was {v} ."],
    "major": ["{n} majored in {v} .", "{n} took a degree in {v} .",
              "the field of {n} was {v} ."],
    "employer": ["{n} worked for {v} .", "{n} was employed by {v} .",
                 "the employer of {n} was {v} ."],
}
GEN_TEMPLATES = {
    "birth_date": ["the day {n} arrived was {v} .", "records list the birthday of {n} as {v} ."],
    "birth_city": ["{n} first saw the light in {v} .", "the hometown of {n} is {v} ."],
    "university": ["{n} earned a diploma at {v} .", "the alma mater of {n} is {v} ."],
    "major": ["{n} was a student of {v} .", "the subject {n} chose was {v} ."],
    "employer": ["{n} earned a salary from {v} .", "the company of {n} was {v} ."],
}
ATTRS = ["birth_date", "birth_city", "university", "major", "employer"]


class World:
    def __init__(self, seed=1, n_first=200, n_last=200, n_core=20000, n_new=64,
                 n_cities=200, n_unis=100, n_majors=60, n_employers=200,
                 n_nouns=1000, n_verbs=300, n_adjs=200, p_bio=0.5, seq=64,
                 arrivals=0.0, window=200, p_arrival=0.0, n_known=64):
        self.seed = seed
        self.seq = seq
        self.p_bio = p_bio
        self.arrivals, self.window, self.p_arrival = arrivals, window, p_arrival
        self.n_core, self.n_new, self.n_known = n_core, n_new, n_known
        rng = Rng(derive(seed, 1))
        used = set(MONTHS) | set(FUNCTION) | {w for ts in list(TRAIN_TEMPLATES.values()) +
                                              list(GEN_TEMPLATES.values()) for t in ts
                                              for w in t.split() if w not in ("{n}", "{v}")}

        def words(n, syl_lo, syl_hi, suffix=""):
            out = []
            while len(out) < n:
                k = syl_lo + rng.below(syl_hi - syl_lo + 1)
                w = "".join(ONSETS[rng.below(len(ONSETS))] + VOWELS[rng.below(len(VOWELS))]
                            for _ in range(k)) + CODAS[rng.below(len(CODAS))] + suffix
                if w not in used:
                    used.add(w)
                    out.append(w)
            return out

        self.first = words(n_first, 1, 2)
        self.last = words(n_last, 2, 3)
        self.cities = words(n_cities, 2, 3)
        self.unis = words(n_unis, 2, 2, "ton")
        self.majors = words(n_majors, 2, 2, "ics")
        self.employers = words(n_employers, 2, 2, "corp")
        self.nouns = words(n_nouns, 1, 3)
        self.verbs = words(n_verbs, 1, 2, "s")
        self.adjs = words(n_adjs, 1, 2, "y")
        # grammar dependencies
        g = Rng(derive(seed, 2))
        self.noun_verbs = [[g.below(n_verbs) for _ in range(3)] for _ in range(n_nouns)]
        self.verb_objs = [[g.below(n_nouns) for _ in range(4)] for _ in range(n_verbs)]
        self.cdf_nouns, self.cdf_verbs, self.cdf_adjs = zipf_cdf(n_nouns), zipf_cdf(n_verbs), zipf_cdf(n_adjs)
        self.cdf_core = zipf_cdf(n_core)
        self.cdf_vals = {"birth_city": zipf_cdf(n_cities), "university": zipf_cdf(n_unis),
                         "major": zipf_cdf(n_majors), "employer": zipf_cdf(n_employers),
                         "year": zipf_cdf(100)}
        self.vocab = (["[UNK]", "[PAD]"] + FUNCTION + MONTHS + [str(d) for d in range(1, 29)]
                      + [str(1900 + y) for y in range(100)] + [","]
                      + sorted({w for ts in list(TRAIN_TEMPLATES.values()) + list(GEN_TEMPLATES.values())
                                for t in ts for w in t.split()} - set(FUNCTION) - {"{n}", "{v}"})
                      + self.first + self.last + self.cities + self.unis + self.majors
                      + self.employers + self.nouns + self.verbs + self.adjs)
        assert len(self.vocab) == len(set(self.vocab))
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        # people the stream may name: every name but the reserved new-fact people
        self.n_stream = len(self.first) * len(self.last) - n_new

    # ---- people -------------------------------------------------------------
    # person index p -> name via a bijective scramble of (first, last) pairs.
    # core people: 0..n_core-1; new-fact people: reserved indices at the end of the
    # name space; arrivals: n_core + k.
    def name(self, p: int) -> str:
        n = len(self.first) * len(self.last)
        # affine bijection on [0, n): a*p + b mod n with gcd(a, n) = 1
        a, b = 7919, derive(self.seed, 3) % n
        q = (a * p + b) % n
        return f"{self.first[q % len(self.first)]} {self.last[q // len(self.first)]}"

    def new_person(self, j: int) -> int:
        return len(self.first) * len(self.last) - 1 - j

    def attrs(self, p: int) -> dict:
        r = Rng(derive(self.seed, 4, p))
        v = self.cdf_vals
        return {
            "birth_date": f"{MONTHS[r.below(12)]} {1 + r.below(28)} , {1900 + sample_cdf(v['year'], r.uniform())}",
            "birth_city": self.cities[sample_cdf(v["birth_city"], r.uniform())],
            "university": self.unis[sample_cdf(v["university"], r.uniform())],
            "major": self.majors[sample_cdf(v["major"], r.uniform())],
            "employer": self.employers[sample_cdf(v["employer"], r.uniform())],
        }

    def bio(self, p: int, r: Rng) -> list[str]:
        a, n = self.attrs(p), self.name(p)
        order = ATTRS[:]
        for i in range(len(order) - 1, 0, -1):
            j = r.below(i + 1)
            order[i], order[j] = order[j], order[i]
        out = []
        for at in order:
            ts = TRAIN_TEMPLATES[at]
            out.append(ts[r.below(len(ts))].replace("{n}", n).replace("{v}", a[at]))
        return out

    # ---- filler -------------------------------------------------------------
    def np_(self, r: Rng, noun: int) -> str:
        det = "the" if r.below(3) else "a"
        if r.below(3) == 0:
            return f"{det} {self.adjs[sample_cdf(self.cdf_adjs, r.uniform())]} {self.nouns[noun]}"
        return f"{det} {self.nouns[noun]}"

    def filler_sentence(self, r: Rng) -> str:
        s = sample_cdf(self.cdf_nouns, r.uniform())
        v = self.noun_verbs[s][r.below(3)] if r.below(5) else sample_cdf(self.cdf_verbs, r.uniform())
        o = self.verb_objs[v][r.below(4)] if r.below(5) else sample_cdf(self.cdf_nouns, r.uniform())
        core = f"{self.np_(r, s)} {self.verbs[v]} {self.np_(r, o)}"
        k = r.below(4)
        if k == 0:
            p = FUNCTION[4 + r.below(8)]
            core += f" {p} {self.np_(r, sample_cdf(self.cdf_nouns, r.uniform()))}"
        elif k == 1:
            core += f" {FUNCTION[12 + r.below(6)]}"
        return core + " ."

    # ---- stream -------------------------------------------------------------
    def person_at(self, step: int, r: Rng) -> int:
        if self.arrivals > 0 and r.uniform() < self.p_arrival and step > 0:
            total = int(step * self.arrivals)
            lo = max(0, total - int(self.window * self.arrivals))
            if total > lo:
                return (self.n_core + lo + r.below(total - lo)) % self.n_stream
        return sample_cdf(self.cdf_core, r.uniform())

    def document(self, step: int, row: int, tag: int = 0) -> str:
        r = Rng(derive(self.seed, 10 + tag, step, row))
        words: list[str] = []
        while len(words) < self.seq:
            if r.uniform() < self.p_bio:
                for s in self.bio(self.person_at(step, r), r):
                    words += s.split()
            else:
                for _ in range(2 + r.below(3)):
                    words += self.filler_sentence(r).split()
        return " ".join(words[: self.seq])

    def batch_ids(self, step: int, batch: int, tag: int = 0) -> list[list[int]]:
        return [[self.ids[w] for w in self.document(step, b, tag).split()] for b in range(batch)]

    def heldout(self, n: int, step: int = 0) -> list[str]:
        return [self.document(step, i, tag=1) for i in range(n)]

    # ---- facts --------------------------------------------------------------
    def fact(self, p: int, r: Rng) -> dict:
        a, n = self.attrs(p), self.name(p)
        ctx = " ".join(self.bio(p, r))
        mi, mt, gi, gt = [], [], [], []
        for at in ATTRS:
            t = TRAIN_TEMPLATES[at][r.below(len(TRAIN_TEMPLATES[at]))]
            mi.append(t.split("{v}")[0].replace("{n}", n).strip())
            mt.append(a[at])
            g = GEN_TEMPLATES[at][r.below(len(GEN_TEMPLATES[at]))]
            gi.append(g.split("{v}")[0].replace("{n}", n).strip())
            gt.append(a[at])
        return {"train_context": ctx, "mem_input": mi, "mem_target": mt,
                "gen_input": gi, "gen_target": gt}

    def known_facts(self) -> list[dict]:
        r = Rng(derive(self.seed, 20))
        return [self.fact(p, r) for p in range(self.n_known)]

    def new_facts(self) -> list[dict]:
        r = Rng(derive(self.seed, 21))
        return [self.fact(self.new_person(j), r) for j in range(self.n_new)]
