//! Every settings file the repository ships (`recipes/`, `configs/`) loads
//! and passes its checks, so a README command that names one does not fail on
//! a typo. Each file is read by the loader of the command that takes it:
//! speedrun configs, data recipes (`[[source]]` with a name), chat-stage
//! recipes (`base = ...`) and training settings (`steps = ...`).

use std::path::{Path, PathBuf};

use fledge::chat::sft::SftSettings;
use fledge::data::prepare::Recipe;
use fledge::speedrun::SpeedrunConfig;
use fledge::train::run::TrainSettings;

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(toml_files(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Which command reads a recipe file, by the keys it holds.
fn kind_of(table: &toml::Table) -> &'static str {
    if table.contains_key("base") {
        "sft"
    } else if table.contains_key("source") {
        "data"
    } else if table.contains_key("steps") {
        "train"
    } else {
        "unknown"
    }
}

#[test]
fn every_speedrun_config_loads_and_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = toml_files(&root.join("configs"));
    assert!(files.len() >= 2, "configs/ should hold the speedrun configs");
    for path in files {
        let config = SpeedrunConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        config.check().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Some(recipe) = &config.recipe {
            Recipe::load(recipe).unwrap_or_else(|e| panic!("{}: its recipe: {e}", path.display()));
        }
    }
}

#[test]
fn every_recipe_loads_with_the_loader_of_its_command() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut counts = std::collections::BTreeMap::new();
    for path in toml_files(&root.join("recipes")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let kind = kind_of(&table);
        match kind {
            "data" => {
                Recipe::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            "sft" => {
                let s = SftSettings::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(!s.sources.is_empty(), "{}: a chat stage with no [[source]]", path.display());
            }
            "train" => {
                toml::from_str::<TrainSettings>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            _ => panic!("{}: neither a data recipe, a chat-stage recipe nor training settings", path.display()),
        }
        *counts.entry(kind).or_insert(0) += 1;
    }
    for kind in ["data", "sft", "train"] {
        assert!(counts.get(kind).copied().unwrap_or(0) > 0, "no {kind} recipe found: {counts:?}");
    }
}
