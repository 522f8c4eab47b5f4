//! Byte-level BPE: training, encoding and decoding, saved as a Hugging Face
//! `tokenizer.json`.
//!
//! We build on the `tokenizers` crate (the same code Python's `tokenizers`
//! and `transformers` run), so the file we write is the file they read, and an
//! id sequence fledge produces is the one they produce. The configuration is
//! GPT-2's: no normalizer, the ByteLevel pre-tokenizer (GPT-2's split regex, no
//! prefix space) and ByteLevel decoder, all 256 byte symbols in the base
//! alphabet so that every byte string encodes and `decode(encode(s)) == s`.
//!
//! Special tokens (`../shared/DESIGN.md`): `<|endoftext|>` ends every
//! pretraining document; `<|im_start|>` and `<|im_end|>` frame chat messages.
//! They take ids 0, 1, 2. In text a user typed they are plain characters:
//! [`Tokenizer::encode`] only turns them into their ids when asked to.

use std::path::Path;

use sha2::{Digest, Sha256};
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, TokenizerBuilder};

pub const ENDOFTEXT: &str = "<|endoftext|>";
pub const IM_START: &str = "<|im_start|>";
pub const IM_END: &str = "<|im_end|>";
pub const SPECIAL_TOKENS: [&str; 3] = [ENDOFTEXT, IM_START, IM_END];

/// The smallest vocabulary that holds every byte and the special tokens.
pub const MIN_VOCAB: usize = 256 + SPECIAL_TOKENS.len();

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("vocabulary size {0} is too small: byte-level BPE needs the 256 byte tokens plus {n} special tokens, so at least {MIN_VOCAB}; choose e.g. 4096", n = SPECIAL_TOKENS.len())]
    VocabTooSmall(usize),
    #[error("cannot train a tokenizer on an empty corpus: no text was read")]
    EmptyCorpus,
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path}: this tokenizer lacks the special token {token}; fledge needs {SPECIAL_TOKENS:?} (train one with `fledge tokenizer train`)")]
    MissingSpecial { path: String, token: String },
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    UnknownId { id: u32, vocab: usize },
    #[error("tokenizer: {0}")]
    Library(String),
}

fn lib_err(e: impl std::fmt::Display) -> TokenizerError {
    TokenizerError::Library(e.to_string())
}

type HfTokenizer = tokenizers::Tokenizer;

/// Checks that the token ids run from 0 to the vocabulary size minus one.
///
/// The model has one embedding row per id, so an id at or past the size
/// would index past the embedding; and serializing the tokenizer (for its
/// hash) lays the vocabulary out in a table as long as the largest id, so an
/// id of 4,000,000,000 would ask for gigabytes. Both are refused here, first.
fn check_ids_dense(hf: &HfTokenizer, origin: &str) -> Result<(), TokenizerError> {
    let vocab = hf.get_vocab(true);
    let size = hf.get_vocab_size(true);
    if let Some((token, id)) = vocab.iter().max_by_key(|(_, &id)| id) {
        if *id as usize >= size {
            return Err(TokenizerError::File {
                path: origin.to_string(),
                message: format!(
                    "token {token:?} has id {id}, but the vocabulary has {size} tokens, so ids must lie between 0 and {}: the file is damaged; use the tokenizer.json the model was trained with",
                    size.saturating_sub(1)
                ),
            });
        }
    }
    Ok(())
}

/// A byte-level BPE tokenizer with fledge's special tokens.
#[derive(Clone)]
pub struct Tokenizer {
    /// Treats special-token strings in the input as plain text.
    plain: HfTokenizer,
    /// Turns special-token strings into their ids (for chat templates).
    with_special: HfTokenizer,
    hash: String,
    specials: [u32; 3],
}

impl Tokenizer {
    /// Trains a tokenizer of `vocab_size` tokens (special tokens included) on texts.
    pub fn train<I, S>(texts: I, vocab_size: usize, show_progress: bool) -> Result<Self, TokenizerError>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        if vocab_size < MIN_VOCAB {
            return Err(TokenizerError::VocabTooSmall(vocab_size));
        }
        let mut seen_text = false;
        let texts = texts.inspect(|t| seen_text |= !t.as_ref().is_empty());
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .show_progress(show_progress)
            .special_tokens(SPECIAL_TOKENS.iter().map(|s| AddedToken::from(*s, true)).collect())
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build();
        let mut hf: tokenizers::TokenizerImpl<BPE, _, _, _, _> = TokenizerBuilder::new()
            .with_model(BPE::default())
            .with_normalizer(None::<tokenizers::NormalizerWrapper>)
            .with_pre_tokenizer(Some(tokenizers::PreTokenizerWrapper::ByteLevel(
                ByteLevel::default().add_prefix_space(false),
            )))
            .with_post_processor(Some(tokenizers::PostProcessorWrapper::ByteLevel(
                ByteLevel::default().add_prefix_space(false).trim_offsets(false),
            )))
            .with_decoder(Some(tokenizers::DecoderWrapper::ByteLevel(ByteLevel::default())))
            .build()
            .map_err(lib_err)?;
        hf.train(&mut trainer, texts).map_err(lib_err)?;
        if !seen_text {
            return Err(TokenizerError::EmptyCorpus);
        }
        let hf: HfTokenizer = hf.into();
        Self::from_hf(hf, "<trained>")
    }

    /// Loads a `tokenizer.json` (fledge's, or any byte-level BPE with the special tokens).
    pub fn load(path: &Path) -> Result<Self, TokenizerError> {
        let err = |message: String| TokenizerError::File { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read the tokenizer: {e}")))?;
        // The JSON's syntax is checked first: the library panics, instead of
        // returning an error, on some malformed `decoder` sections.
        serde_json::from_str::<serde::de::IgnoredAny>(&text)
            .map_err(|e| err(format!("not valid JSON ({e}); use the tokenizer.json the model was trained with")))?;
        let hf: HfTokenizer = text.parse().map_err(|e| err(format!("cannot load tokenizer: {e}")))?;
        Self::from_hf(hf, &path.display().to_string())
    }

    fn from_hf(hf: HfTokenizer, origin: &str) -> Result<Self, TokenizerError> {
        check_ids_dense(&hf, origin)?;
        let mut specials = [0u32; 3];
        for (slot, token) in specials.iter_mut().zip(SPECIAL_TOKENS) {
            *slot = hf
                .token_to_id(token)
                .ok_or_else(|| TokenizerError::MissingSpecial { path: origin.to_string(), token: token.to_string() })?;
        }
        // The hash names the tokenizer's content, not its file's bytes, so a
        // re-saved copy of the same tokenizer is recognised as the same.
        let canonical = hf.to_string(false).map_err(lib_err)?;
        let hash = hex(&Sha256::digest(canonical.as_bytes()));
        let mut plain = hf.clone();
        plain.set_encode_special_tokens(true);
        Ok(Self { plain, with_special: hf, hash, specials })
    }

    /// Writes `tokenizer.json` atomically.
    pub fn save(&self, path: &Path) -> Result<(), TokenizerError> {
        let json = self.with_special.to_string(true).map_err(lib_err)?;
        crate::fsutil::write_atomic(path, json.as_bytes())
            .map_err(|e| TokenizerError::File { path: path.display().to_string(), message: e.to_string() })
    }

    /// Encodes text. Special-token strings stay plain text unless
    /// `allow_special`, as in text a user typed.
    pub fn encode(&self, text: &str, allow_special: bool) -> Vec<u32> {
        let tok = if allow_special { &self.with_special } else { &self.plain };
        // Encoding a &str cannot fail with this model and pre-tokenizer; an
        // error here would be a bug in the library, not bad input.
        tok.encode_fast(text, false).expect("byte-level BPE encodes any string").get_ids().to_vec()
    }

    /// Encodes many texts in parallel on all cores.
    pub fn encode_batch(&self, texts: &[&str], allow_special: bool) -> Vec<Vec<u32>> {
        let tok = if allow_special { &self.with_special } else { &self.plain };
        let inputs: Vec<tokenizers::EncodeInput> = texts.iter().map(|t| (*t).into()).collect();
        tok.encode_batch_fast(inputs, false)
            .expect("byte-level BPE encodes any string")
            .iter()
            .map(|e| e.get_ids().to_vec())
            .collect()
    }

    /// Decodes ids to text (special tokens included as their strings).
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let vocab = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(TokenizerError::UnknownId { id, vocab });
        }
        self.plain.decode(ids, false).map_err(lib_err)
    }

    pub fn vocab_size(&self) -> usize {
        self.plain.get_vocab_size(true)
    }

    /// SHA-256 of the tokenizer's canonical JSON, hex.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn eot_id(&self) -> u32 {
        self.specials[0]
    }
    pub fn im_start_id(&self) -> u32 {
        self.specials[1]
    }
    pub fn im_end_id(&self) -> u32 {
        self.specials[2]
    }

    /// How many bytes of text each token stands for (0 for special tokens):
    /// the denominator of bits per byte.
    pub fn token_byte_lengths(&self) -> Vec<u32> {
        (0..self.vocab_size() as u32)
            .map(|id| {
                if self.specials.contains(&id) {
                    0
                } else {
                    // Byte-level tokens spell each byte as one character.
                    self.plain.id_to_token(id).map(|t| t.chars().count() as u32).unwrap_or(0)
                }
            })
            .collect()
    }

    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.plain.id_to_token(id)
    }

    /// The bytes of text a token stands for (a special token: its name). A
    /// token may end inside a multi-byte character, so these are bytes, not
    /// a string; [`Tokenizer::token_text`] shows them as one.
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let Some(token) = self.plain.id_to_token(id) else { return Vec::new() };
        if self.specials.contains(&id) {
            return token.into_bytes();
        }
        let map = byte_level_map();
        token.chars().map(|c| map.get(&c).copied().unwrap_or(b'?')).collect()
    }

    /// A token's text as it would print (bytes that are not whole UTF-8
    /// characters shown as U+FFFD).
    pub fn token_text(&self, id: u32) -> String {
        String::from_utf8_lossy(&self.token_bytes(id)).into_owned()
    }
}

/// GPT-2's byte-level alphabet inverted: the character that spells each byte
/// in a token's string → the byte. Printable Latin-1 bytes spell themselves;
/// the other 68 take the code points from U+0100 on, in byte order.
fn byte_level_map() -> &'static std::collections::HashMap<char, u8> {
    static MAP: std::sync::OnceLock<std::collections::HashMap<char, u8>> = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let mut next = 256u32;
        (0..=255u8)
            .map(|b| {
                let c = if printable(b) {
                    char::from(b)
                } else {
                    next += 1;
                    char::from_u32(next - 1).expect("a valid code point")
                };
                (c, b)
            })
            .collect()
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    #[test]
    fn token_bytes_spell_the_text() {
        let tok = tokenizer();
        for text in ["Hello, wörld! 你好 \n\t done", "a  b\r\nc", "émoji 🙂 ok"] {
            let bytes: Vec<u8> = tok.encode(text, false).iter().flat_map(|&id| tok.token_bytes(id)).collect();
            assert_eq!(bytes, text.as_bytes());
        }
        assert_eq!(tok.token_text(tok.im_end_id()), "<|im_end|>");
    }

    fn sample_corpus() -> Vec<String> {
        let base = [
            "Once upon a time, there was a little fox who lived in the green wood.",
            "The fox liked to run and jump. One day, the fox met a big bear.",
            "\"Hello, bear!\" said the fox. The bear smiled and said, \"Hello, little fox!\"",
            "They played together all day, and at night they looked at the moon. Ünïcödé café naïve 日本語 🦊.",
        ];
        (0..50).flat_map(|i| base.iter().map(move |s| format!("{s} ({i})"))).collect()
    }

    fn tokenizer() -> &'static Tokenizer {
        static TOK: OnceLock<Tokenizer> = OnceLock::new();
        TOK.get_or_init(|| Tokenizer::train(sample_corpus().into_iter(), 400, false).unwrap())
    }

    #[test]
    fn special_tokens_have_fixed_ids() {
        let t = tokenizer();
        assert_eq!((t.eot_id(), t.im_start_id(), t.im_end_id()), (0, 1, 2));
        assert!(t.vocab_size() <= 400 && t.vocab_size() > MIN_VOCAB);
    }

    #[test]
    fn special_strings_are_plain_text_unless_asked() {
        let t = tokenizer();
        let text = "hi <|endoftext|> there<|im_start|>user\n";
        let plain = t.encode(text, false);
        assert!(!plain.contains(&0) && !plain.contains(&1));
        assert_eq!(t.decode(&plain).unwrap(), text);
        let special = t.encode(text, true);
        assert!(special.contains(&0) && special.contains(&1));
        assert_eq!(t.decode(&special).unwrap(), text);
    }

    #[test]
    fn too_small_vocab_is_refused() {
        let err = Tokenizer::train(sample_corpus().into_iter(), 200, false).err().unwrap();
        assert!(err.to_string().contains("at least 259"), "{err}");
    }

    #[test]
    fn empty_corpus_is_refused() {
        let err = Tokenizer::train(Vec::<String>::new().into_iter(), 1000, false).err().unwrap();
        assert!(matches!(err, TokenizerError::EmptyCorpus));
    }

    #[test]
    fn save_load_keeps_hash_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        tokenizer().save(&p).unwrap();
        let loaded = Tokenizer::load(&p).unwrap();
        assert_eq!(loaded.hash(), tokenizer().hash());
        let s = "The fox met a bear (7).";
        assert_eq!(loaded.encode(s, false), tokenizer().encode(s, false));
    }

    /// Issue 19, item 6: an id of 4,000,000,000 used to abort every command
    /// that loaded the file (an 8 GB table while hashing); now loading refuses
    /// it at once, naming the file and the token.
    #[test]
    fn huge_id_in_tokenizer_json_is_refused_quickly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        tokenizer().save(&p).unwrap();
        let mut j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let vocab = j["model"]["vocab"].as_object_mut().unwrap();
        let token = vocab.iter().find(|(_, id)| id.as_u64() == Some(300)).unwrap().0.clone();
        vocab.insert(token.clone(), serde_json::json!(4_000_000_000u64));
        std::fs::write(&p, j.to_string()).unwrap();
        let start = std::time::Instant::now();
        let err = Tokenizer::load(&p).err().expect("refused").to_string();
        assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
        assert!(err.contains("tokenizer.json") && err.contains("id 4000000000"), "{err}");
    }

    /// A syntax error inside the `decoder` section made the library panic
    /// (found by tests/fuzz_readers.rs); now it is an error naming the file.
    #[test]
    fn malformed_decoder_section_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        tokenizer().save(&p).unwrap();
        let mut text = std::fs::read_to_string(&p).unwrap();
        let brace = text.find("\"decoder\"").unwrap() + text[text.find("\"decoder\"").unwrap()..].find('{').unwrap();
        text.insert(brace + 1, '1');
        std::fs::write(&p, text).unwrap();
        let err = Tokenizer::load(&p).err().expect("refused").to_string();
        assert!(err.contains("tokenizer.json") && err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn unknown_ids_are_an_error() {
        assert!(tokenizer().decode(&[5, 100_000]).is_err());
    }

    #[test]
    fn batch_encoding_equals_one_by_one() {
        let t = tokenizer();
        let corpus = sample_corpus();
        let texts: Vec<&str> = corpus.iter().map(|s| s.as_str()).collect();
        let batch = t.encode_batch(&texts, false);
        for (text, ids) in texts.iter().zip(batch) {
            assert_eq!(ids, t.encode(text, false));
        }
    }

    fn special_laced_string() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            any::<String>(),
            "\\PC*",
            Just(ENDOFTEXT.to_string()),
            Just(IM_START.to_string()),
            Just(IM_END.to_string()),
            Just("<|im_start|>assistant\n".to_string()),
            Just(" \r\n\t  ".to_string()),
        ];
        proptest::collection::vec(piece, 0..6).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn decode_encode_round_trips(s in special_laced_string()) {
            let t = tokenizer();
            let ids = t.encode(&s, false);
            prop_assert_eq!(t.decode(&ids).unwrap(), s.clone());
            for special in [t.eot_id(), t.im_start_id(), t.im_end_id()] {
                prop_assert!(!ids.contains(&special), "special id in plain encoding of {:?}", s);
            }
            let ids = t.encode(&s, true);
            prop_assert_eq!(t.decode(&ids).unwrap(), s);
        }
    }
}
