//! Every reader of outside bytes, fed generated inputs (issue 19, item 9):
//! arbitrary bytes, and valid files mutated (bytes flipped, inserted,
//! deleted, the file cut short, numbers replaced by huge ones). Whatever the
//! input, a reader must answer with its value or a clear error that names
//! the file: no panic, no abort, and no large allocation made from a number
//! it read.
//!
//! The number of inputs per property comes from `FLEDGE_FUZZ_CASES` (default
//! 24, so the file stays fast in CI); `FLEDGE_FUZZ_SECONDS` makes each
//! property go on drawing rounds of that many until the time is spent. Each
//! property prints how many inputs it tried (`--nocapture` shows it):
//!
//! ```text
//! FLEDGE_FUZZ_SECONDS=60 cargo test --release --test fuzz_readers -- --nocapture --test-threads 1
//! ```
//!
//! The tests of issue 19's items 4 to 6 on whole folders (a shard with an id
//! past the vocabulary, configs with huge sizes through import, chat, serve
//! and checkpoint loading) are here too, at the end.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fledge::model::params::{init_params, ParamLayout};
use fledge::model::ModelConfig;
use fledge::tokenizer::Tokenizer;
use fledge::train::checkpoint;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

// ---------------------------------------------------------------------------
// The memory bound: the largest single allocation each thread asks for.

/// Forwards to the system allocator, noting the largest request of the
/// current thread, so that a case can assert that reading a small file never
/// asked for a large block (a size taken from the file, unchecked).
struct Watched;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: never panics, even while the thread is being torn down.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds `GlobalAlloc`'s contract; the only other work is `note`, which
// neither allocates (a const-initialized `Cell<usize>` thread-local has no
// lazy initialization and no destructor) nor unwinds.
unsafe impl GlobalAlloc for Watched {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Watched = Watched;

/// No single allocation while reading one of these small files may exceed
/// this: the inputs are kilobytes, so anything near it was sized by a number
/// read from the file.
const MAX_ALLOCATION: usize = 256 << 20;

#[test]
fn the_watch_sees_a_large_allocation() {
    LARGEST.with(|l| l.set(0));
    let big = vec![1u8; 300 << 20];
    assert!(LARGEST.with(Cell::get) >= 300 << 20);
    drop(big);
}

// ---------------------------------------------------------------------------
// The runner: cases from the environment, counts printed.

fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `check` on inputs drawn from `strategy`: `FLEDGE_FUZZ_CASES` of them,
/// in rounds until `FLEDGE_FUZZ_SECONDS` are spent. `check` returns `Err`
/// for a wrong answer; a panic is caught and fails the property too.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), String>)
where
    S::Value: Debug,
{
    let cases = env_number("FLEDGE_FUZZ_CASES", 24.0) as u32;
    let budget = Duration::from_secs_f64(env_number("FLEDGE_FUZZ_SECONDS", 0.0));
    let start = Instant::now();
    let tried = Cell::new(0u64);
    loop {
        let config = Config { cases, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
        let mut runner = TestRunner::new(config);
        let result = runner.run(&strategy, |input| {
            tried.set(tried.get() + 1);
            LARGEST.with(|l| l.set(0));
            let outcome = check(input);
            let largest = LARGEST.with(Cell::get);
            outcome.map_err(TestCaseError::fail)?;
            if largest > MAX_ALLOCATION {
                return Err(TestCaseError::fail(format!("allocated {largest} bytes at once")));
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("fuzz {name}: {e}");
        }
        if start.elapsed() >= budget {
            break;
        }
    }
    println!("fuzz {name}: {} inputs in {:.1} s, no panic, no abort", tried.get(), start.elapsed().as_secs_f64());
}

/// An error must say which file (or folder) it is about.
fn names(err: impl std::fmt::Display, place: &Path) -> Result<(), String> {
    let text = err.to_string();
    let place = place.display().to_string();
    if text.contains(&place) {
        Ok(())
    } else {
        Err(format!("the error does not name {place}: {text}"))
    }
}

// ---------------------------------------------------------------------------
// Inputs: arbitrary bytes, and mutations of a valid file.

/// Numbers that break sizes: past u32, past u64, negative, zero, float forms.
const HUGE: [&str; 10] = [
    "4000000000",
    "1000000000",
    "1000000000000",
    "18446744073709551615",
    "99999999999999999999999999",
    "-1",
    "0",
    "1e12",
    "NaN",
    "65536",
];

/// Text that breaks structure.
const SPLICES: [&str; 8] = ["\"", "{", "}", "[", "]", "null", ",", "\u{0}\u{ff}\u{fffd}"];

#[derive(Debug, Clone)]
enum Op {
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Truncate(Index),
    /// Replace one run of digits with one of [`HUGE`].
    Number(Index, usize),
    /// The same within the first 512 bytes (a binary file's header).
    EarlyNumber(Index, usize),
    Splice(Index, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(i, b)| Op::Flip(i, b)),
        (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Op::Insert(i, b)),
        (any::<Index>(), 1..64usize).prop_map(|(i, n)| Op::Delete(i, n)),
        any::<Index>().prop_map(Op::Truncate),
        (any::<Index>(), 0..HUGE.len()).prop_map(|(i, n)| Op::Number(i, n)),
        (any::<Index>(), 0..HUGE.len()).prop_map(|(i, n)| Op::EarlyNumber(i, n)),
        (any::<Index>(), 0..SPLICES.len()).prop_map(|(i, n)| Op::Splice(i, n)),
    ]
}

/// The spans of ASCII digits in `bytes`.
fn digit_runs(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

fn mutate(seed: &[u8], ops: &[Op]) -> Vec<u8> {
    let mut b = seed.to_vec();
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
    for op in ops {
        match op {
            Op::Flip(i, x) if !b.is_empty() => {
                let p = at(i, b.len());
                b[p] ^= x;
            }
            Op::Insert(i, bytes) => {
                let p = at(i, b.len() + 1);
                b.splice(p..p, bytes.iter().copied());
            }
            Op::Delete(i, n) if !b.is_empty() => {
                let p = at(i, b.len());
                b.drain(p..(p + n).min(b.len()));
            }
            Op::Truncate(i) => b.truncate(at(i, b.len() + 1)),
            Op::Number(i, n) | Op::EarlyNumber(i, n) => {
                let limit = if matches!(op, Op::EarlyNumber(..)) { 512 } else { usize::MAX };
                let runs: Vec<_> = digit_runs(&b).into_iter().filter(|r| r.1 <= limit).collect();
                if !runs.is_empty() {
                    let (s, e) = runs[at(i, runs.len())];
                    b.splice(s..e, HUGE[*n].bytes());
                }
            }
            Op::Splice(i, n) => {
                let p = at(i, b.len() + 1);
                b.splice(p..p, SPLICES[*n].bytes());
            }
            _ => {}
        }
    }
    b
}

/// Arbitrary bytes (one in five) or `seed` mutated by one to eight operations.
fn input_from(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..2048),
        4 => proptest::collection::vec(op(), 1..8).prop_map(move |ops| mutate(&seed, &ops)),
    ]
}

// ---------------------------------------------------------------------------
// Valid files to mutate: a tiny model, its tokenizer, shards, recipes.

struct Seeds {
    /// A checkpoint folder (model.toml, config.json, model.safetensors, tokenizer.json).
    checkpoint: PathBuf,
    /// A shard folder made with the checkpoint's tokenizer.
    shards: PathBuf,
    _dir: tempfile::TempDir,
}

fn tiny_tokenizer() -> Tokenizer {
    let text = "the cat sat on the mat and the dog ran to the park with a big red ball. ".repeat(40);
    Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap()
}

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let tok = tiny_tokenizer();
        let config = ModelConfig {
            vocab_size: tok.vocab_size(),
            d_model: 16,
            n_layers: 1,
            n_heads: 2,
            n_kv_heads: 1,
            ffn_hidden: 32,
            max_seq_len: 32,
            rope_theta: 10_000.0,
            norm_eps: 1e-5,
            tie_embeddings: true,
        };
        let layout = ParamLayout::new(&config);
        let params = init_params(&config, &layout, 3);
        let checkpoint = dir.path().join("model");
        checkpoint::save_weights(&checkpoint, &config, &layout, &params, &tok, false, &[]).unwrap();

        let corpus = dir.path().join("corpus");
        fs::create_dir_all(&corpus).unwrap();
        let line = |i: usize| {
            serde_json::json!({"text": format!("the cat {i} sat on the mat and the dog ran"), "source": "cats", "set": "cats"})
                .to_string()
        };
        let lines: Vec<String> = (0..40).map(line).collect();
        fs::write(corpus.join("train.jsonl"), lines.join("\n")).unwrap();
        fs::write(corpus.join("val.jsonl"), lines[..8].join("\n")).unwrap();
        let report = r#"{"sources": [{"name": "cats", "weight": 1.0, "max_epochs": 2.0}]}"#;
        fs::write(corpus.join("report.json"), report).unwrap();
        let shards = dir.path().join("shards");
        fledge::data::shards::tokenize_corpus(&corpus, &tok, &shards, 200, 0.0).unwrap();
        Seeds { checkpoint, shards, _dir: dir }
    })
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A copy of the seed checkpoint in a fresh folder, with `file` replaced by `bytes`.
fn checkpoint_with(file: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    fs::create_dir_all(&model).unwrap();
    for f in ["model.toml", "config.json", "model.safetensors", "tokenizer.json"] {
        fs::copy(seeds().checkpoint.join(f), model.join(f)).unwrap();
    }
    fs::write(model.join(file), bytes).unwrap();
    (dir, model)
}

/// The same as a Hugging Face folder: no model.toml.
fn hf_folder_with(file: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let (dir, model) = checkpoint_with(file, bytes);
    fs::remove_file(model.join("model.toml")).unwrap();
    (dir, model)
}

// ---------------------------------------------------------------------------
// The properties: one per reader.

#[test]
fn fuzz_model_toml() {
    let seed = read(&seeds().checkpoint.join("model.toml"));
    fuzz("model.toml (checkpoint load)", input_from(seed), |bytes| {
        let (_dir, model) = checkpoint_with("model.toml", &bytes);
        match checkpoint::load(&model) {
            Ok(loaded) => {
                let expected = ParamLayout::new(&loaded.config).total;
                (loaded.params.len() == expected).then_some(()).ok_or("weights do not match the config".to_string())
            }
            Err(e) => names(e, &model),
        }
    });
}

#[test]
fn fuzz_config_json() {
    let seed = read(&seeds().checkpoint.join("config.json"));
    fuzz("config.json (HF import)", input_from(seed), |bytes| {
        let (_dir, model) = hf_folder_with("config.json", &bytes);
        match fledge::export::import::read_hf(&model) {
            Ok((config, params, _)) => {
                (params.len() == ParamLayout::new(&config).total).then_some(()).ok_or("weights mismatch".to_string())
            }
            Err(e) => names(e, &model),
        }
    });
}

#[test]
fn fuzz_safetensors() {
    let seed = read(&seeds().checkpoint.join("model.safetensors"));
    fuzz("model.safetensors (checkpoint load and HF import)", input_from(seed), |bytes| {
        let (_dir, model) = checkpoint_with("model.safetensors", &bytes);
        if let Err(e) = checkpoint::load(&model) {
            names(e, &model)?;
        }
        let (_dir, model) = hf_folder_with("model.safetensors", &bytes);
        if let Err(e) = fledge::export::import::read_hf(&model) {
            names(e, &model)?;
        }
        Ok(())
    });
}

#[test]
fn fuzz_tokenizer_json() {
    let seed = read(&seeds().checkpoint.join("tokenizer.json"));
    fuzz("tokenizer.json", input_from(seed), |bytes| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        fs::write(&path, &bytes).unwrap();
        match Tokenizer::load(&path) {
            Ok(tok) if tok.hash().len() == 64 => Ok(()),
            Ok(_) => Err("a loaded tokenizer without a hash".into()),
            Err(e) => names(e, &path),
        }
    });
}

/// Opens the shard folder `dir` and, when it opens, draws from it as training does.
fn use_shards(dir: &Path) -> Result<(), String> {
    use fledge::data::shards::{BatchLoader, TokenShards};
    let shards = match TokenShards::open(dir, "train") {
        Ok(s) => s,
        Err(e) => return names(e, dir),
    };
    let vocab = shards.header.vocab_size as u32;
    if let Ok(loader) = BatchLoader::new(&shards, 8, 2, 1) {
        for step in 0..4 {
            let batch = loader.batch(step);
            if batch.inputs.iter().any(|&t| t >= vocab) {
                return Err(format!("batch {step} holds an id past the vocabulary of {vocab}"));
            }
        }
    }
    for spans in shards.header.sets.values() {
        for [a, b] in spans {
            shards.span(*a, *b);
        }
    }
    shards.to_vec();
    Ok(())
}

/// A copy of the seed shard folder with `file` replaced by `bytes` (`None`: the first train shard).
fn shards_with(file: Option<&str>, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shards");
    fs::create_dir_all(&out).unwrap();
    for entry in fs::read_dir(&seeds().shards).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), out.join(entry.file_name())).unwrap();
    }
    fs::write(out.join(file.map(String::from).unwrap_or_else(first_train_shard)), bytes).unwrap();
    (dir, out)
}

fn first_train_shard() -> String {
    let header: serde_json::Value = serde_json::from_slice(&read(&seeds().shards.join("train.json"))).unwrap();
    header["shards"][0]["file"].as_str().unwrap().to_string()
}

#[test]
fn fuzz_shard_header() {
    let seed = read(&seeds().shards.join("train.json"));
    fuzz("shard header (train.json) and batches", input_from(seed), |bytes| {
        let (_dir, out) = shards_with(Some("train.json"), &bytes);
        use_shards(&out)
    });
}

#[test]
fn fuzz_shard_file() {
    let seed = read(&seeds().shards.join(first_train_shard()));
    // Mutations that keep the size reach the id check; the others the size check.
    let same_size = proptest::collection::vec((any::<Index>(), any::<u8>()), 1..8).prop_map({
        let seed = seed.clone();
        move |sets| {
            let mut b = seed.clone();
            for (i, x) in sets {
                let p = i.index(b.len());
                b[p] = x;
            }
            b
        }
    });
    fuzz("shard file (.bin) and batches", prop_oneof![input_from(seed), same_size], |bytes| {
        let (_dir, out) = shards_with(None, &bytes);
        use_shards(&out)
    });
}

#[test]
fn fuzz_gguf_writer_inputs() {
    let files = ["model.toml", "model.safetensors", "tokenizer.json"];
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| read(&seeds().checkpoint.join(f))).collect();
    let strategy = (0..files.len()).prop_flat_map(move |k| (Just(k), input_from(seeds[k].clone())));
    fuzz("GGUF writer's inputs (a checkpoint)", strategy, |(k, bytes)| {
        let (dir, model) = checkpoint_with(files[k], &bytes);
        let src = match fledge::export::Source::load(&model) {
            Ok(s) => s,
            Err(e) => return names(e, &model),
        };
        let out = dir.path().join("model.gguf");
        // The writer reads tokenizer.json's raw ids too, stricter than the
        // tokenizer library: an error is fine, as long as it names the file.
        match fledge::export::gguf::export(&src, &out, fledge::export::gguf::GgufType::Q8_0, "fuzz") {
            Ok(_) => Ok(()),
            Err(e) => names(e, &model),
        }
    });
}

#[test]
fn fuzz_chat_jsonl() {
    let line = |user: &str, answer: &str| {
        serde_json::json!({"messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer}]})
        .to_string()
    };
    let seed = [line("Hello!", "Hi there."), line("What is 2+2?", "4."), line("Who are you?", "A model.")]
        .join("\n")
        .into_bytes();
    let tok = tiny_tokenizer();
    fuzz("chat JSONL", input_from(seed), |bytes| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.jsonl");
        fs::write(&path, &bytes).unwrap();
        for skip_bad in [false, true] {
            match fledge::chat::template::read_jsonl(&path, skip_bad) {
                Ok((convs, _)) => {
                    for c in convs {
                        fledge::chat::render_tokens(&tok, &c.messages, true);
                    }
                }
                Err(e) => names(e, &path)?,
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_data_recipe() {
    let seed = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/default.toml"));
    fuzz("data recipe (TOML)", input_from(seed), |bytes| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recipe.toml");
        fs::write(&path, &bytes).unwrap();
        match fledge::data::prepare::Recipe::load(&path) {
            Ok(recipe) => fledge::data::prepare::fingerprint(&recipe).map(drop).or_else(|e| names(e, dir.path())),
            Err(e) => names(e, &path),
        }
    });
}

#[test]
fn fuzz_speedrun_config() {
    let seed = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/speedrun.toml"));
    fuzz("speedrun config (TOML)", input_from(seed), |bytes| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("speedrun.toml");
        fs::write(&path, &bytes).unwrap();
        match fledge::speedrun::SpeedrunConfig::load(&path) {
            Ok(_) => Ok(()),
            Err(e) => names(e, &path),
        }
    });
}

/// What the server does with a request body before generating: parse,
/// refuse what it does not support, check the sampling fields, build the prompt.
fn http_body(bytes: &[u8], chat: bool) -> Result<(), String> {
    use fledge::serve::api;
    let defaults = fledge::generate::SamplingOptions::default();
    let message = |e: api::ApiError| {
        let body = e.body();
        let text = body["error"]["message"].as_str().unwrap_or("").to_string();
        if text.is_empty() {
            Err(format!("an error without a message: {body}"))
        } else {
            Ok(())
        }
    };
    let outcome = if chat {
        api::parse::<api::ChatRequest>(bytes).and_then(|req| {
            req.check_unsupported()?;
            api::sampling_options(&req.sampling(), &defaults, 64)?;
            req.conversation().map(drop)
        })
    } else {
        api::parse::<api::CompletionRequest>(bytes).and_then(|req| {
            req.check_unsupported()?;
            api::sampling_options(&req.sampling(), &defaults, 64)?;
            req.prompt_text().map(drop)
        })
    };
    outcome.or_else(message)
}

#[test]
fn fuzz_http_chat_completions_body() {
    let seed = serde_json::json!({
        "model": "fledge", "messages": [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "max_tokens": 20, "temperature": 0.7, "top_p": 0.9, "seed": 5, "stop": ["\n", "User:"],
        "stream": true, "stream_options": {"include_usage": true}, "n": 1
    })
    .to_string()
    .into_bytes();
    fuzz("HTTP body of /v1/chat/completions", input_from(seed), |bytes| http_body(&bytes, true));
}

#[test]
fn fuzz_http_completions_body() {
    let seed = serde_json::json!({
        "model": "fledge", "prompt": ["Once upon a time"], "max_tokens": 16, "temperature": 0.0,
        "stop": "\n", "echo": false, "seed": 1, "logprobs": null
    })
    .to_string()
    .into_bytes();
    fuzz("HTTP body of /v1/completions", input_from(seed), |bytes| http_body(&bytes, false));
}

// ---------------------------------------------------------------------------
// Issue 19, items 4 to 6, on whole folders and through the binary.

fn fledge_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fledge")).args(args).output().unwrap()
}

/// A clean error: exit 1, no panic, no abort, and each of `needles` said.
fn assert_clean_error(o: &std::process::Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "expected exit 1 (a signal means an abort): {err}");
    assert!(!err.contains("panicked") && !err.contains("memory allocation"), "{err}");
    for n in needles {
        assert!(err.contains(n), "the error should say {n:?}: {err}");
    }
}

/// The seed checkpoint's config.json with `key` set to `value`.
fn hf_config(key: &str, value: serde_json::Value) -> Vec<u8> {
    let mut j: serde_json::Value = serde_json::from_slice(&read(&seeds().checkpoint.join("config.json"))).unwrap();
    j[key] = value;
    j.to_string().into_bytes()
}

const HUGE_SIZES: [(&str, u64); 4] = [
    ("hidden_size", 1_000_000_000),
    ("num_hidden_layers", 1_000_000_000),
    ("max_position_embeddings", 1_000_000_000_000),
    ("intermediate_size", 1_000_000_000),
];

/// Item 5: huge sizes in an HF config.json: import, chat and serve refuse
/// them with the field named, before allocating anything from them.
#[test]
fn item5_huge_sizes_in_config_json_are_refused_by_import_chat_and_serve() {
    for (key, value) in HUGE_SIZES {
        let (dir, model) = hf_folder_with("config.json", &hf_config(key, value.into()));
        LARGEST.with(|l| l.set(0));
        let err = fledge::export::import::read_hf(&model).err().expect("refused").to_string();
        assert!(err.contains("config.json") && err.contains(key), "{key}: {err}");
        assert!(LARGEST.with(Cell::get) < MAX_ALLOCATION, "{key}: allocated before refusing");
        let m = model.to_str().unwrap();
        let out = dir.path().join("imported");
        assert_clean_error(&fledge_cli(&["import", m, "--out", out.to_str().unwrap()]), &["config.json", key]);
        assert!(!out.exists(), "nothing is written for a refused import");
        assert_clean_error(&fledge_cli(&["chat", "--model", m]), &["config.json", key]);
        let o = fledge_cli(&["serve", "--model", m, "--port", "0"]);
        assert_clean_error(&o, &["config.json", key]);
        assert!(!String::from_utf8_lossy(&o.stdout).contains("serving"), "serve said it was serving");
    }
}

/// Item 5: sizes each within bounds whose weights the files do not hold: refused
/// by comparing with the weights, not by a failed allocation.
#[test]
fn item5_config_json_larger_than_its_weights_is_refused() {
    let mut j: serde_json::Value = serde_json::from_slice(&read(&seeds().checkpoint.join("config.json"))).unwrap();
    j["hidden_size"] = 4096.into();
    j["head_dim"] = 2048.into();
    j["num_hidden_layers"] = 32.into();
    j["intermediate_size"] = 14336.into();
    let (_dir, model) = hf_folder_with("config.json", j.to_string().as_bytes());
    LARGEST.with(|l| l.set(0));
    let err = fledge::export::import::read_hf(&model).err().expect("refused").to_string();
    assert!(err.contains("config.json") && err.contains("does not match the weights"), "{err}");
    assert!(LARGEST.with(Cell::get) < MAX_ALLOCATION, "allocated before refusing");
}

/// Item 5: a checkpoint's model.toml with huge sizes: checkpoint loading
/// (generate, chat, serve, export, sft) refuses it, naming the file and field.
#[test]
fn item5_huge_sizes_in_model_toml_are_refused_by_checkpoint_load() {
    let toml = String::from_utf8(read(&seeds().checkpoint.join("model.toml"))).unwrap();
    for (field, value) in [("d_model", "1000000000"), ("n_layers", "1000000000"), ("max_seq_len", "1000000000000")] {
        let line = toml.lines().find(|l| l.starts_with(&format!("{field} ="))).unwrap();
        let bad = toml.replace(line, &format!("{field} = {value}"));
        let (_dir, model) = checkpoint_with("model.toml", bad.as_bytes());
        let err = checkpoint::load(&model).err().expect("refused").to_string();
        assert!(err.contains("model.toml") && err.contains(field), "{field}: {err}");
        let m = model.to_str().unwrap();
        assert_clean_error(&fledge_cli(&["chat", "--model", m]), &["model.toml", field]);
    }
    // Within bounds, but not what model.safetensors holds: refused by the shapes.
    let bad = toml.replace("n_layers = 1", "n_layers = 1000");
    let (_dir, model) = checkpoint_with("model.toml", bad.as_bytes());
    LARGEST.with(|l| l.set(0));
    let err = checkpoint::load(&model).err().expect("refused").to_string();
    assert!(err.contains("model.safetensors") && err.contains("missing"), "{err}");
    assert!(LARGEST.with(Cell::get) < MAX_ALLOCATION, "allocated before refusing");
}

/// Item 4 through the binary: training on a shard with an id past the
/// vocabulary is an error naming the shard and the offset, not a panic.
#[test]
fn item4_training_on_a_shard_with_an_id_past_the_vocabulary_names_shard_and_offset() {
    let shard = first_train_shard();
    let mut bytes = read(&seeds().shards.join(&shard));
    bytes[10..12].copy_from_slice(&5u16.to_le_bytes());
    bytes[20..22].copy_from_slice(&4000u16.to_le_bytes());
    let (dir, out) = shards_with(None, &bytes);
    let tok = dir.path().join("tokenizer.json");
    fs::copy(seeds().checkpoint.join("tokenizer.json"), &tok).unwrap();
    let run = dir.path().join("run");
    let o = fledge_cli(&[
        "train",
        "--data",
        out.to_str().unwrap(),
        "--tokenizer",
        tok.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--preset",
        "tiny",
        "--steps",
        "2",
        "--batch",
        "2",
        "--seq-len",
        "8",
    ]);
    assert_clean_error(&o, &[&shard, "token 10 (byte 20) is id 4000"]);
}

/// Item 6: a tokenizer.json with an id of 4,000,000,000 is refused at once
/// (it used to abort every command that loaded it, allocating while hashing).
#[test]
fn item6_tokenizer_json_with_a_huge_id_is_refused_quickly() {
    let mut j: serde_json::Value = serde_json::from_slice(&read(&seeds().checkpoint.join("tokenizer.json"))).unwrap();
    let vocab = j["model"]["vocab"].as_object_mut().unwrap();
    let token = vocab.iter().find(|(_, id)| id.as_u64() == Some(280)).unwrap().0.clone();
    vocab.insert(token, 4_000_000_000u64.into());
    let (_dir, model) = checkpoint_with("tokenizer.json", j.to_string().as_bytes());
    let path = model.join("tokenizer.json");
    let start = Instant::now();
    LARGEST.with(|l| l.set(0));
    let err = Tokenizer::load(&path).err().expect("refused").to_string();
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    assert!(LARGEST.with(Cell::get) < MAX_ALLOCATION, "allocated before refusing");
    assert!(err.contains("tokenizer.json") && err.contains("id 4000000000"), "{err}");
    assert_clean_error(&fledge_cli(&["chat", "--model", model.to_str().unwrap()]), &["tokenizer.json", "4000000000"]);
}
