//! The model card: the exported folder's `README.md`, with the Hugging Face
//! front matter. It says what the model is, how it was trained (from the
//! checkpoint's own record), samples generated at export time, its limits,
//! and how to load it with transformers, llama.cpp, Ollama and fledge.

use std::fmt::Write;

use super::Source;
use crate::data::license::{Obligations, SourceLicense};

/// The licenses of the data behind the checkpoint, as it recorded them.
pub fn licenses(src: &Source) -> &[SourceLicense] {
    &src.licenses
}

/// What the training data's licenses ask of the shared model.
pub fn obligations(src: &Source) -> Obligations {
    Obligations::of(licenses(src))
}

/// What the card needs beyond the checkpoint.
pub struct CardInputs<'a> {
    pub name: &'a str,
    /// (prompt, continuation) pairs generated from the exported weights.
    pub samples: &'a [(String, String)],
    /// GGUF files written beside the folder, by file name.
    pub gguf_files: &'a [String],
    /// Evaluation results to quote, as (what, figure) rows.
    pub evals: &'a [(String, String)],
}

/// Card rows from QA scores as `fledge eval` writes them (`name`, `scored`,
/// `exact_match`, `f1`).
pub fn qa_rows<'a>(scores: impl IntoIterator<Item = &'a serde_json::Value>) -> Vec<(String, String)> {
    scores
        .into_iter()
        .map(|q| {
            (
                format!("{} exact match / F1 ({} questions)", q["name"].as_str().unwrap_or("?"), q["scored"]),
                format!(
                    "{:.3} / {:.3}",
                    q["exact_match"].as_f64().unwrap_or(f64::NAN),
                    q["f1"].as_f64().unwrap_or(f64::NAN)
                ),
            )
        })
        .collect()
}

fn parameters(src: &Source) -> usize {
    src.params.len()
}

/// The model card, the README.md of an exported folder: what the model is,
/// how it was trained and on what, what it scored, samples, and how to use it.
pub fn render(src: &Source, inputs: &CardInputs) -> String {
    let c = &src.config;
    let name = inputs.name;
    let millions = parameters(src) as f64 / 1e6;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "---\nlibrary_name: transformers\npipeline_tag: text-generation\ntags:\n- fledge\n- llama\n- gguf\n---\n"
    );
    let _ = writeln!(s, "# {name}\n");
    let obligations = obligations(src);
    for notice in &obligations.notices {
        let _ = writeln!(s, "**{notice}**\n");
    }
    let _ = writeln!(
        s,
        "A {millions:.1}M-parameter language model with the Llama architecture, trained from scratch on a CPU \
         with fledge (tokenizer, pretraining and chat fine-tuning all by fledge). It is a \
         small model for learning how language models work, not an assistant to rely on.\n"
    );
    render_model(&mut s, src);
    render_training(&mut s, src);
    render_data(&mut s, licenses(src), &obligations);

    if !inputs.evals.is_empty() {
        let _ = writeln!(s, "\n## Evaluation\n\n| what | result |\n|---|---|");
        for (k, v) in inputs.evals {
            let _ = writeln!(s, "| {k} | {v} |");
        }
    }

    if !inputs.samples.is_empty() {
        let _ = writeln!(s, "\n## Samples\n\nGenerated from these weights when they were exported (unedited):\n");
        for (prompt, text) in inputs.samples {
            let _ = writeln!(s, "> **{}**{}\n", prompt.trim(), text.replace('\n', "\n> "));
        }
    }

    render_use(&mut s, name, c.max_seq_len, inputs.gguf_files);
    for notice in &obligations.notices {
        let _ = writeln!(s, "\n{notice}.");
    }
    s
}

/// The "Model" section: the architecture and its sizes.
fn render_model(s: &mut String, src: &Source) {
    let c = &src.config;
    let millions = parameters(src) as f64 / 1e6;
    let _ = writeln!(s, "## Model\n\n| | |\n|---|---|");
    let rows = [
        ("architecture", "LlamaForCausalLM (RMSNorm, rotary embeddings, SwiGLU, no biases)".to_string()),
        ("parameters", format!("{} ({millions:.2}M)", parameters(src))),
        ("layers", c.n_layers.to_string()),
        ("hidden size", c.d_model.to_string()),
        ("attention heads / key-value heads", format!("{} / {}", c.n_heads, c.n_kv_heads)),
        ("feed-forward size", c.ffn_hidden.to_string()),
        ("vocabulary", format!("{} (byte-level BPE, ChatML special tokens)", c.vocab_size)),
        ("context window", format!("{} tokens", c.max_seq_len)),
        ("tied embeddings", c.tie_embeddings.to_string()),
        ("rope theta", c.rope_theta.to_string()),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
}

/// The "Training" section: steps, time and hardware, a merge, and the
/// settings as the checkpoint records them.
fn render_training(s: &mut String, src: &Source) {
    let _ = writeln!(s, "\n## Training\n");
    match &src.state {
        Some(state) => {
            let _ = writeln!(
                s,
                "{} optimizer steps, {} tokens seen in the last stage (the checkpoint `{}`).",
                state.step, state.tokens_seen, src.checkpoint
            );
            match (&state.hardware, state.train_seconds) {
                (Some(hw), secs) if secs > 0.0 => {
                    let _ = writeln!(s, "The last stage trained for {:.1} minutes on {hw}.", secs / 60.0);
                }
                _ => {
                    let _ = writeln!(s, "Training time and hardware were not recorded by this checkpoint.");
                }
            }
            if let Some(loss) = state.best_val_loss {
                let _ = writeln!(s, "Best validation loss: {loss:.4} nats per token.");
            }
            // `fledge merge` records itself in the settings (crate::chat::merge).
            if let Some(merge) = state.settings.get("merge") {
                let _ = writeln!(
                    s,
                    "\nThese weights are a merge made by `fledge merge`: base + {} x (chat - base), \
                     the chat model `{}` moved back toward its base `{}`.",
                    merge["alpha"].as_f64().map(|a| format!("{a:.2}")).unwrap_or_else(|| "?".into()),
                    merge["chat"].as_str().unwrap_or("?"),
                    merge["base"].as_str().unwrap_or("?"),
                );
            }
            let _ = writeln!(s, "\nThe training settings, as the checkpoint records them:\n\n```json");
            let _ = writeln!(s, "{}", serde_json::to_string_pretty(&state.settings).unwrap_or_default());
            let _ = writeln!(s, "```");
        }
        None => {
            let _ = writeln!(s, "The checkpoint carries no training record (it was imported or written without one).");
        }
    }
}

/// "Limitations", "How to use it" (transformers, llama.cpp and Ollama,
/// fledge) and "License".
fn render_use(s: &mut String, name: &str, window: usize, gguf_files: &[String]) {
    let _ = writeln!(
        s,
        "## Limitations\n\nTrained on a few million tokens of simple English on a CPU, the model writes short, \
         simple text, loses the thread quickly, makes up facts, and often answers questions wrongly even when \
         the answer is in its context. Its window is {} tokens. Do not use it for anything that matters.\n",
        window
    );
    // fledge chat's classifier-free guidance, through transformers' own:
    // its guidance_scale weighs (conditional - negative) log-probabilities,
    // so fledge's G is transformers' 1 + G; transformers has no cut to
    // plausible tokens, so its samples are close to fledge's, not the same.
    let _ = writeln!(
        s,
        "## How to use it\n\nWith transformers (sampling settings come from `generation_config.json`; \
         `guidance_scale` and the negative prompt, the conversation with the request emptied, guide the reply \
         toward the request as `fledge chat` does by default, without its cut to tokens at least {cut} times \
         as likely as the favourite):\n\n```python",
        cut = crate::chat::GUIDANCE_PLAUSIBLE
    );
    let _ = writeln!(
        s,
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n\
         tok = AutoTokenizer.from_pretrained(\"{name}\")\n\
         model = AutoModelForCausalLM.from_pretrained(\"{name}\")\n\
         chat = lambda request: tok.apply_chat_template([{{\"role\": \"user\", \"content\": request}}],\n\
         \x20   add_generation_prompt=True, return_tensors=\"pt\", return_dict=True)[\"input_ids\"]\n\
         ids = chat(\"Tell me a story about a cat who is afraid of the rain.\")\n\
         out = model.generate(ids, max_new_tokens=200, guidance_scale={scale}, negative_prompt_ids=chat(\"\"))\n\
         print(tok.decode(out[0][ids.shape[1]:], skip_special_tokens=True))\n```\n",
        scale = 1.0 + crate::chat::CHAT_GUIDANCE
    );
    if !gguf_files.is_empty() {
        let first = &gguf_files[0];
        let _ = writeln!(
            s,
            "With llama.cpp or Ollama (GGUF files: {}):\n\n```sh\nllama-cli -m {first} -cnv\n\
             printf 'FROM ./{first}\\n' > Modelfile && ollama create {name} -f Modelfile && ollama run {name}\n```\n",
            gguf_files.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
        );
    }
    let _ = writeln!(
        s,
        "With fledge:\n\n```sh\nfledge import {name} --out runs/{name}\nfledge chat --model runs/{name}\n```\n\n\
         ## License\n\nfledge's code is MIT OR Apache-2.0. The weights are derived from their training data, \
         whose licenses apply to them (see Data and licenses)."
    );
}

/// The "Data and licenses" section: every source with its license and
/// credit, and what the licenses ask of this model.
fn render_data(s: &mut String, licenses: &[SourceLicense], obligations: &Obligations) {
    let _ = writeln!(s, "\n## Data and licenses\n");
    if licenses.is_empty() {
        let _ = writeln!(
            s,
            "This checkpoint did not record the licenses of its training data (it was trained before fledge \
             kept them, or on a corpus prepared by hand). Check them before sharing these weights."
        );
        return;
    }
    let _ = writeln!(s, "Trained on these sources (pretraining and fine-tuning):\n");
    let _ = writeln!(s, "| source | license | credit |\n|---|---|---|");
    for l in licenses {
        let license = if l.terms.url.is_empty() {
            format!("{} ({})", l.license, l.terms.name)
        } else {
            format!("[{}]({})", l.license, l.terms.url)
        };
        let _ = writeln!(s, "| {} | {license} | {} |", l.source, l.credit.replace('|', "/"));
    }
    if !obligations.share_alike.is_empty() {
        let _ = writeln!(
            s,
            "\nShare-alike data: {}. Its license asks that the data, and adaptations of it, be shared under the \
             same terms; these weights credit it here.",
            obligations.share_alike.join(", ")
        );
    }
    if let Some(prefix) = &obligations.name_prefix {
        let _ = writeln!(s, "\nThe license of some of this data asks that the model's name start with \"{prefix}\".");
    }
    for notice in &obligations.notices {
        let by: Vec<&str> =
            licenses.iter().filter(|l| l.terms.notice.as_ref() == Some(notice)).map(|l| l.source.as_str()).collect();
        let _ = writeln!(s, "\nRequired notice ({}): **{notice}**.", by.join(", "));
    }
}
