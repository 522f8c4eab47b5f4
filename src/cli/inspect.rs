//! `fledge inspect`: which tokens of a text surprise the model, and the
//! text's bits per byte; and the token table `fledge generate --show-probs`
//! prints.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use fledge::generate::inspect::{
    induction_test, inspect, score_tokens, word_tokens, HeadInduction, Heads, InspectOptions,
};
use fledge::generate::{Generator, TokenLogprob};
use fledge::tokenizer::Tokenizer;

#[derive(Args)]
pub struct InspectArgs {
    /// The text to inspect (default: none, then --file is read).
    text: Option<String>,
    /// Read the text from this UTF-8 file instead (default: none).
    #[arg(long, conflicts_with = "text")]
    file: Option<PathBuf>,
    /// The model: a checkpoint, a run folder (its latest checkpoint) or a Hugging Face folder
    /// (default: the model shipped in models/).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Alternatives listed per token.
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// Tokens per window when the text is longer than the model's window; each window is read
    /// after <|endoftext|> (default: the model's window less one).
    #[arg(long)]
    window: Option<usize>,
    /// Print only the totals, not a line per token (default: off).
    #[arg(long)]
    summary: bool,
    /// Print JSON (every token with its log-probability, and the totals) instead of a table (default: off).
    #[arg(long)]
    json: bool,
    /// Instead of scoring a text, run the induction test: random tokens read twice, how well the
    /// model predicts the second copy, and which attention heads do the copying (default: off).
    #[arg(long, conflicts_with_all = ["text", "file", "summary", "window"])]
    induction: bool,
    /// Random words (one token each) per copy in the induction test (both copies fit the model's window).
    #[arg(long, default_value_t = 100, requires = "induction")]
    induction_length: usize,
    /// Random sequences the induction test averages over.
    #[arg(long, default_value_t = 10, requires = "induction")]
    induction_sequences: usize,
    /// Seed of the induction test's random tokens.
    #[arg(long, default_value_t = 1, requires = "induction")]
    seed: u64,
}

/// One scored token: its id, log-probability (nats) and the likeliest alternatives.
type Scored = TokenLogprob;

pub fn run_inspect(args: InspectArgs) -> Result<()> {
    if args.induction {
        return run_induction(&args);
    }
    let text = match (&args.text, &args.file) {
        (Some(t), None) => t.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("{}: cannot read it as UTF-8 text", f.display()))?
        }
        _ => bail!("give the text to inspect, or --file FILE"),
    };
    if text.is_empty() {
        bail!("the text is empty: there is nothing to score");
    }
    let model = super::chat::model_or_shipped(args.model.as_deref())?;
    let (config, params, tok) = super::chat::load_model(&model)?;
    let window = args.window.unwrap_or(config.max_seq_len - 1);
    if window == 0 || window >= config.max_seq_len {
        bail!(
            "--window {window}: it must be from 1 to {} (the model's window less one, for <|endoftext|>)",
            config.max_seq_len - 1
        );
    }
    let tokens = tok.encode(&text, false);
    let start = std::time::Instant::now();
    let scored: Vec<Scored> = if tokens.len() <= window && !args.summary {
        // Short enough for one pass with the generator: alternatives too.
        let mut ids = vec![tok.eot_id()];
        ids.extend(&tokens);
        let mut generator = Generator::new(&config, &params);
        let r = inspect(&mut generator, &ids, InspectOptions { top: args.top, heads: Heads::None, logit_lens: false });
        tokens
            .iter()
            .zip(&r.logprobs)
            .zip(&r.top)
            .map(|((&token, &logprob), top)| Scored { token, logprob, top: top.clone() })
            .collect()
    } else {
        score_tokens(&config, &params, &tokens, window, tok.eot_id())
            .into_iter()
            .zip(&tokens)
            .map(|(logprob, &token)| Scored { token, logprob, top: Vec::new() })
            .collect()
    };
    let bits: f64 = scored.iter().map(|s| -(s.logprob as f64) / std::f64::consts::LN_2).sum();
    let bytes = text.len();
    let bpb = bits / bytes as f64;
    if args.json {
        let rows: Vec<serde_json::Value> = scored
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.token, "token": tok.token_text(s.token), "logprob": s.logprob,
                    "bits": -s.logprob / std::f32::consts::LN_2,
                    "top": s.top.iter().map(|&(id, lp)| serde_json::json!({"id": id, "token": tok.token_text(id), "logprob": lp})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "model": model, "tokens": if args.summary { serde_json::Value::Null } else { rows.into() },
            "token_count": scored.len(), "bytes": bytes, "bits": bits, "bits_per_byte": bpb, "window": window,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !args.summary {
        print_token_table(&mut out, &tok, &scored)?;
        let mut worst: Vec<&Scored> = scored.iter().collect();
        worst.sort_by(|a, b| a.logprob.total_cmp(&b.logprob));
        let list: Vec<String> = worst
            .iter()
            .take(5)
            .map(|s| format!("{:?} {:.1} bits", tok.token_text(s.token), -s.logprob / std::f32::consts::LN_2))
            .collect();
        writeln!(out, "\nMost surprising: {}", list.join(", "))?;
    }
    writeln!(
        out,
        "{} tokens, {bytes} bytes: {bits:.1} bits, {bpb:.4} bits per byte ({}, windows of {window} tokens after <|endoftext|>; {:.1} s)",
        scored.len(),
        model.display(),
        start.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// `fledge inspect --induction`: the induction test's two surprisals and a
/// layer × head grid of each head's induction and previous-token scores.
fn run_induction(args: &InspectArgs) -> Result<()> {
    let model = super::chat::model_or_shipped(args.model.as_deref())?;
    let (config, params, tok) = super::chat::load_model(&model)?;
    let length = args.induction_length;
    if length < 2 || 2 * length >= config.max_seq_len {
        bail!(
            "--induction-length {length}: it must be from 2 to {} (two copies and <|endoftext|> fit the model's window of {})",
            (config.max_seq_len - 1) / 2,
            config.max_seq_len
        );
    }
    if args.induction_sequences == 0 {
        bail!("--induction-sequences 0: the test needs at least one sequence");
    }
    let candidates = word_tokens(&tok);
    if candidates.len() < length {
        bail!(
            "--induction-length {length}: the tokenizer has only {} whole-word tokens to draw from; ask for fewer",
            candidates.len()
        );
    }
    let start = std::time::Instant::now();
    let mut generator = Generator::new(&config, &params);
    let r = induction_test(&mut generator, &candidates, tok.eot_id(), length, args.induction_sequences, args.seed);
    if args.json {
        let heads: Vec<serde_json::Value> = r
            .heads
            .iter()
            .map(|h| serde_json::json!({"layer": h.layer, "head": h.head, "induction": h.induction, "previous_token": h.previous}))
            .collect();
        let out = serde_json::json!({
            "model": model, "length": r.length, "sequences": r.sequences, "seed": args.seed,
            "first_copy_bits_per_token": r.first_bits, "second_copy_bits_per_token": r.second_bits, "heads": heads,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "Induction test: {} sequences of {length} random words (one token each), each read twice ({}; {:.1} s)",
        r.sequences,
        model.display(),
        start.elapsed().as_secs_f64()
    )?;
    writeln!(
        out,
        "  first copy:  {:5.2} bits per token (nothing to go on but how common each word is; a uniform guess over the {} words is {:.2})",
        r.first_bits,
        candidates.len(),
        (candidates.len() as f64).log2()
    )?;
    writeln!(
        out,
        "  second copy: {:5.2} bits per token (copied from the first: the lower, the better it copies)",
        r.second_bits
    )?;
    write_head_grid(
        &mut out,
        "Induction score: attention from a token of the second copy to the token after its first occurrence",
        &r.heads,
        |h| h.induction,
    )?;
    write_head_grid(&mut out, "Previous-token score: attention from each token to the one before it", &r.heads, |h| {
        h.previous
    })?;
    if let Some(best) = r.heads.iter().max_by(|a, b| a.induction.total_cmp(&b.induction)) {
        writeln!(
            out,
            "\nStrongest induction head: layer {} head {} ({:.2}); draw it on the Attention view of `fledge serve`'s page",
            best.layer, best.head, best.induction
        )?;
    }
    Ok(())
}

/// A layer × head grid of one score per head.
fn write_head_grid(
    out: &mut impl Write,
    title: &str,
    heads: &[HeadInduction],
    score: impl Fn(&HeadInduction) -> f64,
) -> std::io::Result<()> {
    writeln!(out, "\n{title}")?;
    write!(out, "{:>6}", "layer")?;
    let per_layer = heads.iter().filter(|h| h.layer == 0).count();
    for head in 0..per_layer {
        write!(out, " {:>5}", format!("h{head}"))?;
    }
    for h in heads {
        if h.head == 0 {
            write!(out, "\n{:>6}", h.layer)?;
        }
        write!(out, " {:>5.2}", score(h))?;
    }
    writeln!(out)
}

/// A line per token: its text, probability, surprisal in bits, and the
/// alternatives the model weighed with their probabilities.
pub fn print_token_table(out: &mut impl Write, tok: &Tokenizer, rows: &[TokenLogprob]) -> std::io::Result<()> {
    writeln!(out, "{:>5}  {:<16} {:>7} {:>6}  alternatives", "#", "token", "p", "bits")?;
    for (i, r) in rows.iter().enumerate() {
        let alternatives: Vec<String> =
            r.top.iter().map(|&(id, lp)| format!("{:?} {:.3}", tok.token_text(id), lp.exp())).collect();
        writeln!(
            out,
            "{:>5}  {:<16} {:>7.3} {:>6.2}  {}",
            i + 1,
            format!("{:?}", tok.token_text(r.token)),
            r.logprob.exp(),
            (-r.logprob / std::f32::consts::LN_2).max(0.0),
            alternatives.join(" · ")
        )?;
    }
    Ok(())
}
