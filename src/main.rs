//! The `fledge` command line: one subcommand per pipeline stage.
//!
//! This file holds the command tree and hands each command to its file in
//! `cli/`, which parses its flags, calls the library and prints the results;
//! every stage's logic lives in its module (see `lib.rs`).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "fledge",
    version,
    about = "Train a small language model yourself: from raw text to tokenizer, model, chat and export"
)]
struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole pipeline in one command: corpus, tokenizer, pretraining, chat, retrieval, evaluation, export, report.
    Speedrun(cli::speedrun::SpeedrunArgs),
    /// Train the same model on several data recipes and compare their validation bits per byte.
    Ablate(cli::ablate::AblateArgs),
    /// See which tokens of a text surprise a model: each one's probability, surprisal and
    /// alternatives, and the text's bits per byte.
    Inspect(cli::inspect::InspectArgs),
    /// Corpus preparation and token shards.
    #[command(subcommand)]
    Data(cli::data::DataCommand),
    /// Train, use and measure byte-level BPE tokenizers.
    #[command(subcommand)]
    Tokenizer(cli::tokenizer::TokenizerCommand),
    /// Pretrain a model on token shards (see `fledge data tokenize`).
    Train(cli::train::TrainArgs),
    /// Fine-tune a base checkpoint into a chat model (loss on the assistant's tokens).
    Sft(cli::chat::SftArgs),
    /// Move a chat model part of the way back to its base in weight space, to give back text the chat stage made it forget.
    Merge(cli::chat::MergeArgs),
    /// Chat with a fine-tuned model: multi-turn, streaming, /context FILE to answer from a document.
    Chat(cli::chat::ChatArgs),
    /// Score a chat model: grounded QA exact match / F1, stop rate, held-out chat loss.
    Eval(cli::chat::EvalArgs),
    /// Index your documents for grounded answers: add, list, remove, stats, search, eval.
    #[command(subcommand)]
    Index(cli::rag::IndexCommand),
    /// Answer a question from your indexed documents, citing the passages used.
    Ask(cli::rag::AskArgs),
    /// Serve a chat model: an OpenAI-compatible API at /v1 and a chat page at /.
    Serve(cli::serve::ServeArgs),
    /// Share a model: a Hugging Face folder (safetensors, tokenizer, chat template, model card) and GGUF files.
    Export(cli::export::ExportArgs),
    /// Turn a Hugging Face LlamaForCausalLM folder into a fledge checkpoint.
    Import(cli::export::ImportArgs),
    /// Continue a prompt with a trained model, streaming tokens as they come.
    Generate(cli::generate::GenerateArgs),
    /// Draw a training run's loss curve (metrics.jsonl) as loss.png.
    Plot {
        /// The training run folder.
        run: PathBuf,
    },
    /// Measure throughput.
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
}

/// `fledge data report D | head` closes the pipe before fledge has printed
/// everything, and Rust's `println!` panics on the closed pipe. A program
/// whose reader has gone stops quietly, as Unix tools do: exit status 141
/// (128 + SIGPIPE, what a shell reports for one stopped by a closed pipe),
/// no panic message. Every other panic goes to the default hook.
fn quiet_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message =
            payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
        if message.is_some_and(|m| m.starts_with("failed printing to stdout") && m.contains("Broken pipe")) {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() {
    quiet_when_stdout_closes();
    let cli = Cli::parse();
    let default_level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // tantivy narrates every commit at info level; its warnings still show.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default_level},tantivy=warn"))),
        )
        .with_writer(std::io::stderr)
        // Colour codes only where a terminal draws them: a log redirected
        // to a file or piped to another program stays plain text.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .init();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Speedrun(args) => cli::speedrun::run_speedrun(args),
        Command::Ablate(args) => cli::ablate::run_ablate(args),
        Command::Inspect(args) => cli::inspect::run_inspect(args),
        Command::Data(cmd) => cli::data::run(cmd),
        Command::Tokenizer(cmd) => cli::tokenizer::run(cmd),
        Command::Train(args) => cli::train::run_train(args),
        Command::Sft(args) => cli::chat::run_sft(args),
        Command::Merge(args) => cli::chat::run_merge(args),
        Command::Chat(args) => cli::chat::run_chat(args),
        Command::Eval(args) => cli::chat::run_eval(args),
        Command::Index(cmd) => cli::rag::run_index(cmd),
        Command::Ask(args) => cli::rag::run_ask(args),
        Command::Serve(args) => cli::serve::run_serve(args),
        Command::Export(args) => cli::export::run_export(args),
        Command::Import(args) => cli::export::run_import(args),
        Command::Generate(args) => cli::generate::run_generate(args),
        Command::Plot { run } => {
            let metrics = fledge::train::run::read_metrics(&run.join("metrics.jsonl"))?;
            let png = run.join("loss.png");
            fledge::train::plot::loss_curve(&metrics, &png).with_context(|| format!("writing {}", png.display()))?;
            println!("Wrote {} ({} steps)", png.display(), metrics.len());
            Ok(())
        }
        Command::Bench(cmd) => cli::bench::run(cmd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every command says what it does, and its default: clap prints a default it knows (`[default: 4096]`);
    /// any other argument's help must state it, or that it is required.
    #[test]
    fn every_flag_of_every_command_says_what_it_does_and_its_default() {
        let cli = Cli::command();
        let mut problems = Vec::new();
        let mut check = |path: &str, cmd: &clap::Command| {
            for arg in cmd.get_arguments().filter(|a| !matches!(a.get_id().as_str(), "help" | "version" | "verbose")) {
                let name = format!("{path} --{}", arg.get_long().unwrap_or(arg.get_id().as_str()));
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if help.trim().is_empty() {
                    problems.push(format!("{name}: no help"));
                    continue;
                }
                let clap_shows_default = arg.get_action().takes_values()
                    && !arg.get_default_values().is_empty()
                    && !arg.is_hide_default_value_set();
                let lower = help.to_lowercase();
                if !clap_shows_default
                    && !arg.is_required_set()
                    && !lower.contains("default")
                    && !lower.contains("required")
                {
                    problems.push(format!("{name}: help does not state the default: {help:?}"));
                }
            }
        };
        // Every command and subcommand, depth first.
        let mut stack: Vec<(String, &clap::Command)> =
            cli.get_subcommands().map(|c| (c.get_name().to_string(), c)).collect();
        let mut checked = 0;
        while let Some((path, cmd)) = stack.pop() {
            check(&path, cmd);
            checked += 1;
            stack.extend(cmd.get_subcommands().map(|c| (format!("{path} {}", c.get_name()), c)));
        }
        assert!(checked > 40, "only {checked} commands found");
        assert!(problems.is_empty(), "{} arguments lack help or a default:\n{}", problems.len(), problems.join("\n"));
    }
}
