"""Reads GGUF files fledge exported with the `gguf` package (llama.cpp's own
reader) and checks them against the HF folder exported beside them.

Usage: gguf_check.py HF_FOLDER F32.gguf Q8_0.gguf
Prints one JSON line of what it found.
"""
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import load_file

folder, f32_path, q8_path = sys.argv[1:4]
hf = load_file(folder + "/model.safetensors")
config = json.load(open(folder + "/config.json"))
tokenizer = json.load(open(folder + "/tokenizer.json"))


def field(reader, key):
    f = reader.fields[key]
    if len(f.types) == 1 and f.types[0].name == "STRING":
        return bytes(f.parts[f.data[0]]).decode()
    if f.types[0].name == "ARRAY":
        return [bytes(f.parts[i]).decode() if f.types[-1].name == "STRING" else f.parts[i].tolist()[0] for i in f.data]
    return f.parts[f.data[0]].tolist()[0]


def unpermute(w, heads):
    # llama.cpp's interleaved rotary rows back to HF's halves.
    rows, cols = w.shape
    hd = rows // heads
    return w.reshape(heads, hd // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


out = {}
for label, path in [("f32", f32_path), ("q8_0", q8_path)]:
    r = GGUFReader(path)
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    merges = field(r, "tokenizer.ggml.merges")
    specials = [t["content"] for t in tokenizer["added_tokens"] if t["special"]]
    assert field(r, "general.architecture") == "llama"
    assert field(r, "tokenizer.ggml.model") == "gpt2" and field(r, "tokenizer.ggml.pre") == "gpt-2"
    assert len(tokens) == config["vocab_size"], len(tokens)
    vocab = tokenizer["model"]["vocab"]
    assert all(tokens[i] == t for t, i in vocab.items()), "token strings differ from tokenizer.json"
    assert all(types[tokens.index(s)] == 3 for s in specials), "special tokens are not control tokens"
    assert len(merges) == len(tokenizer["model"]["merges"])
    assert field(r, "llama.block_count") == config["num_hidden_layers"]
    assert field(r, "llama.context_length") == config["max_position_embeddings"]
    worst, types_seen = 0.0, {}
    for t in r.tensors:
        w = dequantize(t.data, t.tensor_type).reshape([int(x) for x in reversed(t.shape.tolist())])
        types_seen[t.tensor_type.name] = types_seen.get(t.tensor_type.name, 0) + 1
        name = t.name
        if name == "token_embd.weight":
            ref = hf["model.embed_tokens.weight"]
        elif name == "output_norm.weight":
            ref = hf["model.norm.weight"]
        else:
            _, i, kind, _ = name.split(".")
            hf_name = {
                "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
                "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
                "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
            }[kind]
            ref = hf[f"model.layers.{i}.{hf_name}.weight"]
            if kind == "attn_q":
                w = unpermute(w, config["num_attention_heads"])
            if kind == "attn_k":
                w = unpermute(w, config["num_key_value_heads"])
        assert w.shape == ref.shape, (name, w.shape, ref.shape)
        worst = max(worst, float(np.abs(w - ref).max()))
    out[label] = {"tensors": len(r.tensors), "types": types_seen, "max_abs_weight_diff": worst,
                  "tokens": len(tokens), "merges": len(merges)}
print(json.dumps(out))
