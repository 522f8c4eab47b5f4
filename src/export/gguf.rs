//! The GGUF file llama.cpp (and so Ollama and LM Studio) loads: architecture
//! `llama`, the full BPE tokenizer in its metadata, and the weights in f32,
//! f16 or Q8_0. candle's GGUF writer and quantizer do the encoding; this
//! module decides names, layouts and metadata, as ../shared/DESIGN.md lists
//! what llama.cpp's loader requires.

use std::fs::File;
use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

use super::{file_err, ExportError, Source};
use crate::chat::template::CHAT_TEMPLATE;
use crate::fsutil::AtomicFile;
use crate::model::params::ParamLayout;

/// The weights' type in the file. Norm gains always stay f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgufType {
    F32,
    F16,
    /// 8-bit blocks of 32 values with one f16 scale: a quarter of f32's size.
    Q8_0,
}

impl GgufType {
    fn ggml(self) -> GgmlDType {
        match self {
            GgufType::F32 => GgmlDType::F32,
            GgufType::F16 => GgmlDType::F16,
            GgufType::Q8_0 => GgmlDType::Q8_0,
        }
    }

    /// `general.file_type` (llama.cpp's `LLAMA_FTYPE_*`).
    fn file_type(self) -> u32 {
        match self {
            GgufType::F32 => 0,
            GgufType::F16 => 1,
            GgufType::Q8_0 => 7,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GgufType::F32 => "f32",
            GgufType::F16 => "f16",
            GgufType::Q8_0 => "q8_0",
        }
    }
}

/// What the export did, tensor by tensor where it had to fall back.
#[derive(Debug, Default)]
pub struct GgufReport {
    pub tensors: usize,
    /// Tensors written as f16 because their rows are not a multiple of the
    /// quantized block (32 values for Q8_0).
    pub fallbacks: Vec<String>,
    pub bytes: u64,
}

/// The tokenizer as GGUF's `gpt2` model wants it: every token's byte-level
/// string by id, its type (1 normal, 3 control), and the merges as "a b".
struct GgufVocab {
    tokens: Vec<String>,
    types: Vec<i32>,
    merges: Vec<String>,
}

fn vocab(src: &Source) -> Result<GgufVocab, ExportError> {
    let path = src.dir.join("tokenizer.json");
    let text = std::fs::read_to_string(&path).map_err(|e| file_err(&path, e))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| file_err(&path, e))?;
    let bad = |m: &str| ExportError::Invalid { path: path.clone(), message: m.to_string() };
    let n = src.config.vocab_size;
    let mut tokens = vec![String::new(); n];
    let mut types = vec![1i32; n];
    let vocab = json["model"]["vocab"].as_object().ok_or_else(|| bad("no model.vocab: not a BPE tokenizer"))?;
    for (token, id) in vocab {
        let id = id.as_u64().ok_or_else(|| bad("model.vocab holds a non-integer id"))? as usize;
        *tokens.get_mut(id).ok_or_else(|| bad("a token id is past the vocabulary size"))? = token.clone();
    }
    for added in json["added_tokens"].as_array().into_iter().flatten() {
        let id = added["id"].as_u64().ok_or_else(|| bad("added_tokens entry without an id"))? as usize;
        let content = added["content"].as_str().ok_or_else(|| bad("added_tokens entry without content"))?;
        *tokens.get_mut(id).ok_or_else(|| bad("an added token id is past the vocabulary size"))? = content.into();
        if added["special"].as_bool().unwrap_or(false) {
            types[id] = 3;
        }
    }
    if let Some(id) = tokens.iter().position(String::is_empty) {
        return Err(bad(&format!("token id {id} has no string")));
    }
    let merges = json["model"]["merges"]
        .as_array()
        .ok_or_else(|| bad("no model.merges"))?
        .iter()
        .map(|m| match m {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(pair) if pair.len() == 2 => {
                Some(format!("{} {}", pair[0].as_str()?, pair[1].as_str()?))
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("a merge is neither \"a b\" nor [\"a\", \"b\"]"))?;
    Ok(GgufVocab { tokens, types, merges })
}

/// HF stores each head's query/key rows as two halves (rotate-half rotary);
/// llama.cpp rotates interleaved pairs. Row `h*hd + i*hd/2 + j` moves to
/// `h*hd + 2j + i`, as llama.cpp's converter permutes them.
pub fn permute_rotary(w: &[f32], heads: usize, d_in: usize) -> Vec<f32> {
    let rows = w.len() / d_in;
    let hd = rows / heads;
    let half = hd / 2;
    let mut out = vec![0.0; w.len()];
    for h in 0..heads {
        for i in 0..2 {
            for j in 0..half {
                let from = h * hd + i * half + j;
                let to = h * hd + 2 * j + i;
                out[to * d_in..(to + 1) * d_in].copy_from_slice(&w[from * d_in..(from + 1) * d_in]);
            }
        }
    }
    out
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> Result<Tensor, ExportError> {
    Tensor::from_vec(values, shape, &Device::Cpu).map_err(|e| ExportError::Unsupported(e.to_string()))
}

/// Writes `path` (through a temporary name, renamed when complete).
pub fn export(src: &Source, path: &Path, ty: GgufType, name: &str) -> Result<GgufReport, ExportError> {
    let c = &src.config;
    let layout = ParamLayout::new(c);
    let v = vocab(src)?;
    let tok = &src.tokenizer;
    let s = |x: &str| Value::String(x.to_string());
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", s("llama")),
        ("general.name", s(name)),
        ("general.file_type", Value::U32(ty.file_type())),
        ("general.quantization_version", Value::U32(2)),
        ("llama.context_length", Value::U32(c.max_seq_len as u32)),
        ("llama.embedding_length", Value::U32(c.d_model as u32)),
        ("llama.block_count", Value::U32(c.n_layers as u32)),
        ("llama.feed_forward_length", Value::U32(c.ffn_hidden as u32)),
        ("llama.attention.head_count", Value::U32(c.n_heads as u32)),
        ("llama.attention.head_count_kv", Value::U32(c.n_kv_heads as u32)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(c.norm_eps)),
        ("llama.rope.freq_base", Value::F32(c.rope_theta)),
        ("llama.rope.dimension_count", Value::U32(c.head_dim() as u32)),
        ("llama.vocab_size", Value::U32(c.vocab_size as u32)),
        ("tokenizer.ggml.model", s("gpt2")),
        ("tokenizer.ggml.pre", s("gpt-2")),
        ("tokenizer.ggml.tokens", Value::Array(v.tokens.into_iter().map(Value::String).collect())),
        ("tokenizer.ggml.token_type", Value::Array(v.types.into_iter().map(Value::I32).collect())),
        ("tokenizer.ggml.merges", Value::Array(v.merges.into_iter().map(Value::String).collect())),
        ("tokenizer.ggml.bos_token_id", Value::U32(tok.eot_id())),
        ("tokenizer.ggml.eos_token_id", Value::U32(tok.im_end_id())),
        ("tokenizer.ggml.padding_token_id", Value::U32(tok.eot_id())),
        ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
        ("tokenizer.ggml.add_eos_token", Value::Bool(false)),
        ("tokenizer.chat_template", s(CHAT_TEMPLATE)),
    ];

    let mut report = GgufReport::default();
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let p = &src.params;
    let mut add = |gguf_name: String, values: Vec<f32>, shape: &[usize]| -> Result<(), ExportError> {
        let t = tensor(values, shape)?;
        let row = *shape.last().expect("a shape");
        let wanted = if shape.len() == 1 { GgmlDType::F32 } else { ty.ggml() };
        let dtype = if row % wanted.block_size() == 0 {
            wanted
        } else {
            report.fallbacks.push(format!("{gguf_name} ({row} values per row)"));
            GgmlDType::F16
        };
        let q = QTensor::quantize(&t, dtype).map_err(|e| ExportError::Unsupported(format!("{gguf_name}: {e}")))?;
        tensors.push((gguf_name, q));
        Ok(())
    };
    let d = c.d_model;
    let kv = c.n_kv_heads * c.head_dim();
    let get = |off: usize, len: usize| p[off..off + len].to_vec();
    add("token_embd.weight".into(), get(layout.embed, c.vocab_size * d), &[c.vocab_size, d])?;
    for (i, l) in layout.layers.iter().enumerate() {
        let b = |n: &str| format!("blk.{i}.{n}.weight");
        add(b("attn_norm"), get(l.attn_norm, d), &[d])?;
        add(b("attn_q"), permute_rotary(&get(l.wq, d * d), c.n_heads, d), &[d, d])?;
        add(b("attn_k"), permute_rotary(&get(l.wk, kv * d), c.n_kv_heads, d), &[kv, d])?;
        add(b("attn_v"), get(l.wv, kv * d), &[kv, d])?;
        add(b("attn_output"), get(l.wo, d * d), &[d, d])?;
        add(b("ffn_norm"), get(l.ffn_norm, d), &[d])?;
        add(b("ffn_gate"), get(l.w_gate, c.ffn_hidden * d), &[c.ffn_hidden, d])?;
        add(b("ffn_up"), get(l.w_up, c.ffn_hidden * d), &[c.ffn_hidden, d])?;
        add(b("ffn_down"), get(l.w_down, d * c.ffn_hidden), &[d, c.ffn_hidden])?;
    }
    add("output_norm.weight".into(), get(layout.final_norm, d), &[d])?;
    if !c.tie_embeddings {
        add("output.weight".into(), get(layout.lm_head, c.vocab_size * d), &[c.vocab_size, d])?;
    }
    report.tensors = tensors.len();

    let meta_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut file = AtomicFile::create(path).map_err(|e| file_err(path, e))?;
    gguf_file::write(&mut file, &meta_refs, &tensor_refs).map_err(|e| file_err(path, e))?;
    file.commit().map_err(|e| file_err(path, e))?;
    report.bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(report)
}

/// Opens a GGUF file written by [`export`] and checks it reads back: every
/// tensor present with its shape. Returns the metadata keys.
pub fn read_back(path: &Path) -> Result<Vec<String>, ExportError> {
    let mut f = File::open(path).map_err(|e| file_err(path, e))?;
    let content = gguf_file::Content::read(&mut f).map_err(|e| file_err(path, e))?;
    Ok(content.metadata.keys().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotary_rows_move_from_halves_to_pairs() {
        // One head of 4 rows (hd = 4), one value per row: halves [0 1 | 2 3] become pairs [0 2 1 3].
        assert_eq!(permute_rotary(&[0.0, 1.0, 2.0, 3.0], 1, 1), vec![0.0, 2.0, 1.0, 3.0]);
        // Two heads move independently.
        let w: Vec<f32> = (0..8).map(|x| x as f32).collect();
        assert_eq!(permute_rotary(&w, 2, 1), vec![0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0]);
    }
}
