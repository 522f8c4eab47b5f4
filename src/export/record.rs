//! The model's record that travels with it out of fledge and back in:
//! `fledge.json` beside the exported weights (and beside an imported
//! checkpoint's) holds the name it was shared under, the licenses of its
//! training data and its training record. Without it, a model exported,
//! imported and exported again would lose its card's name, sources and
//! licenses — and the licenses are what sharing the weights answers to.
//!
//! A folder fledge exported before this file existed (the shipped model was
//! one) still carries the same facts in its card; [`read`] falls back to it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{file_err, ExportError};
use crate::data::license::{LicenseTerms, Manifest, SourceLicense};
use crate::train::checkpoint::TrainState;

/// The file's name in an exported folder and an imported checkpoint.
pub const RECORD_FILE: &str = "fledge.json";

/// What fledge knows of a model beyond its weights.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ModelRecord {
    /// The name it was shared under (a license's prefix included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The licenses of every source it was trained on.
    #[serde(default)]
    pub licenses: Vec<SourceLicense>,
    /// The training record of the checkpoint it was exported from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainState>,
    /// The name of that checkpoint's folder ("step-000600"), so that the
    /// card says the same after an import and another export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// The text of `fledge.json`.
pub fn to_json(record: &ModelRecord) -> String {
    serde_json::to_string_pretty(record).expect("the record serializes")
}

/// Writes `dir/fledge.json` (atomically).
pub fn write(dir: &Path, record: &ModelRecord) -> Result<(), ExportError> {
    let path = dir.join(RECORD_FILE);
    crate::fsutil::write_atomic(&path, to_json(record).as_bytes()).map_err(|e| file_err(&path, e))
}

/// The record of the model folder `dir`: its `fledge.json`, else what its
/// model card (`README.md`, as fledge writes it) says; `None` when it has
/// neither (a model from elsewhere).
pub fn read(dir: &Path) -> Result<Option<ModelRecord>, ExportError> {
    let path = dir.join(RECORD_FILE);
    if path.is_file() {
        let text = std::fs::read_to_string(&path).map_err(|e| file_err(&path, e))?;
        let record = serde_json::from_str(&text)
            .map_err(|e| file_err(&path, format!("not a fledge model record ({e}); delete it to export without")))?;
        return Ok(Some(record));
    }
    let card = dir.join("README.md");
    match std::fs::read_to_string(&card) {
        Ok(text) => Ok(from_card(&text)),
        Err(_) => Ok(None),
    }
}

/// The name and licenses a fledge model card states: its `# title` and the
/// rows of its "Data and licenses" table, whose license ids are looked up in
/// fledge's manifest for their terms (share-alike, notices, name prefix).
/// `None` when the text is not a card fledge wrote.
pub fn from_card(card: &str) -> Option<ModelRecord> {
    if !card.contains("\n- fledge\n") {
        return None;
    }
    let name = card.lines().find_map(|l| l.strip_prefix("# ")).map(|n| n.trim().to_string());
    let manifest = Manifest::builtin();
    let section = card.split("\n## Data and licenses").nth(1).unwrap_or("");
    let section = section.split("\n## ").next().unwrap_or("");
    let mut licenses = Vec::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        let [source, license, credit] = cells[..] else { continue };
        if source == "source" || source.starts_with("---") {
            continue;
        }
        licenses.push(license_cell(source, license, credit, &manifest));
    }
    Some(ModelRecord { name, licenses, training: None, checkpoint: None })
}

/// One table row back into a license: `[ID](URL)` or `ID (NAME)`.
fn license_cell(source: &str, cell: &str, credit: &str, manifest: &Manifest) -> SourceLicense {
    let (id, url, name) = if let Some(rest) = cell.strip_prefix('[') {
        let (id, rest) = rest.split_once("](").unwrap_or((rest, ""));
        (id.to_string(), rest.trim_end_matches(')').to_string(), id.to_string())
    } else {
        match cell.split_once(" (") {
            Some((id, name)) => (id.to_string(), String::new(), name.trim_end_matches(')').to_string()),
            None => (cell.to_string(), String::new(), cell.to_string()),
        }
    };
    let terms = manifest.terms(&id).cloned().unwrap_or(LicenseTerms { name, url, ..Default::default() });
    SourceLicense { source: source.to_string(), license: id, terms, credit: credit.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_cards_name_and_licenses_are_read_back_with_their_terms() {
        let card = std::fs::read_to_string(
            crate::shipped_model().expect("the shipped model is in the checkout").join("README.md"),
        )
        .unwrap();
        let record = from_card(&card).expect("a fledge card");
        assert_eq!(record.name.as_deref(), Some("fledge-6m-chat"));
        let names: Vec<&str> = record.licenses.iter().map(|l| l.source.as_str()).collect();
        assert!(
            names.contains(&"tinystories-v1") && names.contains(&"babi") && names.contains(&"identity"),
            "{names:?}"
        );
        let tiny = &record.licenses[0];
        assert_eq!(tiny.license, "CDLA-Sharing-1.0");
        assert!(tiny.terms.share_alike, "the terms come from the manifest: {tiny:?}");
        assert!(tiny.credit.contains("Ronen Eldan"));
        assert!(from_card("# not ours\n\nsome README").is_none());
    }
}
