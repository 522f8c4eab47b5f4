"""Encode JSONL texts with Hugging Face's Python `tokenizers`, as an
independent consumer of the tokenizer.json that fledge writes.

usage: hf_tokenizers_encode.py TOKENIZER_JSON INPUT_JSONL OUTPUT_JSONL

Writes one object per input line: {"ids": [...], "decoded": "..."}.
Exits 3 if the `tokenizers` package is not installed.
"""
import json
import sys

try:
    from tokenizers import Tokenizer
except ImportError:
    sys.exit(3)

tok = Tokenizer.from_file(sys.argv[1])
texts = [json.loads(line)["text"] for line in open(sys.argv[2], encoding="utf-8") if line.strip()]
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for enc in tok.encode_batch(texts, add_special_tokens=False):
        decoded = tok.decode(enc.ids, skip_special_tokens=False)
        out.write(json.dumps({"ids": enc.ids, "decoded": decoded}) + "\n")
