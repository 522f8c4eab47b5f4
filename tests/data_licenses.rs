//! Licenses travel from the recipe to the model card: prepare → tokenize →
//! train → export, on folders named like ../shared/data's (filled with text
//! the test writes), with and without the Llama 3.1 output.

use std::path::Path;
use std::process::{Command, Output};

use fledge::data::prepare::Recipe;

fn fledge(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fledge")).args(args).current_dir(cwd).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stories of plain words, different for each seed.
fn stories(seed: usize, n: usize) -> String {
    const WORDS: [&str; 12] =
        ["fox", "river", "stone", "heron", "bread", "green", "sang", "ran", "hill", "moon", "boat", "wind"];
    (0..n)
        .map(|i| {
            let words: Vec<&str> = (0..40).map(|w| WORDS[(seed * 7919 + i * 131 + w * w * 17 + w) % 12]).collect();
            format!("Story {seed}-{i}. The {}.", words.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n<|endoftext|>\n")
}

/// Runs the pipeline on folders `names` and returns (card, export's output).
fn train_and_export(d: &Path, names: &[&str]) -> (String, String, String) {
    let mut recipe = String::from("[prepare]\nval_fraction = 0.1\n");
    for (i, name) in names.iter().enumerate() {
        let folder = d.join("data").join(name);
        std::fs::create_dir_all(&folder).unwrap();
        let text = if name.starts_with("snakes") {
            // Llama's records: `prompt<start>story<end>`.
            stories(i, 60)
                .split("\n<|endoftext|>\n")
                .map(|s| format!("Tell the tale called `{}`.<start>{s}<end>\n", &s[..9]))
                .collect()
        } else {
            stories(i, 60)
        };
        std::fs::write(folder.join("text.txt"), text).unwrap();
        recipe.push_str(&format!("\n[[source]]\nname = \"{name}\"\npath = \"data/{name}\"\n"));
    }
    std::fs::write(d.join("recipe.toml"), recipe).unwrap();
    let prepared = fledge(&["data", "prepare", "--recipe", "recipe.toml", "--out", "corpus"], d);
    ok(&prepared);
    let warnings = String::from_utf8_lossy(&prepared.stderr).into_owned();
    ok(&fledge(
        &["tokenizer", "train", "--input", "corpus/train.jsonl", "--vocab-size", "300", "--out", "tok.json"],
        d,
    ));
    ok(&fledge(&["data", "tokenize", "--corpus", "corpus", "--tokenizer", "tok.json", "--out", "shards"], d));
    let train = ["train", "--data", "shards", "--tokenizer", "tok.json", "--out", "fledge-tiny", "--steps", "2"];
    ok(&fledge(
        &train
            .into_iter()
            .chain(["--batch", "2", "--seq-len", "32", "--eval-every", "2", "--eval-batches", "1"])
            .collect::<Vec<_>>(),
        d,
    ));
    let out = ok(&fledge(&["export", "--model", "fledge-tiny", "--out", "export", "--format", "hf"], d));
    let card = std::fs::read_to_string(d.join("export/README.md")).unwrap();
    (card, out, warnings)
}

#[test]
fn the_card_lists_every_source_and_llama_output_brings_its_name_and_notice() {
    let dir = tempfile::tempdir().unwrap();
    let (card, out, warnings) =
        train_and_export(dir.path(), &["tinystories-v1-train-slice-a", "gutenberg-children", "onestopenglish"]);
    for row in [
        "| tinystories-v1-train-slice-a | [CDLA-Sharing-1.0](",
        "| gutenberg-children | [public-domain](",
        "| onestopenglish | [CC-BY-SA-4.0](",
    ] {
        assert!(card.contains(row), "missing {row:?} in\n{card}");
    }
    assert!(card.contains("Eldan"), "TinyStories is credited to its authors");
    assert!(card.contains("Share-alike data: tinystories-v1-train-slice-a, onestopenglish"), "{card}");
    assert!(!card.contains("Llama-") && !card.contains("Built with Llama"), "{card}");
    assert!(card.contains("# fledge-tiny\n"), "{card}");
    assert!(!warnings.contains("Llama"), "{warnings}");

    let dir = tempfile::tempdir().unwrap();
    let (card, out2, warnings) =
        train_and_export(dir.path(), &["tinystories-v1-train-slice-a", "snakes-llama31-stories"]);
    assert!(card.contains("# Llama-fledge-tiny\n"), "the name starts with Llama:\n{card}");
    assert!(card.contains("**Built with Llama**"), "{card}");
    assert!(card.contains("| snakes-llama31-stories | [Llama-3.1]("), "{card}");
    assert!(out2.contains("Named Llama-fledge-tiny"), "{out2}");
    assert_eq!(
        warnings.matches("snakes-llama31-stories\" is under the Llama 3.1").count(),
        1,
        "warned once: {warnings}"
    );
    assert!(!out.contains("Named"), "{out}");
    // The records' prompts are kept for the chat stage, with their license.
    let instructions = dir.path().join("corpus/instructions/snakes-llama31-stories");
    let first = std::fs::read_to_string(instructions.join("train.jsonl")).unwrap();
    let expected = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell the tale called `Story 1-0`.\"},\
                    {\"role\":\"assistant\",\"content\":\"Story 1-0. The ";
    assert!(first.starts_with(expected), "{first}");
    assert!(!first.contains("<start>") && !first.contains("<end>"));
    let report = std::fs::read_to_string(instructions.join("report.json")).unwrap();
    assert!(report.contains("\"license\": \"Llama-3.1\""), "{report}");
    // The loading instructions use the name the license asks for.
    assert!(card.contains("from_pretrained(\"Llama-fledge-tiny\")"), "{card}");
}

#[test]
fn a_folder_without_a_license_is_refused_with_how_to_declare_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("notes")).unwrap();
    std::fs::write(d.join("notes/a.txt"), stories(0, 20)).unwrap();
    let o = fledge(&["data", "prepare", "--source", "notes=notes", "--out", "c"], d);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("\"notes\"") && err.contains("license") && err.contains("CC-BY-4.0"), "{err}");
    assert!(!d.join("c/train.jsonl").exists());
    std::fs::write(d.join("r.toml"), "[[source]]\nname = \"notes\"\npath = \"notes\"\nlicense = \"Kopimi\"\n").unwrap();
    let o = fledge(&["data", "prepare", "--recipe", "r.toml", "--out", "c"], d);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("r.toml") && err.contains("Kopimi"), "{err}");
    ok(&fledge(&["data", "prepare", "--source", "notes=notes", "--license", "own", "--out", "c"], d));
}

#[test]
fn the_default_recipe_is_license_clean_and_snakes_is_not() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let default = Recipe::load(&root.join("recipes/default.toml")).unwrap().licenses().unwrap();
    assert_eq!(default.len(), 5);
    for l in &default {
        assert!(!l.terms.binds_model(), "{} binds a shared model", l.source);
        assert!(!l.credit.is_empty());
    }
    let all = Recipe::load(&root.join("recipes/all-pretrain.toml")).unwrap().licenses().unwrap();
    let binding: Vec<&str> = all.iter().filter(|l| l.terms.binds_model()).map(|l| l.source.as_str()).collect();
    assert_eq!(binding, ["snakes-llama31"]);
}
