#!/usr/bin/env python3
"""Writes Tests/Fixtures/hub: a Hugging Face hub cache laid out as huggingface_hub lays it out
(models--ORG--NAME/refs, snapshots/<commit>/ as symlinks into blobs/<sha256>), for the repository
ke-fixtures/series, whose revisions are the checkpoints of Tests/Fixtures/series under Pythia,
OLMo and OLMo 2 revision names. To keep the repository small each blob is itself a relative
symlink to the fixture file it holds (the real hub stores the bytes there). step2000 is a
deliberate duplicate: another commit serving step1000's weights (as EleutherAI/pythia#205).
Run from anywhere; no network, no packages."""
import hashlib, os, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERIES = os.path.join(ROOT, "Tests/Fixtures/series")
HUB = os.path.join(ROOT, "Tests/Fixtures/hub")
REPO = os.path.join(HUB, "models--ke-fixtures--series")

# revision -> fixture folder
REVISIONS = {
    "step50": "step-50",
    "step1000": "step1000",
    "step2000": "step1000",
    "step3000-tokens4B": "step3000-tokens4B",
    "stage1-step1500-tokens3B": "stage1-step1500-tokens3B",
    "stage2-ingredient1-step200-tokens1B": "checkpoint-200",
}
# other refs -> the revision whose commit they share
ALIASES = {"main": "step3000-tokens4B", "refs/pr/1": "step50"}


def commit_of(revision):
    return hashlib.sha1(("ke-fixtures/series " + revision).encode()).hexdigest()


shutil.rmtree(HUB, ignore_errors=True)
os.makedirs(os.path.join(REPO, "blobs"))
commits = {}
for revision, folder in REVISIONS.items():
    commit = commit_of(revision)
    commits[revision] = commit
    snap = os.path.join(REPO, "snapshots", commit)
    os.makedirs(snap)
    for name in sorted(os.listdir(os.path.join(SERIES, folder))):
        src = os.path.join(SERIES, folder, name)
        sha = hashlib.sha256(open(src, "rb").read()).hexdigest()
        blob = os.path.join(REPO, "blobs", sha)
        if not os.path.lexists(blob):
            os.symlink(os.path.relpath(src, os.path.dirname(blob)), blob)
        os.symlink(os.path.join("../../blobs", sha), os.path.join(snap, name))
for ref, revision in [(r, r) for r in REVISIONS] + list(ALIASES.items()):
    path = os.path.join(REPO, "refs", ref)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(commits[revision])
print("wrote", os.path.relpath(HUB, ROOT))
