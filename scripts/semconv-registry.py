#!/usr/bin/env python3
"""Derives fixtures/semconv/*.tsv: every attribute a pinned semantic-conventions registry defines,
with its type and stability, for the test that checks generated spans against the registry
(tests/it/semconv.rs). See fixtures/semconv/README.md for what each file is pinned to.

    scripts/semconv-registry.py SEMCONV_GIT GENAI_GIT

SEMCONV_GIT is a git directory of open-telemetry/semantic-conventions (with tag v1.41.1),
GENAI_GIT one of semantic-conventions-genai holding commit GENAI_COMMIT. Output lines:

    key <TAB> type <TAB> stability      (type: string, int, double, boolean, any, string[], …,
                                         enum:string / enum:int; stability: stable,
                                         development, … or deprecated)
"""
import subprocess
import sys

import yaml

SEMCONV_TAG = "v1.41.1"
# semantic-conventions-genai has no release tag; this commit (2026-05-11, main plus a release
# workflow, tagged v1.42.0-dev in trask/semantic-conventions-genai) declares schema
# gen-ai-dev/1.42.0-dev and depends on core semconv v1.41.0 minus gen-ai/, mcp/ and openai/.
GENAI_COMMIT = "34beb964c5be95463b28eb0b759f29046ca26325"
GENAI_OWNS = ("model/gen-ai/", "model/mcp/", "model/openai/")
# Changes merged upstream after that commit, applied by hand (their PR text is the source):
#   #217 (2026-05-29) gen_ai.request.top_k double -> int
#   #440             gen_ai.usage.cache_creation.input_tokens renamed
#                    gen_ai.usage.cache_write.input_tokens (the old name deprecated)
GENAI_PATCHES = {
    "gen_ai.request.top_k": ("int", "development"),
    "gen_ai.usage.cache_write.input_tokens": ("int", "development"),
    "gen_ai.usage.cache_creation.input_tokens": ("int", "deprecated"),
}


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def yaml_files(repo, rev, keep):
    for path in git(repo, "ls-tree", "-r", "--name-only", rev, "model").split():
        if path.endswith(".yaml") and keep(path):
            yield path, yaml.safe_load(git(repo, "show", f"{rev}:{path}")) or {}


def type_of(t):
    if isinstance(t, dict):
        values = [m.get("value") for m in t.get("members", [])]
        return "enum:int" if values and all(isinstance(v, int) for v in values) else "enum:string"
    return str(t)


def attributes(doc):
    """Attribute definitions of a file in either model format (groups/id or definition/2/key)."""
    lists = [g.get("attributes") or [] for g in doc.get("groups") or []]
    lists.append(doc.get("attributes") or [])
    for attrs in lists:
        for a in attrs:
            key = a.get("id") or a.get("key")
            if key and "type" in a and "ref" not in a:
                status = "deprecated" if a.get("deprecated") else a.get("stability", "development")
                yield key, type_of(a["type"]), status


def registry(sources):
    out = {}
    for repo, rev, keep in sources:
        for _, doc in yaml_files(repo, rev, keep):
            for key, ty, status in attributes(doc):
                out[key] = (ty, status)
    return out


def write(path, reg, header):
    with open(path, "w") as f:
        f.write(header)
        for key in sorted(reg):
            f.write("{}\t{}\t{}\n".format(key, *reg[key]))
    print(f"wrote {path}: {len(reg)} attributes")


def main():
    semconv, genai = sys.argv[1:3]
    core = registry([(semconv, SEMCONV_TAG, lambda p: True)])
    write("fixtures/semconv/1.41.tsv", core,
          f"# open-telemetry/semantic-conventions {SEMCONV_TAG} model/ (scripts/semconv-registry.py)\n")
    dev = registry([
        (semconv, SEMCONV_TAG, lambda p: not p.startswith(GENAI_OWNS)),
        (genai, GENAI_COMMIT, lambda p: True),
    ])
    dev.update(GENAI_PATCHES)
    write("fixtures/semconv/genai-dev.tsv", dev,
          f"# semantic-conventions {SEMCONV_TAG} model/ without {' '.join(GENAI_OWNS)} + "
          f"semantic-conventions-genai {GENAI_COMMIT} model/ + PRs #217, #440 (scripts/semconv-registry.py)\n")


if __name__ == "__main__":
    main()
