//! The Hugging Face folder: what `AutoModelForCausalLM.from_pretrained` and
//! `AutoTokenizer.from_pretrained` read, ready for `huggingface-cli upload`.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

use super::{file_err, ExportError, Source};
use crate::chat::template::{CHAT_TEMPLATE, IM_END};
use crate::fsutil::write_atomic;
use crate::generate::{CHAT_TEMPERATURE, CHAT_TOP_K, CHAT_TOP_P};
use crate::model::params::ParamLayout;

/// The weights' number format in `model.safetensors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HfDtype {
    F32,
    /// bfloat16: half the size; logits move by about 1e-2.
    Bf16,
}

impl HfDtype {
    fn torch_name(self) -> &'static str {
        match self {
            HfDtype::F32 => "float32",
            HfDtype::Bf16 => "bfloat16",
        }
    }
}

/// f32 to bfloat16, rounding to nearest even (as PyTorch does).
pub fn bf16_bits(x: f32) -> u16 {
    if x.is_nan() {
        return 0x7fc0;
    }
    let bits = x.to_bits();
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// `model.safetensors` bytes: every tensor under its HF name (a tied model
/// has no `lm_head.weight`; `tie_word_embeddings` says to reuse the embedding).
pub fn safetensors_bytes(src: &Source, dtype: HfDtype) -> Result<Vec<u8>, ExportError> {
    let layout = ParamLayout::new(&src.config);
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = layout
        .tensors
        .iter()
        .map(|t| {
            let values = &src.params[t.range()];
            let bytes = match dtype {
                HfDtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                HfDtype::Bf16 => values.iter().flat_map(|v| bf16_bits(*v).to_le_bytes()).collect(),
            };
            (t.name.clone(), t.shape.clone(), bytes)
        })
        .collect();
    let st_dtype = match dtype {
        HfDtype::F32 => Dtype::F32,
        HfDtype::Bf16 => Dtype::BF16,
    };
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(st_dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| ExportError::Unsupported(format!("tensor {name}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, &Some(metadata)).map_err(|e| ExportError::Unsupported(e.to_string()))
}

/// Writes the Hugging Face files into the folder `tmp`, which
/// [`super::bundle::export_model`] then puts in place whole.
pub fn export(src: &Source, tmp: &Path, dtype: HfDtype, card: &str) -> Result<(), ExportError> {
    fs::create_dir_all(tmp).map_err(|e| file_err(tmp, e))?;
    let tok = &src.tokenizer;
    let (eot, im_end) = (tok.eot_id(), tok.im_end_id());
    let write =
        |name: &str, bytes: &[u8]| write_atomic(tmp.join(name), bytes).map_err(|e| file_err(&tmp.join(name), e));
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).expect("json") + "\n";

    // A chat model ends its turn with <|im_end|>; documents end with <|endoftext|>.
    let mut config = src.config.to_hf_json(eot, im_end);
    config["torch_dtype"] = json!(dtype.torch_name());
    write("config.json", pretty(&config).as_bytes())?;
    write("model.safetensors", &safetensors_bytes(src, dtype)?)?;
    fs::copy(src.dir.join("tokenizer.json"), tmp.join("tokenizer.json")).map_err(|e| file_err(&src.dir, e))?;
    let eot_text = "<|endoftext|>";
    write(
        "tokenizer_config.json",
        pretty(&json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": eot_text,
            "eos_token": IM_END,
            "pad_token": eot_text,
            "unk_token": null,
            "add_bos_token": false,
            "add_eos_token": false,
            "clean_up_tokenization_spaces": false,
            "model_max_length": src.config.max_seq_len,
            "chat_template": CHAT_TEMPLATE,
        }))
        .as_bytes(),
    )?;
    write(
        "special_tokens_map.json",
        pretty(&json!({"bos_token": eot_text, "eos_token": IM_END, "pad_token": eot_text})).as_bytes(),
    )?;
    // `fledge chat`'s sampling, less its repetition penalty: fledge's counts
    // only the reply's own tokens, transformers' counts the prompt's too, and
    // so pushes the model away from the very words it was asked about (story
    // requests on subject through transformers, 6M shipped model, dev split,
    // 62 samples: 0.323 with a 1.1 penalty, 0.419 without).
    write(
        "generation_config.json",
        pretty(&json!({
            "bos_token_id": eot,
            "eos_token_id": [im_end, eot],
            "pad_token_id": eot,
            "do_sample": true,
            "temperature": decimal(CHAT_TEMPERATURE),
            "top_k": CHAT_TOP_K,
            "top_p": decimal(CHAT_TOP_P),
            "max_new_tokens": 200,
        }))
        .as_bytes(),
    )?;
    write("README.md", card.as_bytes())?;
    Ok(())
}

/// An f32 setting as the decimal it was written as (0.7, not 0.699999988 as
/// a plain widening to f64 would print it in JSON).
fn decimal(x: f32) -> f64 {
    x.to_string().parse().expect("an f32 prints as a decimal f64 parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(bf16_bits(1.0), 0x3f80);
        assert_eq!(bf16_bits(-2.0), 0xc000);
        // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to even.
        assert_eq!(bf16_bits(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(bf16_bits(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(bf16_bits(f32::NAN), 0x7fc0);
        assert_eq!(bf16_bits(f32::INFINITY), 0x7f80);
    }
}
