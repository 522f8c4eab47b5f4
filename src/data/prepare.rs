//! A recipe of sources, run through reading, cleaning, de-duplication and
//! decontamination into a train/validation split, with a count at every step.
//!
//! Outputs, in the output folder, each written atomically:
//! - `train.jsonl`, `val.jsonl`: one `{"text", "source"}` object per document;
//! - `report.json` and `report.md`: what came in, what was removed and why,
//!   what went out, per source.
//!
//! Order is priority: when two sources hold the same paragraph, the copy from
//! the source listed first is kept. Validation is chosen per document from a
//! hash of its text and the seed, so it does not change when other documents
//! do. Weights act on the training split only: 2.0 repeats a source's
//! documents twice, 0.5 keeps (a deterministic) half of them.

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::case::{self, CaseCounts, CaseStats};
use super::clean::{self, CleanStats, Document};
use super::dedup::{fnv1a, mix64, Contamination, Deduplicator, Verdict};
use super::license::{Manifest, SourceLicense};
use super::read::{self, Format, RawDocument, ReadOptions, ReadStats};
use super::DataError;
use crate::fsutil::AtomicFile;
use crate::progress;

/// One input of a recipe: a file or folder and how to read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub name: String,
    pub path: PathBuf,
    #[serde(default)]
    pub format: Format,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default = "one")]
    pub weight: f64,
    #[serde(default)]
    pub lossy: bool,
    /// The text was lower-cased: restore its case (see [`super::case`]).
    #[serde(default)]
    pub restore_case: bool,
    /// Sources (listed earlier, cased) to learn the case map from; empty
    /// means every earlier source that is not itself lower-cased.
    #[serde(default)]
    pub case_from: Vec<String>,
    /// Share of this source's documents held out for validation, instead of
    /// `prepare.val_fraction`.
    #[serde(default)]
    pub val_fraction: Option<f64>,
    /// The most passes over this source's text a training run may make: the
    /// trainer stops drawing from it after that many (see
    /// [`super::shards::BatchLoader`]). Unlimited when unset.
    #[serde(default)]
    pub max_epochs: Option<f64>,
    /// The validation set this source's held-out documents are scored in
    /// (several sources can share one); the source's own name by default.
    #[serde(default)]
    pub val_set: Option<String>,
    /// The source's license, when the manifest has no entry for its folder
    /// (an id from `fledge data licenses`).
    #[serde(default)]
    pub license: Option<String>,
}

fn one() -> f64 {
    1.0
}

impl SourceSpec {
    /// The validation set the source's held-out documents are scored in.
    pub fn val_set(&self) -> &str {
        self.val_set.as_deref().unwrap_or(&self.name)
    }

    /// A source read from `path` with every option at its default.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            format: Format::Auto,
            field: None,
            include: vec![],
            weight: 1.0,
            lossy: false,
            restore_case: false,
            case_from: vec![],
            val_fraction: None,
            max_epochs: None,
            val_set: None,
            license: None,
        }
    }

    fn read_options(&self) -> ReadOptions {
        ReadOptions { format: self.format, field: self.field.clone(), include: self.include.clone(), lossy: self.lossy }
    }
}

/// Knobs of the preparation, with defaults that suit small story corpora.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrepareSettings {
    /// Seed of the train/validation split and of fractional weights.
    pub seed: u64,
    /// Share of documents held out for validation.
    pub val_fraction: f64,
    /// Longer documents (books) are split into sections of about this size.
    pub max_document_bytes: usize,
    /// Documents shorter than this after cleaning are dropped as near-empty.
    pub min_document_bytes: usize,
    /// Lines with fewer words are never treated as duplicates.
    pub dedup_min_words: usize,
    /// MinHash similarity above which two lines are near-duplicates.
    pub near_duplicate_threshold: f64,
    /// Word n-gram length for decontamination.
    pub decontaminate_ngram: usize,
}

impl Default for PrepareSettings {
    fn default() -> Self {
        Self {
            seed: 1234,
            val_fraction: 0.01,
            max_document_bytes: 16 * 1024,
            min_document_bytes: 100,
            dedup_min_words: 10,
            near_duplicate_threshold: 0.8,
            decontaminate_ngram: 13,
        }
    }
}

/// A data recipe: what to read, what to hold out, how to prepare it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// A license manifest of the user's own, added to fledge's (see
    /// [`super::license`]); relative to the recipe.
    #[serde(default)]
    pub manifest: Option<PathBuf>,
    #[serde(default)]
    pub prepare: PrepareSettings,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceSpec>,
    /// Evaluation sets whose text must not appear in training.
    #[serde(default, rename = "eval")]
    pub eval_sets: Vec<SourceSpec>,
    /// The file the recipe was loaded from, for error messages.
    #[serde(skip)]
    pub origin: Option<PathBuf>,
}

impl Recipe {
    /// Loads a TOML recipe; relative paths are taken from the recipe's folder.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let mut recipe: Recipe = toml::from_str(&text)
            .map_err(|e| DataError::Recipe { path: path.to_path_buf(), message: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for s in recipe.sources.iter_mut().chain(recipe.eval_sets.iter_mut()) {
            if s.path.is_relative() {
                s.path = base.join(&s.path);
            }
        }
        if let Some(m) = recipe.manifest.as_mut().filter(|m| m.is_relative()) {
            *m = base.join(&*m);
        }
        recipe.origin = Some(path.to_path_buf());
        recipe.validate(path)?;
        Ok(recipe)
    }

    /// Checks what can be checked before reading any data.
    pub fn validate(&self, path: &Path) -> Result<(), DataError> {
        let err = |message: String| DataError::Recipe { path: path.to_path_buf(), message };
        if self.sources.is_empty() {
            return Err(err("no [[source]] entries: add at least one with a name and a path".into()));
        }
        let mut names = std::collections::HashSet::new();
        for s in self.sources.iter().chain(&self.eval_sets) {
            if !names.insert(&s.name) {
                return Err(err(format!("source name \"{}\" is used twice; names must be unique", s.name)));
            }
            if !(s.weight.is_finite() && s.weight >= 0.0) {
                return Err(err(format!("source \"{}\": weight must be a number >= 0, got {}", s.name, s.weight)));
            }
        }
        for (i, s) in self.sources.iter().enumerate() {
            if let Some(e) = s.max_epochs {
                if !(e.is_finite() && e > 0.0) {
                    return Err(err(format!("source \"{}\": max_epochs must be a number > 0, got {e}", s.name)));
                }
            }
            if let Some(f) = s.val_fraction {
                if !(0.0..1.0).contains(&f) {
                    return Err(err(format!("source \"{}\": val_fraction must be in [0, 1), got {f}", s.name)));
                }
            }
            if !s.case_from.is_empty() && !s.restore_case {
                return Err(err(format!(
                    "source \"{}\": case_from is set but restore_case is not; add `restore_case = true`",
                    s.name
                )));
            }
            for from in &s.case_from {
                match self.sources[..i].iter().find(|e| &e.name == from) {
                    Some(e) if e.restore_case => {
                        return Err(err(format!(
                            "source \"{}\": case_from names \"{from}\", which is lower-cased itself; learn case from cased text",
                            s.name
                        )))
                    }
                    Some(_) => {}
                    None => {
                        return Err(err(format!(
                            "source \"{}\": case_from names \"{from}\", which is not a [[source]] listed before it",
                            s.name
                        )))
                    }
                }
            }
            if s.restore_case && s.case_from.is_empty() && self.sources[..i].iter().all(|e| e.restore_case) {
                return Err(err(format!(
                    "source \"{}\": restore_case needs cased text to learn from; list a cased source before it",
                    s.name
                )));
            }
        }
        if self.sources.iter().all(|s| s.weight == 0.0) {
            return Err(err("every source has weight 0: nothing would be trained on".into()));
        }
        let p = &self.prepare;
        if !(0.0..1.0).contains(&p.val_fraction) {
            return Err(err(format!("prepare.val_fraction must be in [0, 1), got {}", p.val_fraction)));
        }
        if !(0.0..=1.0).contains(&p.near_duplicate_threshold) {
            return Err(err(format!(
                "prepare.near_duplicate_threshold must be in [0, 1], got {}",
                p.near_duplicate_threshold
            )));
        }
        if p.decontaminate_ngram == 0 || p.max_document_bytes == 0 {
            return Err(err("prepare.decontaminate_ngram and prepare.max_document_bytes must be positive".into()));
        }
        Ok(())
    }

    /// Every source's license, from the manifest or the recipe, or an error
    /// naming the source that has none.
    pub fn licenses(&self) -> Result<Vec<SourceLicense>, DataError> {
        let origin = self.origin.clone().unwrap_or_else(|| PathBuf::from("the recipe"));
        let mut manifest = Manifest::builtin();
        if let Some(m) = &self.manifest {
            manifest.extend_from(m)?;
        }
        self.sources.iter().map(|s| manifest.resolve(&s.name, &s.path, s.license.as_deref(), &origin)).collect()
    }
}

/// Counts for one source, from files in to documents out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceReport {
    pub name: String,
    pub path: String,
    pub weight: f64,
    /// The recipe's cap on passes over this source's text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_epochs: Option<f64>,
    /// The source's license and what it asks of a shared model.
    #[serde(default)]
    pub license: Option<SourceLicense>,
    pub read: ReadStats,
    pub clean: CleanStats,
    /// Case restoration, for a source marked `restore_case`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseStats>,
    /// Prompt/response records (`prompt<start>story<end>`) kept as
    /// instructions for the chat stage, in `instructions/{source}/`.
    #[serde(default)]
    pub instructions: usize,
    /// Documents after long ones were split into sections.
    pub sections: usize,
    pub empty_documents: usize,
    pub exact_duplicate_lines: u64,
    pub exact_duplicate_bytes: u64,
    pub near_duplicate_lines: u64,
    pub near_duplicate_bytes: u64,
    pub contaminated_lines: u64,
    pub contaminated_bytes: u64,
    /// Documents left too short after removing duplicate or contaminated lines.
    pub emptied_documents: usize,
    pub train_documents: usize,
    pub train_bytes: u64,
    pub val_documents: usize,
    pub val_bytes: u64,
    /// Training documents and bytes after the weight was applied.
    pub mixed_documents: usize,
    pub mixed_bytes: u64,
}

/// The whole preparation's report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PrepareReport {
    pub settings: PrepareSettings,
    pub eval_sets: Vec<String>,
    pub eval_lines: usize,
    pub sources: Vec<SourceReport>,
    pub train_documents: usize,
    pub train_bytes: u64,
    pub val_documents: usize,
    pub val_bytes: u64,
    pub seconds: f64,
    /// What the outputs were made from (see [`fingerprint`]): a re-run with
    /// the same fingerprint reuses them.
    #[serde(default)]
    pub fingerprint: String,
    /// This call reused an earlier preparation's outputs.
    #[serde(skip)]
    pub reused: bool,
}

struct Prepared {
    source: usize,
    text: String,
}

/// Bumped whenever preparation would write different outputs from the same
/// inputs, so that earlier outputs are not reused.
const PREPARE_LOGIC: u32 = 2;

/// A digest of everything a preparation's outputs depend on: fledge's
/// version and preparation logic, the recipe, the license manifests, and
/// every input file's path, size and modification time.
pub fn fingerprint(recipe: &Recipe) -> Result<String, DataError> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("{} {PREPARE_LOGIC}\n", env!("CARGO_PKG_VERSION")));
    h.update(serde_json::to_string(recipe).expect("a recipe serializes"));
    h.update(super::license::BUILTIN);
    if let Some(m) = &recipe.manifest {
        h.update(std::fs::read(m).map_err(|e| DataError::io(m, e))?);
    }
    for spec in recipe.sources.iter().chain(&recipe.eval_sets) {
        for file in read::list_files(&spec.path, &spec.read_options(), &mut ReadStats::default())? {
            let meta = std::fs::metadata(&file).map_err(|e| DataError::io(&file, e))?;
            let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            h.update(format!("{} {} {:?}\n", file.display(), meta.len(), modified));
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The report of an earlier preparation in `out_dir` with this fingerprint,
/// if its outputs are all there.
fn reusable(out_dir: &Path, fingerprint: &str) -> Option<PrepareReport> {
    let report: PrepareReport =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).ok()?).ok()?;
    let complete = ["train.jsonl", "val.jsonl", "report.md"].iter().all(|f| out_dir.join(f).is_file());
    (report.fingerprint == fingerprint && complete).then_some(PrepareReport { reused: true, ..report })
}

/// Runs a recipe and writes its outputs into `out_dir`, unless `out_dir`
/// already holds the outputs of the same recipe on the same inputs.
pub fn prepare(recipe: &Recipe, out_dir: &Path) -> Result<PrepareReport, DataError> {
    for s in recipe.sources.iter().chain(&recipe.eval_sets) {
        std::fs::metadata(&s.path).map_err(|e| DataError::io(&s.path, e))?;
    }
    let licenses = recipe.licenses()?;
    let fingerprint = fingerprint(recipe)?;
    if let Some(report) = reusable(out_dir, &fingerprint) {
        tracing::info!("{}: same recipe and inputs as before; reusing its outputs", out_dir.display());
        return Ok(report);
    }
    let start = std::time::Instant::now();
    let settings = &recipe.prepare;
    warn_binding_licenses(&licenses);
    let contamination = evaluation_lines(recipe)?;

    let total_bytes: u64 = recipe.sources.iter().map(|s| dir_size(&s.path)).sum();
    let bar = progress::bytes_bar(total_bytes, "preparing");
    let mut dedup = Deduplicator::new(settings.dedup_min_words, settings.near_duplicate_threshold);
    let mut reports = Vec::new();
    let mut kept: Vec<Prepared> = Vec::new();
    let case_teachers = case_teachers(recipe);
    let mut case_learned: Vec<Option<(CaseCounts, Vec<String>)>> = vec![None; recipe.sources.len()];

    for (index, spec) in recipe.sources.iter().enumerate() {
        let mut report = SourceReport {
            name: spec.name.clone(),
            path: spec.path.display().to_string(),
            weight: spec.weight,
            max_epochs: spec.max_epochs,
            license: Some(licenses[index].clone()),
            ..Default::default()
        };
        let mut raws = Vec::new();
        report.read = read::read_source(&spec.path, &spec.read_options(), |raw| raws.push(raw))?;
        bar.inc(report.read.bytes);
        let (mut documents, instructions) = clean_documents(raws, settings, &mut report);
        if !instructions.is_empty() {
            report.instructions = instructions.len();
            write_instructions(out_dir, spec, &licenses[index], instructions, settings.seed)?;
        }

        if case_teachers.iter().any(|t| t.contains(&index)) {
            case_learned[index] = Some(learn_case(&documents, settings.seed));
        }
        if spec.restore_case {
            let teachers: Vec<(&str, &(CaseCounts, Vec<String>))> = case_teachers[index]
                .iter()
                .filter_map(|&j| Some((recipe.sources[j].name.as_str(), case_learned[j].as_ref()?)))
                .collect();
            report.case = Some(restore_case(&mut documents, &teachers));
        }
        for doc in drop_repeated_lines(documents, &mut dedup, &contamination, settings, &mut report) {
            kept.push(Prepared { source: index, text: doc });
        }
        reports.push(report);
    }
    bar.finish_and_clear();

    let (train, val) = split_and_mix(&kept, recipe, &mut reports);
    check_splits(recipe, &reports, &train, &val, kept.len())?;

    write_jsonl(&out_dir.join("train.jsonl"), &train, &recipe.sources, false)?;
    write_jsonl(&out_dir.join("val.jsonl"), &val, &recipe.sources, true)?;

    let report = PrepareReport {
        settings: settings.clone(),
        eval_sets: recipe.eval_sets.iter().map(|e| e.name.clone()).collect(),
        eval_lines: contamination.eval_lines,
        train_documents: train.len(),
        train_bytes: train.iter().map(|d| d.text.len() as u64).sum(),
        val_documents: val.len(),
        val_bytes: val.iter().map(|d| d.text.len() as u64).sum(),
        sources: reports,
        seconds: start.elapsed().as_secs_f64(),
        fingerprint,
        reused: false,
    };
    let json = serde_json::to_string_pretty(&report).expect("report serializes");
    crate::fsutil::write_atomic(out_dir.join("report.json"), json.as_bytes()).map_err(|e| DataError::io(out_dir, e))?;
    crate::fsutil::write_atomic(out_dir.join("report.md"), render_report(&report).as_bytes())
        .map_err(|e| DataError::io(out_dir, e))?;
    Ok(report)
}

/// The evaluation sets' lines, cleaned as the sources are, that no training
/// line may share a long enough run of words with.
fn evaluation_lines(recipe: &Recipe) -> Result<Contamination, DataError> {
    let mut contamination = Contamination::new(recipe.prepare.decontaminate_ngram);
    for eval in &recipe.eval_sets {
        read::read_source(&eval.path, &eval.read_options(), |raw| {
            let doc = clean::clean(&raw.text, &mut CleanStats::default());
            for line in doc.lines() {
                contamination.add_eval_line(line);
            }
        })?;
    }
    if !recipe.eval_sets.is_empty() {
        tracing::info!(lines = contamination.eval_lines, "evaluation text loaded for decontamination");
    }
    Ok(contamination)
}

/// Case restoration: for each source, the sources that teach it its case
/// map (empty unless it is a lower-cased source to restore). By default
/// every earlier source written in normal case; `case_from` names them.
fn case_teachers(recipe: &Recipe) -> Vec<Vec<usize>> {
    recipe
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| match (s.restore_case, s.case_from.is_empty()) {
            (false, _) => vec![],
            (true, true) => (0..i).filter(|&j| !recipe.sources[j].restore_case).collect(),
            (true, false) => {
                s.case_from.iter().filter_map(|name| recipe.sources.iter().position(|e| &e.name == name)).collect()
            }
        })
        .collect()
}

/// One source's documents cleaned (Gutenberg headers, boilerplate and
/// mojibake), cut into sections of at most `max_document_bytes`, the ones
/// too short to keep dropped; what cleaning did is counted in `report`.
/// Records that carry a prompt also come back as (prompt, response) pairs.
fn clean_documents(
    raws: Vec<RawDocument>,
    settings: &PrepareSettings,
    report: &mut SourceReport,
) -> (Vec<Document>, Vec<(String, String)>) {
    // Cleaning is independent per document: spread it over the cores.
    type Cleaned = (Vec<Document>, CleanStats, Option<(String, String)>);
    let cleaned: Vec<Cleaned> = raws
        .par_iter()
        .map(|raw| {
            let mut stats = CleanStats::default();
            let doc = clean::clean(&raw.text, &mut stats);
            let instruction =
                raw.instruction.as_ref().map(|i| (clean::repair_mojibake(i).0.into_owned(), doc.render()));
            (clean::split_sections(doc, settings.max_document_bytes), stats, instruction)
        })
        .collect();
    drop(raws);
    let instructions: Vec<(String, String)> = cleaned.iter().filter_map(|c| c.2.clone()).collect();
    let mut documents = Vec::new();
    for (sections, stats, _) in cleaned {
        report.clean.gutenberg_bytes += stats.gutenberg_bytes;
        report.clean.boilerplate_lines += stats.boilerplate_lines;
        report.clean.boilerplate_bytes += stats.boilerplate_bytes;
        report.clean.mojibake_repaired += stats.mojibake_repaired;
        for doc in sections {
            report.sections += 1;
            if doc.byte_len() < settings.min_document_bytes {
                report.empty_documents += 1;
            } else {
                documents.push(doc);
            }
        }
    }
    (documents, instructions)
}

/// De-duplication and decontamination, line by line, in recipe order: drops
/// each line seen before (exactly or nearly, in this source or an earlier
/// one) or sharing a run of words with an evaluation set, counting them in
/// `report`, and returns the documents that still hold enough text, rendered.
fn drop_repeated_lines(
    documents: Vec<Document>,
    dedup: &mut Deduplicator,
    contamination: &Contamination,
    settings: &PrepareSettings,
    report: &mut SourceReport,
) -> Vec<String> {
    let lines: Vec<&str> = documents.iter().flat_map(|d| d.lines().map(|l| l.as_str())).collect();
    let prepared = dedup.prepare(&lines);
    let contaminated: Vec<bool> = lines.par_iter().map(|l| contamination.is_contaminated(l)).collect();
    let mut verdicts = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let verdict = if contaminated[i] { Verdict::Contaminated } else { dedup.judge(&prepared[i]) };
        let bytes = line.len() as u64 + 1;
        match verdict {
            Verdict::Keep => {}
            Verdict::ExactDuplicate => {
                report.exact_duplicate_lines += 1;
                report.exact_duplicate_bytes += bytes;
            }
            Verdict::NearDuplicate => {
                report.near_duplicate_lines += 1;
                report.near_duplicate_bytes += bytes;
            }
            Verdict::Contaminated => {
                report.contaminated_lines += 1;
                report.contaminated_bytes += bytes;
            }
        }
        verdicts.push(verdict);
    }
    drop(prepared);
    drop(lines);
    let mut verdicts = verdicts.into_iter();
    let mut kept = Vec::new();
    for mut doc in documents {
        for block in doc.blocks.iter_mut() {
            block.retain(|_| verdicts.next() == Some(Verdict::Keep));
        }
        doc.blocks.retain(|b| !b.is_empty());
        if doc.byte_len() < settings.min_document_bytes {
            report.emptied_documents += 1;
            continue;
        }
        kept.push(doc.render());
    }
    kept
}

/// Warns about each source whose license binds a model trained on it (a name
/// prefix, a notice), so that nobody shares such a model unaware.
fn warn_binding_licenses(licenses: &[SourceLicense]) {
    for l in licenses.iter().filter(|l| l.terms.binds_model()) {
        let asks: Vec<String> = [
            l.terms.name_prefix.as_ref().map(|p| format!("have a name that starts with \"{p}\"")),
            l.terms.notice.as_ref().map(|n| format!("show the notice \"{n}\"")),
        ]
        .into_iter()
        .flatten()
        .collect();
        tracing::warn!(
            "source \"{}\" is under the {}: a model trained on it and shared must {}. `fledge export` does this; leave the source out of models you share otherwise",
            l.source,
            l.terms.name,
            asks.join(" and ")
        );
    }
}

/// Splits the kept documents into training and validation by a hash of
/// their text (the same split for the same seed, whatever the order), and
/// repeats each training document by its source's weight (a fractional
/// weight repeats a hash-chosen share once more). Counts go into `reports`.
fn split_and_mix<'a>(
    kept: &'a [Prepared],
    recipe: &Recipe,
    reports: &mut [SourceReport],
) -> (Vec<&'a Prepared>, Vec<&'a Prepared>) {
    let settings = &recipe.prepare;
    let mut train = Vec::new();
    let mut val = Vec::new();
    for doc in kept {
        let fraction = recipe.sources[doc.source].val_fraction.unwrap_or(settings.val_fraction);
        let threshold = (fraction * 1_000_000.0) as u64;
        let h = mix64(fnv1a(doc.text.as_bytes()) ^ settings.seed);
        let report = &mut reports[doc.source];
        let bytes = doc.text.len() as u64;
        if h % 1_000_000 < threshold {
            report.val_documents += 1;
            report.val_bytes += bytes;
            val.push(doc);
            continue;
        }
        report.train_documents += 1;
        report.train_bytes += bytes;
        let weight = recipe.sources[doc.source].weight;
        let whole = weight.floor() as usize;
        let fraction = weight - weight.floor();
        let extra = (mix64(h ^ 0x5eed) % 1_000_000) < (fraction * 1_000_000.0) as u64;
        for _ in 0..whole + usize::from(extra) {
            report.mixed_documents += 1;
            report.mixed_bytes += bytes;
            train.push(doc);
        }
    }
    (train, val)
}

/// Refuses a split that cannot train or validate: a source left with no
/// documents, a source whose own validation share selects none, or an
/// empty training or validation split.
fn check_splits(
    recipe: &Recipe,
    reports: &[SourceReport],
    train: &[&Prepared],
    val: &[&Prepared],
    kept: usize,
) -> Result<(), DataError> {
    let settings = &recipe.prepare;
    for r in reports {
        if r.train_documents + r.val_documents == 0 {
            return Err(DataError::EmptyCorpus(format!(
                "source \"{}\" ({}) has no documents left after cleaning: {} read, {} near-empty, {} emptied by de-duplication or decontamination. Check its path, format and field",
                r.name, r.path, r.read.documents, r.empty_documents, r.emptied_documents
            )));
        }
    }
    for (r, spec) in reports.iter().zip(&recipe.sources) {
        if let (Some(f), 0) = (spec.val_fraction, r.val_documents) {
            if f > 0.0 {
                return Err(DataError::EmptyCorpus(format!(
                    "source \"{}\": val_fraction {f} selects none of its {} documents; raise it, or remove it to use prepare.val_fraction",
                    r.name,
                    r.train_documents
                )));
            }
        }
    }
    if train.is_empty() {
        return Err(DataError::EmptyCorpus("the training split is empty: raise the weights or add text".into()));
    }
    if val.is_empty() && settings.val_fraction > 0.0 {
        return Err(DataError::EmptyCorpus(format!(
            "the validation split is empty: with {} documents, val_fraction {} selects none; raise prepare.val_fraction",
            kept,
            settings.val_fraction
        )));
    }
    Ok(())
}

/// One training document of a prepared corpus, as `train.jsonl` holds it.
#[derive(Debug, Clone, Deserialize)]
pub struct TrainingDocument {
    pub text: String,
    pub source: String,
}

/// Reads the training documents of a prepared corpus (`corpus/train.jsonl`;
/// never the validation split), for the stages that make chat data from the
/// corpus itself: each document once, in the order of its first line.
///
/// Why once: a source's recipe weight above 1 repeats its documents in
/// train.jsonl, which is how pretraining sees them more often. Chat data made
/// from those repeats would ask for the same story in the same words as many
/// times over (a weight of 2 doubled every story request of
/// `configs/speedrun-llama-ts.toml`, on top of the chat stage's own weights).
/// Preparation has already removed duplicates within and across sources, so
/// a document met twice here is a repeat the weights made.
pub fn read_training_documents(corpus: &Path) -> Result<Vec<TrainingDocument>, DataError> {
    let path = corpus.join("train.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::Format {
            path: path.clone(),
            line: None,
            message: "no prepared corpus here: make one with `fledge data prepare --out DIR` or \
                      `fledge speedrun --until corpus` (it writes OUT/data), and pass that folder"
                .into(),
        },
        _ => DataError::io(&path, e),
    })?;
    let mut seen = std::collections::HashSet::new();
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let doc: TrainingDocument = serde_json::from_str(line).map_err(|e| DataError::Format {
            path: path.clone(),
            line: Some(i + 1),
            message: format!("{e}; expected {{\"text\": ..., \"source\": ...}} as `fledge data prepare` writes"),
        })?;
        if seen.insert(doc.text.clone()) {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// The validation documents of one set of a prepared corpus (`val_set` in
/// the recipe, e.g. `tinystories`), joined by blank lines into one text:
/// held-out text to measure a model on as someone outside fledge would.
pub fn read_validation_text(corpus: &Path, set: &str) -> Result<String, DataError> {
    let path = corpus.join("val.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| DataError::Format {
            path: path.clone(),
            line: Some(i + 1),
            message: format!("{e}; expected a JSON object as `fledge data prepare` writes"),
        })?;
        if v.get("set").and_then(|s| s.as_str()) == Some(set) {
            docs.push(v["text"].as_str().unwrap_or_default().to_string());
        }
    }
    Ok(docs.join("\n\n"))
}

/// The license of each source of a prepared corpus, read from the
/// `report.json` that `fledge data prepare` writes beside it: what a set
/// made from the corpus's text (`fledge data rc`, `fledge data stories`)
/// carries on. A source the report gives no license has none here.
pub fn read_source_licenses(corpus: &Path) -> Result<Vec<SourceLicense>, DataError> {
    let path = corpus.join("report.json");
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::Format {
            path: path.clone(),
            line: None,
            message: "missing: the corpus report of `fledge data prepare` names each source's license; \
                      prepare the corpus again with `fledge data prepare` (or `fledge speedrun --until corpus`)"
                .into(),
        },
        _ => DataError::io(&path, e),
    })?;
    let report: PrepareReport = serde_json::from_slice(&bytes).map_err(|e| DataError::Format {
        path: path.clone(),
        line: None,
        message: format!("not a corpus report of `fledge data prepare`: {e}"),
    })?;
    Ok(report.sources.into_iter().filter_map(|s| s.license).collect())
}

/// Writes a source's prompt/response records as conversations for the chat
/// stage (`instructions/{source}/{train,val,test}.jsonl` and `report.json`,
/// the layout of `fledge data chat`), with 1% held out for validation.
fn write_instructions(
    out_dir: &Path,
    spec: &SourceSpec,
    license: &SourceLicense,
    pairs: Vec<(String, String)>,
    seed: u64,
) -> Result<(), DataError> {
    use crate::chat::convert::{self, Converted, Split};
    use crate::chat::template::{Conversation, Message, Role};
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (prompt, response) in pairs {
        if response.trim().is_empty() {
            continue;
        }
        let held_out = mix64(fnv1a(prompt.as_bytes()) ^ seed) % 100 == 0;
        let conv = Conversation::new(vec![Message::new(Role::User, prompt), Message::new(Role::Assistant, response)]);
        if held_out { &mut val } else { &mut train }.push(conv);
    }
    let converted = Converted {
        source: spec.name.clone(),
        splits: vec![(Split::Train, train), (Split::Val, val), (Split::Test, Vec::new())],
        skipped: vec![],
        notes: vec![format!("prompt/response records of {}", spec.path.display())],
    };
    let dir = out_dir.join("instructions");
    convert::write_with_license(&converted, &dir, Some(license.clone()))
        .map_err(|e| DataError::io(&dir, std::io::Error::other(e.to_string())))?;
    Ok(())
}

/// Learns case counts from a cased source's documents, holding one in
/// twenty out (chosen by hash) to measure restoration on text the map never saw.
fn learn_case(documents: &[Document], seed: u64) -> (CaseCounts, Vec<String>) {
    documents
        .par_iter()
        .fold(
            || (CaseCounts::default(), Vec::new()),
            |(mut counts, mut held_out), doc| {
                let text = doc.render();
                if mix64(fnv1a(text.as_bytes()) ^ seed ^ 0xca5e) % 20 == 0 {
                    held_out.push(text);
                } else {
                    counts.learn(&text);
                }
                (counts, held_out)
            },
        )
        .reduce(
            || (CaseCounts::default(), Vec::new()),
            |mut a, b| {
                a.0.merge(&b.0);
                a.1.extend(b.1);
                a
            },
        )
}

/// Restores the case of `documents`, line by line, with a map learned from
/// `teachers`, and measures the word error rate on their held-out text.
fn restore_case(documents: &mut [Document], teachers: &[(&str, &(CaseCounts, Vec<String>))]) -> CaseStats {
    let mut counts = CaseCounts::default();
    for (_, (c, _)) in teachers {
        counts.merge(c);
    }
    let map = counts.map();
    let (check_errors, check_words) = teachers
        .par_iter()
        .flat_map(|(_, (_, held_out))| held_out.par_iter())
        .map(|text| case::word_errors(&map, text))
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let words_changed = documents
        .par_iter_mut()
        .map(|doc| {
            let mut changed = 0;
            for line in doc.blocks.iter_mut().flatten() {
                let (restored, n) = map.restore(line);
                *line = restored;
                changed += n;
            }
            changed
        })
        .sum();
    CaseStats {
        learned_from: teachers.iter().map(|(name, _)| name.to_string()).collect(),
        map_words: map.len() as u64,
        words_changed,
        check_words,
        check_errors,
    }
}

/// Writes one `{"text", "source"}` object per document, with the validation
/// set (`"set"`) in the validation split.
fn write_jsonl(path: &Path, docs: &[&Prepared], sources: &[SourceSpec], with_set: bool) -> Result<(), DataError> {
    #[derive(Serialize)]
    struct Line<'a> {
        text: &'a str,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        set: Option<&'a str>,
    }
    let mut f = AtomicFile::create(path).map_err(|e| DataError::io(path, e))?;
    for doc in docs {
        let spec = &sources[doc.source];
        let set = with_set.then(|| spec.val_set());
        let line = serde_json::to_string(&Line { text: &doc.text, source: &spec.name, set }).expect("serializes");
        writeln!(f, "{line}").map_err(|e| DataError::io(path, e))?;
    }
    f.commit().map_err(|e| DataError::io(path, e))
}

fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(path).map(|entries| entries.flatten().map(|e| dir_size(&e.path())).sum()).unwrap_or(0)
}

fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e6)
}

/// The report as a Markdown table, for people.
pub fn render_report(r: &PrepareReport) -> String {
    let mut s = String::new();
    s.push_str("# Corpus preparation\n\n");
    s.push_str(&format!(
        "Settings: seed {}, validation {:.1}% of documents, sections of at most {} bytes, documents under {} bytes dropped, \
         near-duplicate threshold {} (lines of {}+ words), decontamination by word {}-grams against {} ({} lines).\n\n",
        r.settings.seed,
        r.settings.val_fraction * 100.0,
        r.settings.max_document_bytes,
        r.settings.min_document_bytes,
        r.settings.near_duplicate_threshold,
        r.settings.dedup_min_words,
        r.settings.decontaminate_ngram,
        if r.eval_sets.is_empty() { "no evaluation set".to_string() } else { r.eval_sets.join(", ") },
        r.eval_lines
    ));
    s.push_str("| source | files | docs in | MB in | Gutenberg MB | boilerplate lines | mojibake fixed | near-empty docs | exact dup lines (MB) | near dup lines (MB) | contaminated lines (MB) | train docs | train MB | val docs | val MB | weight | mixed MB |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for x in &r.sources {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} ({}) | {} ({}) | {} | {} | {} | {} | {} | {} |\n",
            x.name,
            x.read.files,
            x.read.documents,
            mb(x.read.bytes),
            mb(x.clean.gutenberg_bytes),
            x.clean.boilerplate_lines,
            x.clean.mojibake_repaired,
            x.empty_documents + x.emptied_documents,
            x.exact_duplicate_lines,
            mb(x.exact_duplicate_bytes),
            x.near_duplicate_lines,
            mb(x.near_duplicate_bytes),
            x.contaminated_lines,
            mb(x.contaminated_bytes),
            x.train_documents,
            mb(x.train_bytes),
            x.val_documents,
            mb(x.val_bytes),
            x.weight,
            mb(x.mixed_bytes),
        ));
    }
    for x in r.sources.iter().filter(|x| x.instructions > 0) {
        s.push_str(&format!(
            "\nKept {} prompt/response records of {} as instructions for the chat stage: `instructions/{}/` \
             (`fledge sft --source instructions/{}/train.jsonl`).\n",
            x.instructions, x.name, x.name, x.name
        ));
    }
    for x in &r.sources {
        if let Some(c) = &x.case {
            s.push_str(&format!(
                "\nCase restored in {}: {} words changed, with a map of {} capitalised words learned from {}. \
                 Word error rate {:.2}% ({} of {} words), measured by lower-casing and restoring held-out text of those sources.\n",
                x.name,
                c.words_changed,
                c.map_words,
                c.learned_from.join(", "),
                100.0 * c.word_error_rate(),
                c.check_errors,
                c.check_words
            ));
        }
    }
    if r.sources.iter().any(|x| x.license.is_some()) {
        s.push_str("\n| source | license | what it asks of a shared model | credit |\n|---|---|---|---|\n");
        for x in &r.sources {
            let Some(l) = &x.license else { continue };
            let asks: Vec<String> = [
                l.terms.credit.then(|| "credit".to_string()),
                l.terms.share_alike.then(|| "share-alike (the data)".to_string()),
                l.terms.name_prefix.as_ref().map(|p| format!("a name starting \"{p}\"")),
                l.terms.notice.as_ref().map(|n| format!("the notice \"{n}\"")),
            ]
            .into_iter()
            .flatten()
            .collect();
            let asks = if asks.is_empty() { "nothing".to_string() } else { asks.join(", ") };
            s.push_str(&format!("| {} | {} | {asks} | {} |\n", x.name, l.license, l.credit));
        }
    }
    s.push_str(&format!(
        "\nOut: {} training documents ({} MB after weights), {} validation documents ({} MB), in {:.1} s.\n",
        r.train_documents,
        mb(r.train_bytes),
        r.val_documents,
        mb(r.val_bytes),
        r.seconds
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const WORDS: [&str; 16] = [
        "fox", "river", "stone", "heron", "morning", "bread", "little", "green", "sang", "ran", "quiet", "hill",
        "moon", "boat", "apple", "wind",
    ];

    /// A story of two long lines of words drawn from a seeded hash, so that
    /// no two stories are near-duplicates of each other.
    fn story(i: usize) -> String {
        let line = |salt: u64| {
            (0..24u64)
                .map(|w| WORDS[(mix64((i as u64) << 20 ^ salt << 10 ^ w) % 16) as usize])
                .collect::<Vec<_>>()
                .join(" ")
                + "."
        };
        format!("Story {i}: {} and more.\nThen {}", line(1), line(2))
    }

    #[test]
    fn prepare_dedups_decontaminates_splits_and_mixes() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let e = dir.path().join("eval.txt");
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        let stories: Vec<String> = (0..200).map(story).collect();
        fs::write(a.join("stories.txt"), stories.join("\n<|endoftext|>\n")).unwrap();
        // Source b repeats the first 50 stories in upper case, plus a held-out story.
        let mut b_text: Vec<String> = stories[..50].iter().map(|s| s.to_uppercase()).collect();
        let secret = "The secret tale of the glass mountain and the seven ravens who flew over it at dawn and sang to the princess.";
        b_text.push(format!("{secret}\nAnd a line that should stay because nothing else in this whole corpus says it, not even once, anywhere at all."));
        fs::write(b.join("more.txt"), b_text.join("\n<|endoftext|>\n")).unwrap();
        fs::write(&e, secret).unwrap();

        let recipe = Recipe {
            prepare: PrepareSettings { val_fraction: 0.1, ..Default::default() },
            sources: vec![
                SourceSpec { weight: 2.0, license: Some("own".into()), ..SourceSpec::new("a", a) },
                SourceSpec { license: Some("CC-BY-4.0".into()), ..SourceSpec::new("b", b) },
            ],
            eval_sets: vec![SourceSpec { weight: 1.0, ..SourceSpec::new("e", e) }],
            ..Default::default()
        };
        let out = dir.path().join("out");
        let report = prepare(&recipe, &out).unwrap_or_else(|e| panic!("{e}"));
        let ra = &report.sources[0];
        let rb = &report.sources[1];
        assert_eq!(ra.read.documents, 200);
        assert_eq!(ra.exact_duplicate_lines + ra.near_duplicate_lines, 0);
        assert_eq!(rb.exact_duplicate_lines, 100, "both lines of 50 repeated stories");
        assert_eq!(rb.emptied_documents, 50);
        assert_eq!(rb.contaminated_lines, 1);
        assert_eq!(ra.train_documents + ra.val_documents, 200);
        assert!(ra.val_documents > 5 && ra.val_documents < 40, "{}", ra.val_documents);
        assert_eq!(ra.mixed_documents, 2 * ra.train_documents);
        let train = fs::read_to_string(out.join("train.jsonl")).unwrap();
        let val = fs::read_to_string(out.join("val.jsonl")).unwrap();
        assert!(!train.contains("glass mountain") && !val.contains("glass mountain"));
        assert!(train.lines().chain(val.lines()).any(|l| l.contains("should stay")));
        assert!(out.join("report.md").exists());
        // The chat data makers read each weighted-up document once.
        let docs = read_training_documents(&out).unwrap();
        let from_a = docs.iter().filter(|d| d.source == "a").count();
        assert_eq!(from_a, ra.train_documents);
        assert_eq!(docs.len(), docs.iter().map(|d| &d.text).collect::<std::collections::HashSet<_>>().len());

        // The same recipe and seed give the same split, byte for byte.
        let out2 = dir.path().join("out2");
        prepare(&recipe, &out2).unwrap();
        assert_eq!(fs::read(out.join("val.jsonl")).unwrap(), fs::read(out2.join("val.jsonl")).unwrap());
        assert_eq!(fs::read(out.join("train.jsonl")).unwrap(), fs::read(out2.join("train.jsonl")).unwrap());

        // A second run on unchanged inputs reuses the outputs; a changed input does not.
        let written = fs::metadata(out2.join("train.jsonl")).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        prepare(&recipe, &out2).unwrap();
        assert_eq!(fs::metadata(out2.join("train.jsonl")).unwrap().modified().unwrap(), written);
        fs::write(dir.path().join("b/extra.txt"), story(999)).unwrap();
        let again = prepare(&recipe, &out2).unwrap();
        assert_eq!(again.sources[1].read.files, 2);
    }

    #[test]
    fn recipe_errors_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.toml");
        fs::write(&p, "[[source]]\nname = \"x\"\npath = \"x\"\nweight = 0\n").unwrap();
        let err = Recipe::load(&p).unwrap_err().to_string();
        assert!(err.contains("r.toml") && err.contains("weight 0"), "{err}");
        fs::write(&p, "[[source]]\nname = \"x\"\npaht = \"x\"\n").unwrap();
        let err = Recipe::load(&p).unwrap_err().to_string();
        assert!(err.contains("paht"), "{err}");
        fs::write(&p, "[prepare]\nval_fraction = 1.5\n[[source]]\nname = \"x\"\npath = \"x\"\n").unwrap();
        let err = Recipe::load(&p).unwrap_err().to_string();
        assert!(err.contains("val_fraction"), "{err}");
    }

    #[test]
    fn empty_corpus_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        fs::write(&a, "tiny").unwrap();
        let recipe = Recipe {
            prepare: PrepareSettings::default(),
            sources: vec![SourceSpec { license: Some("own".into()), ..SourceSpec::new("a", a) }],
            ..Default::default()
        };
        let out = dir.path().join("out");
        let err = prepare(&recipe, &out).unwrap_err().to_string();
        assert!(err.contains("\"a\"") && err.contains("no documents left"), "{err}");
        assert!(!out.join("train.jsonl").exists());
    }
}
