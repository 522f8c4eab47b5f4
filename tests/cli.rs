//! The `fledge` binary end to end on text the tests write themselves (or the
//! shipped sample): the whole pipeline so far, and clear errors on bad input.

use std::path::Path;
use std::process::{Command, Output};

fn fledge(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fledge")).args(args).current_dir(cwd).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure must be a clean error (exit 1, a message), never a panic.
fn assert_clean_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected exit 1, stderr: {err}");
    assert!(!err.contains("panicked"), "panic instead of an error: {err}");
    for n in needles {
        assert!(err.contains(n), "error should mention {n:?}: {err}");
    }
}

#[test]
fn speedrun_on_the_shipped_sample_makes_tokenizer_and_shards() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/sample.toml");
    let out = dir.path().join("run");
    let o = fledge(
        &[
            "speedrun",
            "--recipe",
            recipe.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--vocab-size",
            "512",
            "--until",
            "shards",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "data/train.jsonl",
        "data/val.jsonl",
        "data/report.md",
        "tokenizer/tokenizer.json",
        "shards/train.json",
        "shards/val.json",
        "report.md",
        "report.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let tok = fledge::tokenizer::Tokenizer::load(&out.join("tokenizer/tokenizer.json")).unwrap();
    assert_eq!(tok.vocab_size(), 512);
    let shards = fledge::data::shards::TokenShards::open(&out.join("shards"), "train").unwrap();
    shards.check_tokenizer(&tok).unwrap();
    let text = tok.decode(&shards.to_vec()).unwrap();
    assert!(text.contains("<|endoftext|>") && (text.contains("Pip") || text.contains("Tom")), "{text:.200}");

    // encode / decode through the CLI round-trip, special strings stay text.
    let tok_path = out.join("tokenizer/tokenizer.json");
    let o = fledge(
        &["tokenizer", "encode", "--tokenizer", tok_path.to_str().unwrap(), "--text", "Hi <|im_end|> café"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ids: Vec<String> = String::from_utf8(o.stdout).unwrap().split_whitespace().map(String::from).collect();
    assert!(!ids.contains(&"2".to_string()), "<|im_end|> typed by a user must not become id 2");
    let mut args = vec!["tokenizer", "decode", "--tokenizer", tok_path.to_str().unwrap()];
    args.extend(ids.iter().map(|s| s.as_str()));
    let o = fledge(&args, dir.path());
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "Hi <|im_end|> café");
}

#[test]
fn missing_path_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = fledge(&["data", "prepare", "--source", "x=/no/such/folder", "--out", "o"], dir.path());
    assert_clean_error(&o, &["/no/such/folder"]);
    assert!(!dir.path().join("o").exists());
}

#[test]
fn non_utf8_input_names_file_and_offset_and_lossy_works() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..5)
        .map(|i| format!("Once upon a time there was fox number {i} who lived in a wood and ate berries.\n"))
        .collect();
    let bad_byte = format!("byte {}", text.len() + 3);
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"caf\xe9 au lait\n");
    std::fs::write(dir.path().join("latin1.txt"), &bytes).unwrap();
    let o = fledge(
        &["data", "prepare", "--source", "l=latin1.txt", "--license", "own", "--out", "o", "--val-fraction", "0"],
        dir.path(),
    );
    assert_clean_error(&o, &["latin1.txt", &bad_byte, "line 6", "--lossy"]);
    let o = fledge(
        &[
            "data",
            "prepare",
            "--source",
            "l=latin1.txt",
            "--license",
            "own",
            "--out",
            "o",
            "--val-fraction",
            "0",
            "--lossy",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn tiny_vocabulary_and_empty_corpus_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "some text here").unwrap();
    let o = fledge(&["tokenizer", "train", "--input", "a.txt", "--vocab-size", "100", "--out", "t.json"], dir.path());
    assert_clean_error(&o, &["at least 259"]);
    std::fs::write(dir.path().join("empty.txt"), "").unwrap();
    let o = fledge(&["tokenizer", "train", "--input", "empty.txt", "--out", "t.json"], dir.path());
    assert_clean_error(&o, &["empty corpus"]);
    assert!(!dir.path().join("t.json").exists());
}

#[test]
fn bad_recipe_and_bad_source_spec_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.toml"), "[[source]]\nname = \"a\"\npath = \"a\"\nweigth = 2\n").unwrap();
    let o = fledge(&["data", "prepare", "--recipe", "r.toml"], dir.path());
    assert_clean_error(&o, &["r.toml", "weigth"]);
    let o = fledge(&["data", "prepare", "--source", "nopath"], dir.path());
    assert_clean_error(&o, &["NAME=PATH"]);
}

#[test]
fn shards_of_another_tokenizer_and_garbage_tokenizer_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.json"), "{ not a tokenizer").unwrap();
    let o = fledge(&["data", "tokenize", "--corpus", ".", "--tokenizer", "t.json", "--out", "s"], dir.path());
    assert_clean_error(&o, &["t.json"]);
}

#[test]
fn speedrun_config_file_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/sample.toml");
    std::fs::write(
        dir.path().join("run.toml"),
        format!("recipe = {:?}\nout = \"out\"\nvocab_size = 300\n", recipe.to_str().unwrap()),
    )
    .unwrap();
    let o = fledge(&["speedrun", "--config", "run.toml", "--until", "shards"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let tok = fledge::tokenizer::Tokenizer::load(&dir.path().join("out/tokenizer/tokenizer.json")).unwrap();
    assert_eq!(tok.vocab_size(), 300);
    std::fs::write(dir.path().join("bad.toml"), "vocab_sise = 300\n").unwrap();
    let o = fledge(&["speedrun", "--config", "bad.toml"], dir.path());
    assert_clean_error(&o, &["bad.toml", "vocab_sise"]);
    std::fs::write(dir.path().join("bad.toml"), "preset = \"tiny\"\n[pretrain]\nmodel = \"huge\"\n").unwrap();
    let o = fledge(&["speedrun", "--config", "bad.toml"], dir.path());
    assert_clean_error(&o, &["bad.toml", "pretrain.model", "huge"]);
    std::fs::write(dir.path().join("bad.toml"), "preset = \"enormous\"\n").unwrap();
    let o = fledge(&["speedrun", "--config", "bad.toml"], dir.path());
    assert_clean_error(&o, &["bad.toml", "enormous", "tiny"]);
}

/// A small checkpoint written through the library, for export and import.
fn tiny_checkpoint(dir: &Path) {
    let text = "a small text to learn from, a small text";
    let tok = fledge::tokenizer::Tokenizer::train([text].into_iter(), 300, false).unwrap();
    let mut config = fledge::model::ModelConfig::preset("tiny", tok.vocab_size()).unwrap();
    (config.d_model, config.n_heads, config.n_kv_heads, config.n_layers, config.ffn_hidden) = (32, 2, 2, 1, 64);
    let layout = fledge::model::params::ParamLayout::new(&config);
    let params: Vec<f32> = (0..layout.total).map(|i| ((i % 17) as f32 - 8.0) * 0.01).collect();
    fledge::train::checkpoint::save_weights(dir, &config, &layout, &params, &tok, false, &[]).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn export_and_import_never_remove_files_fledge_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tiny_checkpoint(&d.join("ckpt"));
    let thesis = d.join("mydocs/thesis.txt");
    std::fs::create_dir_all(thesis.parent().unwrap()).unwrap();
    std::fs::write(&thesis, "years of work").unwrap();

    // Export into the user's folder: refused, the file stays.
    let export = |out: &str, extra: &[&str]| {
        let mut args = vec!["export", "--model", "ckpt", "--out", out, "--gguf-type", "f32"];
        args.extend_from_slice(extra);
        fledge(&args, d)
    };
    assert_clean_error(&export("mydocs", &[]), &["mydocs", "thesis.txt", "--force"]);
    assert_eq!(std::fs::read_to_string(&thesis).unwrap(), "years of work");
    // With --force fledge's files go in beside it.
    let o = export("mydocs", &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&thesis).unwrap(), "years of work");
    assert!(d.join("mydocs/model.safetensors").is_file() && d.join("mydocs/ckpt-f32.gguf").is_file());

    // Nor over the checkpoint being exported: that would destroy its weights.
    assert_clean_error(&export("ckpt", &[]), &["ckpt", "checkpoint", "--force"]);
    assert!(d.join("ckpt/model.toml").is_file() && !d.join("ckpt/README.md").exists());

    // Exporting again over its own previous output replaces it.
    for format in ["hf,gguf", "hf"] {
        let o = export("exp", &["--format", format]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(d.join("exp/model.safetensors").is_file());
    assert!(!d.join("exp/ckpt-f32.gguf").exists(), "the earlier export's GGUF was fledge's own: replaced");

    // Import into a training run's folder: refused, the run stays.
    let run = d.join("runs/base");
    std::fs::create_dir_all(run.join("step-000100")).unwrap();
    std::fs::write(run.join("metrics.jsonl"), "{}\n").unwrap();
    let o = fledge(&["import", "exp", "--out", "runs/base"], d);
    assert_clean_error(&o, &["runs/base", "metrics.jsonl", "--force"]);
    assert_eq!(names(&run), ["metrics.jsonl", "step-000100"]);
    let o = fledge(&["import", "exp", "--out", "runs/base", "--force"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(run.join("metrics.jsonl").is_file() && run.join("step-000100").is_dir());
    assert!(run.join("model.safetensors").is_file());
    // Importing again over its own previous output replaces it.
    for _ in 0..2 {
        let o = fledge(&["import", "exp", "--out", "imported"], d);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(d.join("imported/model.toml").is_file());

    // `--out .`: the current folder is the user's too.
    let here = d.join("here");
    std::fs::create_dir(&here).unwrap();
    std::fs::write(here.join("notes.txt"), "mine").unwrap();
    let ckpt = d.join("ckpt");
    let o = fledge(&["export", "--model", ckpt.to_str().unwrap(), "--out", ".", "--format", "hf"], &here);
    assert_clean_error(&o, &["here", "notes.txt", "--force"]);
    assert_eq!(names(&here), ["notes.txt"]);
    let o = fledge(&["export", "--model", ckpt.to_str().unwrap(), "--out", ".", "--format", "hf", "--force"], &here);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(here.join("notes.txt")).unwrap(), "mine");
    assert!(here.join("config.json").is_file());
    // No temporary folder is left beside any of them.
    assert!(names(d).iter().all(|n| !n.starts_with('.')), "{:?}", names(d));
}

/// The checkout: commands run there find the shipped model and recipes.
fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn generate_and_ask_without_a_model_use_the_shipped_one() {
    let o = fledge(&["generate", "--max-tokens", "8", "--temperature", "0"], checkout());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("Once upon a time"));

    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("pets.txt"), "Mia has a small grey cat called Pip. Pip likes to sleep in the sun.\n")
        .unwrap();
    let index = dir.path().join("index");
    let o = fledge(
        &["index", "add", docs.to_str().unwrap(), "--index", index.to_str().unwrap(), "--no-embeddings"],
        checkout(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = fledge(
        &["ask", "What is the cat called?", "--index", index.to_str().unwrap(), "--mode", "bm25", "--max-tokens", "8"],
        checkout(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // `ask` quotes: the answer is words of the document (or the model's refusal).
    let stdout = String::from_utf8_lossy(&o.stdout);
    let answer = stdout.lines().next().unwrap_or_default().to_lowercase();
    let text = "mia has a small grey cat called pip. pip likes to sleep in the sun.";
    assert!(!answer.is_empty() && (text.contains(&answer) || answer.contains("know")), "{stdout}");
}

/// The card's name and its "Data and licenses" rows.
fn card_of(folder: &Path) -> String {
    std::fs::read_to_string(folder.join("README.md")).unwrap()
}

fn assert_card_keeps_name_and_licenses(folder: &Path) {
    let card = card_of(folder);
    assert!(card.contains("\n# fledge-6m-chat\n"), "the card is titled after another name:\n{card:.600}");
    assert!(!card.contains("did not record the licenses"), "the licenses were lost:\n{card}");
    for needle in ["tinystories-v1", "CDLA-Sharing-1.0", "babi", "CC-BY-3.0", "FairytaleQA", "Share-alike data"] {
        assert!(card.contains(needle), "the card lost {needle:?}:\n{card}");
    }
}

#[test]
fn the_shipped_model_exports_directly_and_its_name_and_licenses_survive_import_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    // No --model: the shipped model (an HF folder, not a checkpoint).
    let o = fledge(&["export", "--out", first.to_str().unwrap(), "--format", "hf"], checkout());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_card_keeps_name_and_licenses(&first);
    assert!(first.join("fledge.json").is_file(), "the export records name and licenses for import");

    // The README's way: import, then export the checkpoint (under a temporary folder's name).
    let imported = dir.path().join("tmp-import-1234");
    let o = fledge(&["import", first.to_str().unwrap(), "--out", imported.to_str().unwrap()], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let second = dir.path().join("second");
    let o = fledge(
        &["export", "--model", imported.to_str().unwrap(), "--out", second.to_str().unwrap(), "--format", "hf"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_card_keeps_name_and_licenses(&second);
    let training = |card: &str| card.split("## Training").nth(1).unwrap().split("## Data").next().unwrap().to_string();
    assert_eq!(training(&card_of(&second)), training(&card_of(&first)), "the training record survives too");
}

/// `fledge speedrun --recipe recipes/sample.toml --out DIR/run --until STAGE`.
fn sample_speedrun(dir: &Path, until: &str) -> Output {
    let recipe = checkout().join("recipes/sample.toml");
    let out = dir.join("run");
    fledge(&["speedrun", "--recipe", recipe.to_str().unwrap(), "--out", out.to_str().unwrap(), "--until", until], dir)
}

#[test]
fn speedrun_until_corpus_runs_only_the_corpus_stage() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = sample_speedrun(dir.path(), "corpus");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.join("data/train.jsonl").is_file());
    assert!(!out.join("tokenizer").exists() && !out.join("shards").exists(), "later stages ran: {err}");
    assert!(err.contains("[1/1] corpus") && !err.contains("[2/1]"), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let stages: Vec<&str> =
        report["records"].as_array().unwrap().iter().map(|r| r["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["corpus"]);

    let o = sample_speedrun(dir.path(), "tokenizer");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("tokenizer/tokenizer.json").is_file() && !out.join("shards").exists());
}

#[test]
fn a_reader_that_closes_the_pipe_stops_fledge_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = sample_speedrun(dir.path(), "corpus");
    assert!(o.status.success(), "{}", stderr(&o));
    // `fledge data report D | head -0`: the reader is gone before the first line (closed before
    // fledge starts, so that fledge cannot write its whole report into the pipe's buffer first)
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(["data", "report", out.join("data").to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(141), "{err}");
}

#[test]
fn a_binary_outside_any_checkout_does_not_read_the_build_tree() {
    let dir = tempfile::tempdir().unwrap();
    // The binary copied elsewhere, run from an empty folder.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let copied = bin.join("fledge");
    std::fs::copy(env!("CARGO_BIN_EXE_fledge"), &copied).unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run = |exe: &Path, out: &Path| {
        Command::new(exe)
            .args(["speedrun", "--until", "corpus", "--out", out.to_str().unwrap()])
            .current_dir(&empty)
            .output()
            .unwrap()
    };
    let out = dir.path().join("run");
    let o = run(&copied, &out);
    assert_clean_error(&o, &["--recipe"]);
    assert!(!out.join("data").exists(), "the corpus was made from the build tree's recipe");

    // Installed inside a checkout (as target/release/fledge is), the checkout's sample recipe.
    let other = dir.path().join("checkout");
    std::fs::create_dir_all(other.join("recipes")).unwrap();
    std::fs::create_dir_all(other.join("assets/sample")).unwrap();
    std::fs::create_dir_all(other.join("target/release")).unwrap();
    std::fs::copy(checkout().join("recipes/sample.toml"), other.join("recipes/sample.toml")).unwrap();
    for f in std::fs::read_dir(checkout().join("assets/sample")).unwrap().flatten() {
        std::fs::copy(f.path(), other.join("assets/sample").join(f.file_name())).unwrap();
    }
    let inside = other.join("target/release/fledge");
    std::fs::copy(env!("CARGO_BIN_EXE_fledge"), &inside).unwrap();
    let o = run(&inside, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let recipe = report["records"][0]["figures"]["recipe"].as_str().unwrap().to_string();
    assert_eq!(Path::new(&recipe), other.join("recipes/sample.toml"), "not the recipe of the binary's checkout");
    assert!(out.join("data/train.jsonl").is_file());
}

#[test]
fn eval_takes_the_chat_sets_from_the_models_record() {
    let dir = tempfile::tempdir().unwrap();
    // A chat model whose training record names OUT/chat/babi-task1, as a speedrun's does.
    let model = dir.path().join("run/sft/step-000010");
    let o = fledge(
        &["import", checkout().join(fledge::SHIPPED_MODEL).to_str().unwrap(), "--out", model.to_str().unwrap()],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sets = dir.path().join("run/chat");
    let set = sets.join("babi-task1");
    std::fs::create_dir_all(&set).unwrap();
    let conv = r#"{"messages": [{"role": "context", "content": "Mary went to the kitchen."}, {"role": "user", "content": "Where is Mary?"}, {"role": "assistant", "content": "kitchen"}]}"#;
    for split in ["test", "val"] {
        std::fs::write(set.join(format!("{split}.jsonl")), format!("{conv}\n{conv}\n")).unwrap();
    }
    let state = serde_json::json!({
        "step": 10, "tokens_seen": 1000, "micro_batches": 10, "data_seed": 1, "adam_step": 10, "best_val_loss": null,
        "settings": {"source": [{"path": set, "weight": 1.0}]}
    });
    std::fs::write(model.join("state.json"), state.to_string()).unwrap();
    let args =
        ["eval", "--model", model.to_str().unwrap(), "--qa", "babi-task1", "--chat", "babi-task1", "--max-tokens", "4"];
    // Run from a folder without runs/chat.
    let o = fledge(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("| babi-task1 | 2 |"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // Without a record, the error says where to point it.
    std::fs::remove_file(model.join("state.json")).unwrap();
    let o = fledge(&args, dir.path());
    assert_clean_error(&o, &["runs/chat", "--data"]);
}

#[test]
fn logs_written_to_a_file_carry_no_colour_codes() {
    // The test's stderr is a pipe, as a redirected log is.
    let model = checkout().join(fledge::SHIPPED_MODEL);
    let o = fledge(
        &["generate", "--model", model.to_str().unwrap(), "--max-tokens", "4", "--temperature", "0"],
        checkout(),
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("generated"), "no log line to check: {err}");
    assert!(!o.stderr.contains(&0x1b), "escape codes in a redirected log: {err:?}");
}

#[test]
fn sft_starts_from_the_shipped_hf_folder_and_keeps_its_licenses() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("chat/pets");
    std::fs::create_dir_all(&set).unwrap();
    let conv = r#"{"messages": [{"role": "user", "content": "What is the cat called?"}, {"role": "assistant", "content": "Pip."}]}"#;
    std::fs::write(set.join("train.jsonl"), format!("{conv}\n").repeat(8)).unwrap();
    std::fs::write(set.join("val.jsonl"), format!("{conv}\n")).unwrap();
    let base = checkout().join(fledge::SHIPPED_MODEL);
    let out = dir.path().join("sft");
    let o = fledge(
        &[
            "sft",
            "--base",
            base.to_str().unwrap(),
            "--source",
            set.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--steps",
            "1",
            "--batch",
            "1",
            "--seq-len",
            "64",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let checkpoint = fledge::train::checkpoint::latest(&out).unwrap().unwrap();
    let state = fledge::train::checkpoint::load_state(&checkpoint).unwrap().unwrap();
    let sources: Vec<&str> = state.data_licenses.iter().map(|l| l.source.as_str()).collect();
    assert!(
        sources.contains(&"tinystories-v1") && sources.contains(&"babi"),
        "the base's licenses were lost: {sources:?}"
    );
}
