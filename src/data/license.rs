//! Licenses travel with the data.
//!
//! Every source of a recipe has a license, and a license can ask something of
//! a model trained on the text and shared: credit, a share-alike note, even a
//! name (the Llama 3.1 license wants "Llama" at the start of the model's name
//! and a "Built with Llama" notice). fledge keeps that with the data from the
//! first step to the last:
//!
//! 1. the manifest (`manifest.toml` beside this file, compiled in, and any
//!    the recipe adds) says each known folder's license and credit, and what
//!    each license asks;
//! 2. preparation resolves every source against it, or stops with an error
//!    that says how to declare the missing license;
//! 3. the prepared corpus's report, the token shards' headers and every
//!    checkpoint trained on them carry the resolved list;
//! 4. the model card lists it, and export applies a name prefix or notice a
//!    license asks for ([`Obligations`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::DataError;

/// What a license is and asks of a model trained on text under it and shared.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LicenseTerms {
    pub name: String,
    pub url: String,
    /// The model card must credit the source.
    #[serde(default)]
    pub credit: bool,
    /// The data's license is share-alike.
    #[serde(default)]
    pub share_alike: bool,
    /// The shared model's name must start with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// This notice must be shown with the shared model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

impl LicenseTerms {
    /// Does the license bind a shared model beyond credit?
    pub fn binds_model(&self) -> bool {
        self.name_prefix.is_some() || self.notice.is_some()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderEntry {
    license: String,
    #[serde(default)]
    credit: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(default)]
    license: BTreeMap<String, LicenseTerms>,
    #[serde(default)]
    folder: BTreeMap<String, FolderEntry>,
}

/// Known licenses and folders.
#[derive(Debug, Clone)]
pub struct Manifest {
    licenses: BTreeMap<String, LicenseTerms>,
    folders: BTreeMap<String, FolderEntry>,
}

/// One source's license as resolved for a recipe: what travels into shard
/// headers, checkpoints and model cards.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceLicense {
    /// The recipe's name for the source.
    pub source: String,
    /// The license id (`CC-BY-SA-4.0`, `public-domain`, ...).
    pub license: String,
    pub terms: LicenseTerms,
    /// Who made the data and where it comes from.
    #[serde(default)]
    pub credit: String,
}

pub(crate) const BUILTIN: &str = include_str!("manifest.toml");

impl Manifest {
    /// fledge's own manifest: every folder of ../shared/data.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN, Path::new("src/data/manifest.toml")).expect("the built-in manifest is valid")
    }

    /// Adds a user's manifest file: its licenses and folders win over the
    /// built-in ones of the same name.
    pub fn extend_from(&mut self, path: &Path) -> Result<(), DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let file: ManifestFile = toml::from_str(&text)
            .map_err(|e| DataError::Recipe { path: path.to_path_buf(), message: format!("license manifest: {e}") })?;
        self.licenses.extend(file.license);
        self.folders.extend(file.folder);
        self.check(path)
    }

    fn parse(text: &str, origin: &Path) -> Result<Self, DataError> {
        let file: ManifestFile = toml::from_str(text)
            .map_err(|e| DataError::Recipe { path: origin.to_path_buf(), message: format!("license manifest: {e}") })?;
        let manifest = Self { licenses: file.license, folders: file.folder };
        manifest.check(origin)?;
        Ok(manifest)
    }

    /// Every folder's license must be one the manifest defines.
    fn check(&self, origin: &Path) -> Result<(), DataError> {
        for (folder, entry) in &self.folders {
            if !self.licenses.contains_key(&entry.license) {
                return Err(DataError::Recipe {
                    path: origin.to_path_buf(),
                    message: format!(
                        "folder.{folder}.license = \"{}\" is not a known license id; known ids are {}, or define it in a [license.\"{}\"] table (name, url, credit, share_alike, name_prefix, notice)",
                        entry.license,
                        self.license_ids().join(", "),
                        entry.license
                    ),
                });
            }
        }
        Ok(())
    }

    pub fn license_ids(&self) -> Vec<String> {
        self.licenses.keys().cloned().collect()
    }

    pub fn terms(&self, id: &str) -> Option<&LicenseTerms> {
        self.licenses.get(id)
    }

    /// The license of the source `name` read from `path`, declared in the
    /// recipe (`declared`) or found by its folder's name (or its parent's,
    /// for a file inside a known folder).
    pub fn resolve(
        &self,
        name: &str,
        path: &Path,
        declared: Option<&str>,
        recipe: &Path,
    ) -> Result<SourceLicense, DataError> {
        let folder_names: Vec<String> =
            path.components().rev().take(2).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let (id, credit) = match declared {
            Some(id) => {
                let credit = folder_names
                    .iter()
                    .find_map(|f| self.folders.get(f).filter(|e| e.license == id).map(|e| e.credit.clone()))
                    .unwrap_or_else(|| format!("{name} ({})", path.display()));
                (id.to_string(), credit)
            }
            None => match folder_names.iter().find_map(|f| self.folders.get(f)) {
                Some(entry) => (entry.license.clone(), entry.credit.clone()),
                None => {
                    return Err(DataError::Recipe {
                        path: recipe.to_path_buf(),
                        message: format!(
                            "source \"{name}\": the folder \"{}\" ({}) is not in the license manifest. Declare its license under its [[source]]: `license = \"<id>\"`, where <id> is one of {} (`own` for text you wrote yourself); or pass --license with --source",
                            folder_names.first().map(String::as_str).unwrap_or(""),
                            path.display(),
                            self.license_ids().join(", ")
                        ),
                    })
                }
            },
        };
        let terms = self.licenses.get(&id).cloned().ok_or_else(|| DataError::Recipe {
            path: recipe.to_path_buf(),
            message: format!(
                "source \"{name}\": license = \"{id}\" is not a known license id; use one of {}",
                self.license_ids().join(", ")
            ),
        })?;
        Ok(SourceLicense { source: name.to_string(), license: id, terms, credit })
    }
}

/// What a list of sources asks of a model trained on all of them and shared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Obligations {
    /// The name must start with this (the first source that asks wins).
    pub name_prefix: Option<String>,
    /// Notices to show, each once, in source order.
    pub notices: Vec<String>,
    /// Sources to credit.
    pub credits: Vec<SourceLicense>,
    /// Share-alike sources.
    pub share_alike: Vec<String>,
}

impl Obligations {
    pub fn of(sources: &[SourceLicense]) -> Self {
        let mut o = Obligations::default();
        for s in sources {
            if o.name_prefix.is_none() {
                o.name_prefix = s.terms.name_prefix.clone();
            }
            if let Some(n) = &s.terms.notice {
                if !o.notices.contains(n) {
                    o.notices.push(n.clone());
                }
            }
            if s.terms.credit {
                o.credits.push(s.clone());
            }
            if s.terms.share_alike {
                o.share_alike.push(s.source.clone());
            }
        }
        o
    }

    /// `name` with the required prefix (`Llama-fledge-chat`), unless it has it.
    pub fn apply_name(&self, name: &str) -> String {
        match &self.name_prefix {
            Some(prefix) if !name.starts_with(prefix.as_str()) => format!("{prefix}-{name}"),
            _ => name.to_string(),
        }
    }
}

/// Merges license lists (a base model's and a fine-tuning set's), keeping
/// the first entry of each source name.
pub fn merge(a: &[SourceLicense], b: &[SourceLicense]) -> Vec<SourceLicense> {
    let mut out: Vec<SourceLicense> = a.to_vec();
    for s in b {
        if !out.iter().any(|o| o.source == s.source) {
            out.push(s.clone());
        }
    }
    out
}

/// The licenses a converted conversation set recorded in its `report.json`
/// (`fledge data chat` writes one as `"license"`, `fledge data rc` the
/// corpus's as `"licenses"`): in the folder `source`, or beside the file
/// `source`. Empty when there is no report or it records none.
pub fn of_chat_file(source: &Path) -> Vec<SourceLicense> {
    let Some(folder) = (if source.is_dir() { Some(source) } else { source.parent() }) else { return Vec::new() };
    let Ok(text) = std::fs::read_to_string(folder.join("report.json")) else { return Vec::new() };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    if let Some(list) = value.get("licenses") {
        return serde_json::from_value(list.clone()).unwrap_or_default();
    }
    value.get("license").and_then(|l| serde_json::from_value(l.clone()).ok()).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shared_data_folder_has_a_license() {
        let m = Manifest::builtin();
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        let Ok(groups) = std::fs::read_dir(&data) else {
            eprintln!("skipping: {} is not here", data.display());
            return;
        };
        let mut seen = 0;
        for group in groups.flatten().filter(|g| g.path().is_dir()) {
            for folder in std::fs::read_dir(group.path()).unwrap().flatten().filter(|f| f.path().is_dir()) {
                let name = folder.file_name().to_string_lossy().into_owned();
                let l = m.resolve(&name, &folder.path(), None, Path::new("test")).unwrap_or_else(|e| panic!("{e}"));
                assert!(!l.credit.is_empty(), "{name} has no credit line");
                seen += 1;
            }
        }
        assert!(seen >= 18, "only {seen} folders");
    }

    #[test]
    fn llama_output_binds_the_name_and_a_notice() {
        let m = Manifest::builtin();
        let p = Path::new("../shared/data/pretrain/snakes-llama31-stories");
        let snakes = m.resolve("snakes", p, None, Path::new("r.toml")).unwrap();
        let tiny = m.resolve("ts", Path::new("x/tinystories-v1-train-slice-a/a.txt"), None, Path::new("r")).unwrap();
        assert_eq!(tiny.license, "CDLA-Sharing-1.0");
        let o = Obligations::of(&[tiny.clone(), snakes]);
        assert_eq!(o.apply_name("fledge-chat"), "Llama-fledge-chat");
        assert_eq!(o.apply_name("Llama-x"), "Llama-x");
        assert_eq!(o.notices, vec!["Built with Llama".to_string()]);
        assert_eq!(o.share_alike, vec!["ts".to_string()]);
        assert_eq!(Obligations::of(&[tiny]).apply_name("fledge-chat"), "fledge-chat");
    }

    #[test]
    fn unknown_folders_and_ids_are_refused_with_what_to_do() {
        let m = Manifest::builtin();
        let err = m.resolve("notes", Path::new("/home/me/notes"), None, Path::new("r.toml")).unwrap_err().to_string();
        assert!(err.contains("r.toml") && err.contains("\"notes\"") && err.contains("license = "), "{err}");
        let err = m.resolve("notes", Path::new("/home/me/notes"), Some("WTFPL-9"), Path::new("r.toml")).unwrap_err();
        assert!(err.to_string().contains("WTFPL-9"), "{err}");
        let own = m.resolve("notes", Path::new("/home/me/notes"), Some("own"), Path::new("r.toml")).unwrap();
        assert!(!own.terms.credit && !own.terms.binds_model());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, "[folder.notes]\nlicense = \"CC-BY-9.0\"\n").unwrap();
        let mut m2 = m.clone();
        let err = m2.extend_from(&path).unwrap_err().to_string();
        assert!(
            err.contains("mine.toml") && err.contains("folder.notes.license") && err.contains("CC-BY-9.0"),
            "{err}"
        );
        std::fs::write(&path, "[folder.notes]\nlicense = \"CC-BY-4.0\"\ncredit = \"me\"\n").unwrap();
        let mut m3 = m.clone();
        m3.extend_from(&path).unwrap();
        assert_eq!(m3.resolve("n", Path::new("/home/me/notes"), None, Path::new("r")).unwrap().credit, "me");
    }
}
