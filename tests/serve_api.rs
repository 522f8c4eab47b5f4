//! `fledge serve` over real HTTP: the OpenAI endpoints, streaming, the page,
//! the API key, a thousand malformed requests, clients that leave or never
//! read, and a full queue.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::server::{random_model, Server};
use serde_json::{json, Value};

fn chat(content: &str, extra: Value) -> Value {
    let mut body = json!({"model": "m", "messages": [{"role": "user", "content": content}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The `data:` payloads of a server-sent event stream.
fn events(body: &str) -> Vec<String> {
    body.lines().filter_map(|l| l.strip_prefix("data: ")).map(String::from).collect()
}

#[test]
fn chat_completions_streaming_models_page_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "m", false);
    let server = Server::start(&model, &[]);

    assert_eq!(server.health()["status"], "ok");
    let (status, body) = server.request("GET", "/v1/models", &[], b"");
    assert_eq!(status, 200);
    let models: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(models["data"][0]["id"], "m");
    assert_eq!(models["data"][0]["context_window"], 512);
    assert_eq!(models["data"][0]["story_tries"], 4);

    // A whole answer, with usage; the same seed gives the same text.
    let req = chat("the cat sat on", json!({"max_tokens": 20, "seed": 3, "temperature": 1.0}));
    let (status, body) = server.post_json("/v1/chat/completions", &req);
    assert_eq!(status, 200, "{body}");
    let a: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(a["object"], "chat.completion");
    assert_eq!(a["choices"][0]["message"]["role"], "assistant");
    let usage = &a["usage"];
    assert!(usage["completion_tokens"].as_u64().unwrap() <= 20);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    let finish = a["choices"][0]["finish_reason"].as_str().unwrap();
    assert!(finish == "stop" || finish == "length", "{finish}");
    let (_, again) = server.post_json("/v1/chat/completions", &req);
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(a["choices"][0]["message"]["content"], again["choices"][0]["message"]["content"]);

    // Streamed: a role chunk, content deltas, a finish chunk, usage, [DONE];
    // the deltas add up to the whole answer of the same request.
    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let (status, body) = server.post_json("/v1/chat/completions", &streamed);
    assert_eq!(status, 200);
    let ev = events(&body);
    assert_eq!(ev.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = ev[..ev.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, a["choices"][0]["message"]["content"].as_str().unwrap());
    assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], finish);
    assert_eq!(chunks.last().unwrap()["usage"], *usage);
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"]));

    // Completions, with echo.
    let (status, body) = server.post_json(
        "/v1/completions",
        &json!({"model": "m", "prompt": "the dog ran", "max_tokens": 5, "echo": true, "seed": 1}),
    );
    assert_eq!(status, 200, "{body}");
    let c: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(c["object"], "text_completion");
    assert!(c["choices"][0]["text"].as_str().unwrap().starts_with("the dog ran"));
    assert!(c["usage"]["completion_tokens"].as_u64().unwrap() <= 5);

    // The page: embedded, no external resources.
    let (status, page) = server.request("GET", "/", &[], b"");
    assert_eq!(status, 200);
    assert!(page.contains("/v1/chat/completions") && page.contains("data-testid=\"send\""));
    assert!(!page.contains("https://") && !page.contains("http://"), "the page loads nothing from elsewhere");
    drop(server);

    // With a key: the API refuses requests without it; /health and the page stay open.
    let server = Server::start(&model, &["--api-key", "s3cret"]);
    let (status, body) = server.request("GET", "/v1/models", &[], b"");
    assert_eq!(status, 401);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "invalid_api_key");
    let (status, _) = server.request("GET", "/v1/models", &[("Authorization", "Bearer wrong!")], b"");
    assert_eq!(status, 401);
    let (status, _) = server.request("GET", "/v1/models", &[("Authorization", "Bearer s3cret")], b"");
    assert_eq!(status, 200);
    assert_eq!(server.request("GET", "/", &[], b"").0, 200);
    server.health();
}

/// The kinds of bad request a server meets, each with the status it must get.
fn malformed() -> Vec<(&'static str, Vec<u8>, u16)> {
    let ok_chat = |extra: Value| chat("hi", extra).to_string().into_bytes();
    let post = |path: &str, ctype: &str, body: &[u8]| {
        let mut r = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    let json_chat = |body: Vec<u8>| post("/v1/chat/completions", "application/json", &body);
    let json_cmpl = |body: Value| post("/v1/completions", "application/json", body.to_string().as_bytes());
    let huge_prompt = "the cat sat on the mat. ".repeat(45_000); // about 1.1 MB
    let big_prompt = "the cat sat. ".repeat(20_000); // 260 KB: under the body limit, over the window
    vec![
        ("not JSON", json_chat(b"{".to_vec()), 400),
        ("JSON array", json_chat(b"[]".to_vec()), 400),
        ("JSON null", json_chat(b"null".to_vec()), 400),
        ("trailing garbage", json_chat(b"{\"model\": \"m\", \"messages\": []} xx".to_vec()), 400),
        ("empty body", json_chat(Vec::new()), 400),
        ("invalid UTF-8", json_chat(b"{\"model\": \"m\xff\xfe\", \"messages\": []}".to_vec()), 400),
        ("invalid UTF-8 in content", json_chat(b"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}".to_vec()), 400),
        ("missing model", json_chat(json!({"messages": []}).to_string().into_bytes()), 400),
        ("missing messages", json_chat(json!({"model": "m"}).to_string().into_bytes()), 400),
        ("messages not a list", json_chat(json!({"model": "m", "messages": "hi"}).to_string().into_bytes()), 400),
        ("message not an object", json_chat(json!({"model": "m", "messages": [1]}).to_string().into_bytes()), 400),
        ("empty messages", json_chat(json!({"model": "m", "messages": []}).to_string().into_bytes()), 400),
        ("unknown field", json_chat(ok_chat(json!({"max_token": 5}))), 400),
        ("temperature a string", json_chat(ok_chat(json!({"temperature": "hot"}))), 400),
        ("temperature out of range", json_chat(ok_chat(json!({"temperature": 7}))), 400),
        ("guidance out of range", json_chat(ok_chat(json!({"guidance": 11}))), 400),
        ("guidance negative", json_chat(ok_chat(json!({"guidance": -1}))), 400),
        ("story_tries zero", json_chat(ok_chat(json!({"story_tries": 0}))), 400),
        ("story_tries past 64", json_chat(ok_chat(json!({"story_tries": 1_000_000_000_000i64}))), 400),
        ("story_tries a fraction", json_chat(ok_chat(json!({"story_tries": 2.5}))), 400),
        ("story_tries a string", json_chat(ok_chat(json!({"story_tries": "4"}))), 400),
        ("max_tokens a string", json_chat(ok_chat(json!({"max_tokens": "10"}))), 400),
        ("negative max_tokens", json_chat(ok_chat(json!({"max_tokens": -5}))), 400),
        ("zero max_tokens", json_chat(ok_chat(json!({"max_tokens": 0}))), 400),
        ("enormous max_tokens", json_chat(ok_chat(json!({"max_tokens": 1_000_000_000_000i64}))), 400),
        ("max_tokens past u64", json_chat(b"{\"model\":\"m\",\"messages\":[],\"max_tokens\":1e400}".to_vec()), 400),
        ("stream not a bool", json_chat(ok_chat(json!({"stream": "yes"}))), 400),
        ("stop a number", json_chat(ok_chat(json!({"stop": 5}))), 400),
        ("n of 3", json_chat(ok_chat(json!({"n": 3}))), 400),
        ("top_logprobs over 20", json_chat(ok_chat(json!({"logprobs": true, "top_logprobs": 21}))), 400),
        ("top_logprobs without logprobs", json_chat(ok_chat(json!({"top_logprobs": 2}))), 400),
        ("completion logprobs a string", json_cmpl(json!({"model": "m", "prompt": "a", "logprobs": "5"})), 400),
        ("continue without an answer", json_chat(ok_chat(json!({"continue_final_message": true}))), 400),
        ("inspect nothing", post("/v1/fledge/inspect", "application/json", b"{}"), 400),
        ("inspect bad head", post("/v1/fledge/inspect", "application/json", json!({"text": "a", "attention": {"layer": 0, "head": 99}}).to_string().as_bytes()), 400),
        ("inspect unknown token", post("/v1/fledge/inspect", "application/json", json!({"tokens": [1, 99999999]}).to_string().as_bytes()), 400),
        ("tools", json_chat(ok_chat(json!({"tools": [{"type": "function"}]}))), 400),
        ("unknown role", json_chat(json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}).to_string().into_bytes()), 400),
        ("image part", json_chat(json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}).to_string().into_bytes()), 400),
        ("unknown model", json_chat(json!({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}).to_string().into_bytes()), 404),
        ("prompt over the window", json_chat(chat(&big_prompt, json!({})).to_string().into_bytes()), 400),
        ("1 MB prompt", json_chat(chat(&huge_prompt, json!({})).to_string().into_bytes()), 413),
        ("text/plain", post("/v1/chat/completions", "text/plain", &ok_chat(json!({}))), 415),
        ("completion prompt list", json_cmpl(json!({"model": "m", "prompt": ["a", "b"]})), 400),
        ("completion prompt number", json_cmpl(json!({"model": "m", "prompt": 5})), 400),
        ("completion over the window", json_cmpl(json!({"model": "m", "prompt": "the cat", "max_tokens": 510})), 400),
        ("completion suffix", json_cmpl(json!({"model": "m", "prompt": "a", "suffix": "b"})), 400),
        ("GET on a POST route", b"GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 405),
        ("unknown path", b"GET /v1/embeddings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404),
        ("path traversal", b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404),
        ("bad chunked body", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec(), 400),
        ("garbage request line", b"HELLO\r\n\r\n".to_vec(), 400),
    ]
}

/// `quote` (as `fledge ask`): the answer to a question about a context
/// message is words of it, whole or streamed; the server's `--quote` (by
/// default: questions) is the default a request overrides; quoting refuses
/// what it cannot honour, naming the field.
#[test]
fn quoted_answers_are_words_of_the_context() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "m", false);
    let server = Server::start(&model, &[]);
    let context = "the cat sat on a big red mat. the dog ran to the park.";
    let ask = |extra: Value| {
        let mut body = json!({"model": "m", "max_tokens": 12, "messages": [
            {"role": "context", "content": context}, {"role": "user", "content": "where did the dog run?"}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        server.post_json("/v1/chat/completions", &body)
    };
    let (_, body) = server.request("GET", "/v1/models", &[], b"");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["data"][0]["quote"], "questions");

    let (status, body) = ask(json!({}));
    assert_eq!(status, 200, "{body}");
    let a: Value = serde_json::from_str(&body).unwrap();
    let quoted = a["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let words: Vec<&str> = context.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let said: Vec<&str> = quoted.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    assert!(!said.is_empty() && words.windows(said.len()).any(|w| w == said.as_slice()), "{quoted:?}");
    assert_eq!(a["choices"][0]["finish_reason"], "stop");
    assert!(a["usage"]["completion_tokens"].as_u64().unwrap() >= 1);

    let (status, body) = ask(json!({"stream": true}));
    assert_eq!(status, 200);
    let ev = events(&body);
    let text: String = ev[..ev.len() - 1]
        .iter()
        .filter_map(|e| {
            serde_json::from_str::<Value>(e).unwrap()["choices"][0]["delta"]["content"].as_str().map(String::from)
        })
        .collect();
    assert_eq!(text, quoted);
    // /health counts quoted answers with the engine's.
    let h = server.settled_health();
    assert_eq!((h["engine"]["quoted"].as_u64(), h["engine"]["completed"].as_u64()), (Some(2), Some(2)), "{h}");
    assert!(h["engine"]["generated_tokens"].as_u64().unwrap() >= 2, "{h}");

    // Plain decoding, sampled, is not held to the context's words; its answer differs.
    let (status, body) = ask(json!({"quote": false, "temperature": 1.0, "seed": 5}));
    assert_eq!(status, 200, "{body}");
    let plain: Value = serde_json::from_str(&body).unwrap();
    assert_ne!(plain["choices"][0]["message"]["content"].as_str().unwrap(), quoted);
    let h = server.settled_health();
    assert_eq!((h["engine"]["quoted"].as_u64(), h["engine"]["completed"].as_u64()), (Some(2), Some(3)), "{h}");

    // A request that is no question about the text is answered in the model's own words by default,
    // and quoted when the request or the server (`--quote` alone: always) asks for it.
    let story = |quote: Option<Value>, server: &Server| {
        let mut body = json!({"model": "m", "max_tokens": 12, "messages": [{"role": "context", "content": context},
            {"role": "user", "content": "tell me a story about the dog."}]});
        if let Some(q) = quote {
            body["quote"] = q;
        }
        assert_eq!(server.post_json("/v1/chat/completions", &body).0, 200);
        server.settled_health()["engine"]["quoted"].as_u64()
    };
    assert_eq!(story(None, &server), Some(2), "a story request is not quoted by default");
    assert_eq!(story(Some(json!("questions")), &server), Some(2), "as the request's mode by name");
    assert_eq!(story(Some(json!(true)), &server), Some(3), "a request's quote: true quotes it");
    assert_eq!(story(Some(json!("always")), &server), Some(4), "as \"always\"");
    let always = Server::start(&model, &["--quote"]);
    assert_eq!(story(None, &always), Some(1), "--quote alone quotes every reply with a context");
    let (status, body) = ask(json!({"quote": "sometimes"}));
    assert_eq!((status, &serde_json::from_str::<Value>(&body).unwrap()["error"]["param"]), (400, &json!("quote")));

    // The server's default steps aside for what quoting cannot give; asked for, it is an error.
    let (status, _) = ask(json!({"logprobs": true}));
    assert_eq!(status, 200);
    let (status, body) = ask(json!({"quote": true, "logprobs": true}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["param"], "quote");
}

/// A story request is told in tries, as `fledge chat` tells it: with
/// `story_tries` N (the server's default 4) the answer is, of the N single
/// answers with seeds `seed + j` x 100,000, the first that uses every word of
/// the request, else the one that uses the most, and it arrives whole.
/// Other messages are one sample whatever `story_tries` says.
#[test]
fn story_requests_are_told_in_tries() {
    use fledge::chat::tries::{best_try, request_words, TRY_SEED_STRIDE};
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "m", false);
    let server = Server::start(&model, &[]);
    let answer = |content: &str, seed: u64, extra: Value| {
        let mut req = chat(content, json!({"max_tokens": 24, "temperature": 1.0, "seed": seed}));
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        let (status, body) = server.post_json("/v1/chat/completions", &req);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let text = |a: &Value| a["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let request = "tell me a story about the red ball and the big dog";
    let wanted = request_words(request);
    assert_eq!(wanted, ["red", "ball", "big", "dog"]);
    let mut kept_a_later_try = false;
    for seed in 1..=6u64 {
        let singles: Vec<Value> =
            (0..4).map(|j| answer(request, seed + j * TRY_SEED_STRIDE, json!({"story_tries": 1}))).collect();
        let texts: Vec<String> = singles.iter().map(text).collect();
        let best = best_try(&wanted, texts.iter().map(String::as_str)).unwrap();
        kept_a_later_try |= best > 0;
        let told = answer(request, seed, json!({}));
        assert_eq!(text(&told), texts[best], "seed {seed}: {texts:?}");
        assert_eq!(told["usage"], singles[best]["usage"], "seed {seed}");
        let best_of_two = best_try(&wanted, texts[..2].iter().map(String::as_str)).unwrap();
        assert_eq!(text(&answer(request, seed, json!({"story_tries": 2}))), texts[best_of_two], "seed {seed}");
    }
    assert!(kept_a_later_try, "the first try was kept every time: the check says nothing");

    // Streamed, the kept story comes as one piece.
    let mut streamed = chat(request, json!({"max_tokens": 24, "temperature": 1.0, "seed": 1, "stream": true}));
    streamed["stream_options"] = json!({"include_usage": true});
    let (status, body) = server.post_json("/v1/chat/completions", &streamed);
    assert_eq!(status, 200);
    let pieces: Vec<String> = events(&body)
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| {
            serde_json::from_str::<Value>(e).unwrap()["choices"][0]["delta"]["content"].as_str().map(String::from)
        })
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(pieces, [text(&answer(request, 1, json!({})))]);

    // Not a story request, or greedy: one sample, whatever `story_tries` says.
    let other = "the cat sat on the mat";
    assert_eq!(text(&answer(other, 3, json!({"story_tries": 8}))), text(&answer(other, 3, json!({"story_tries": 1}))));
    let greedy = json!({"temperature": 0.0, "story_tries": 8});
    assert_eq!(
        text(&answer(request, 3, greedy)),
        text(&answer(request, 3, json!({"temperature": 0.0, "story_tries": 1})))
    );
    for bad in [0, 65] {
        let (status, body) = server.post_json("/v1/chat/completions", &chat(request, json!({"story_tries": bad})));
        assert_eq!(status, 400, "{body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["param"], "story_tries");
    }
}

#[test]
fn log_probabilities_and_the_inspect_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "m", false);
    let server = Server::start(&model, &[]);
    let post = |path: &str, body: Value| -> (u16, Value) {
        let (status, text) = server.post_json(path, &body);
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
    };

    // Sampled: each token's alternatives are the distribution it was drawn
    // from (top_k 4: at most 4, summing to 1), and include the token.
    let req = chat(
        "the cat",
        json!({"max_tokens": 6, "seed": 1, "temperature": 1.0, "top_k": 4, "logprobs": true, "top_logprobs": 10}),
    );
    let (status, a) = post("/v1/chat/completions", req.clone());
    assert_eq!(status, 200, "{a}");
    let content = a["choices"][0]["logprobs"]["content"].as_array().unwrap().clone();
    assert_eq!(content.len() as u64, a["usage"]["completion_tokens"].as_u64().unwrap());
    for t in &content {
        let alts = t["top_logprobs"].as_array().unwrap();
        assert!(!alts.is_empty() && alts.len() <= 4, "{t}");
        let total: f64 = alts.iter().map(|x| x["logprob"].as_f64().unwrap().exp()).sum();
        assert!((total - 1.0).abs() < 1e-4, "{t}");
        assert!(alts.iter().any(|x| x["token"] == t["token"]), "{t}");
    }
    // Asking for them changes nothing in the text.
    let mut plain = req.clone();
    plain.as_object_mut().unwrap().remove("logprobs");
    plain.as_object_mut().unwrap().remove("top_logprobs");
    let (_, b) = post("/v1/chat/completions", plain);
    assert_eq!(a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"]);
    assert!(b["choices"][0]["logprobs"].is_null());
    // Streamed, the chunks carry the same tokens. Their log-probabilities agree
    // to rounding: the request before left its prompt in a slot, so this one
    // reads only its last token, alone rather than in a chunk of rows, and a
    // product over one row rounds differently from one over many.
    let same = |a: &Value, b: &Value| {
        let close = |x: &Value, y: &Value| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-5;
        a["token"] == b["token"]
            && close(&a["logprob"], &b["logprob"])
            && a["top_logprobs"]
                .as_array()
                .unwrap()
                .iter()
                .zip(b["top_logprobs"].as_array().unwrap())
                .all(|(x, y)| x["token"] == y["token"] && close(&x["logprob"], &y["logprob"]))
    };
    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let (status, body) = server.post_json("/v1/chat/completions", &streamed);
    assert_eq!(status, 200);
    let tokens: Vec<Value> = events(&body)
        .iter()
        .filter(|e| e.as_str() != "[DONE]")
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| c["choices"][0]["logprobs"]["content"].as_array().cloned())
        .flatten()
        .collect();
    assert_eq!(tokens.len(), content.len());
    assert!(tokens.iter().zip(&content).all(|(a, b)| same(a, b)), "{tokens:?}\n{content:?}");

    // Continuing an unfinished answer: the prompt grows by its tokens.
    let (_, fresh) = post("/v1/chat/completions", chat("the cat", json!({"max_tokens": 1})));
    let cont = json!({"model": "m", "max_tokens": 1, "continue_final_message": true,
        "messages": [{"role": "user", "content": "the cat"}, {"role": "assistant", "content": "It sat"}]});
    let (status, c) = post("/v1/chat/completions", cont);
    assert_eq!(status, 200, "{c}");
    assert!(c["usage"]["prompt_tokens"].as_u64() > fresh["usage"]["prompt_tokens"].as_u64(), "{c} {fresh}");

    // The inspection: tokens, predictions, attention, logit lens.
    let (status, r) = post(
        "/v1/fledge/inspect",
        json!({"text": "the cat sat on the mat", "top_logprobs": 3, "attention": "all", "logit_lens": true}),
    );
    assert_eq!(status, 200, "{r}");
    let n = r["tokens"].as_array().unwrap().len();
    assert_eq!(r["tokens"][0]["token"], "<|endoftext|>");
    let text: String = r["tokens"].as_array().unwrap()[1..].iter().map(|t| t["token"].as_str().unwrap()).collect();
    assert_eq!(text, "the cat sat on the mat");
    assert!(r["positions"][0]["logprob"].is_null());
    let heads = r["layers"].as_u64().unwrap() * r["heads"].as_u64().unwrap();
    assert_eq!(r["attention"].as_array().unwrap().len() as u64, heads);
    for h in r["attention"].as_array().unwrap() {
        for (i, row) in h["weights"].as_array().unwrap().iter().enumerate() {
            let row: Vec<f64> = row.as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).collect();
            assert_eq!(row.len(), n);
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{row:?}");
            assert!(row[i + 1..].iter().all(|&w| w == 0.0));
        }
    }
    let lens = r["logit_lens"].as_array().unwrap();
    assert_eq!(lens.len() as u64, r["layers"].as_u64().unwrap() + 1);
    for i in 0..n {
        assert_eq!(lens.last().unwrap()["top"][i], r["positions"][i]["top_logprobs"], "position {i}");
    }

    // Bad input: a 400 naming the field.
    let long = "the cat sat on the mat. ".repeat(200);
    for (body, field) in [
        (json!({"text": "a", "attention": {"layer": 7, "head": 0}}), "attention.layer"),
        (json!({"text": "a", "attention": {"layer": 0, "head": -1}}), "attention.head"),
        (json!({"text": "a", "top_logprobs": 21}), "top_logprobs"),
        (json!({"text": long}), "text"),
        (json!({"text": "a", "attention": "some"}), "attention"),
        (json!({"text": "a", "colour": true}), "colour"),
    ] {
        let (status, e) = post("/v1/fledge/inspect", body.clone());
        assert_eq!(status, 400, "{body}: {e}");
        assert!(e["error"]["param"].as_str().unwrap_or_default().contains(field), "{body}: {e}");
    }
    server.health();
}

#[test]
fn fifteen_hundred_malformed_requests_get_4xx_and_the_server_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "m", false);
    let server = Server::start(&model, &["--connection-timeout", "4"]);
    let kinds = malformed();
    server.health();
    let (fds_before, rss_before) = server.resources();
    // A client that opens a stream and never reads it, held for the whole run.
    let mut silent = TcpStream::connect(server.addr).unwrap();
    let body = chat("the cat", json!({"stream": true, "max_tokens": 400})).to_string();
    write!(
        silent,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let started = Instant::now();

    let mut by_status = std::collections::BTreeMap::new();
    // Resident memory after 500, 1,000 and 1,500 requests. The allocator keeps
    // freed memory for reuse and may take a new arena when requests overlap
    // (more often on a busy machine), so one window of 500 can grow; a leak
    // grows every window.
    let mut rss_at = Vec::new();
    for i in 0..1500 {
        if i % 500 == 0 && i > 0 {
            rss_at.push(server.resources().1);
        }
        let (what, raw, expected) = &kinds[i % kinds.len()];
        // The two large bodies are sent a few times each, not a hundred.
        if raw.len() > 100_000 && i >= 10 * kinds.len() {
            let (status, body) = server.raw(&kinds[0].1);
            assert_eq!(status, 400, "{body}");
            *by_status.entry(status).or_insert(0) += 1;
            continue;
        }
        let (status, body) = server.raw(raw);
        assert_eq!(status, *expected, "{what}: {body}");
        if status != 400 || !what.contains("garbage request") {
            let e: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body:?}"));
            assert!(e["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
        }
        *by_status.entry(status).or_insert(0) += 1;
    }
    rss_at.push(server.resources().1);
    eprintln!("1500 malformed requests: {by_status:?} in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(by_status.values().sum::<i32>(), 1500);

    // Still healthy: a good request is answered, nothing is left running.
    let (status, body) = server.post_json("/v1/chat/completions", &chat("the cat", json!({"max_tokens": 8})));
    assert_eq!(status, 200, "{body}");
    // The silent client's connection is closed by the server at its lifetime.
    silent.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut sink = Vec::new();
    let _ = silent.read_to_end(&mut sink);
    assert!(started.elapsed() < Duration::from_secs(60), "the silent connection was not cut off");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.health()["engine"]["active"] != 0 {
        assert!(Instant::now() < deadline, "generation still running: {}", server.health());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing leaked: no connection left open, and of the two windows of 500
    // requests after the first, one at least left memory where it found it.
    let (fds_after, _) = server.resources();
    eprintln!(
        "server: {fds_before} -> {fds_after} open files; {rss_before} KiB resident at start, \
         {rss_at:?} after 500, 1,000 and 1,500 requests"
    );
    assert!(fds_after <= fds_before + 2, "{fds_before} -> {fds_after} open files");
    let least_growth = rss_at.windows(2).map(|w| w[1].saturating_sub(w[0])).min().unwrap();
    assert!(least_growth < 16 * 1024, "memory grew in every window of 500 requests: {rss_at:?} KiB");
}

#[test]
fn a_client_that_leaves_cancels_its_generation_and_a_full_queue_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "big", true);
    let server = Server::start(&model, &["--max-active", "2", "--queue", "1"]);
    let long = |seed: u64, stream: bool| {
        chat("the cat sat", json!({"max_tokens": 480, "seed": seed, "stream": stream, "temperature": 1.0}))
            .to_string()
            .replace("\"m\"", "\"big\"")
    };
    let open = |body: String| {
        let mut s = TcpStream::connect(server.addr).unwrap();
        write!(
            s,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        s
    };
    // Two streams (both slots): each reads its first bytes, then hangs up.
    let streams: Vec<TcpStream> = (0..2).map(|seed| open(long(seed, true))).collect();
    for mut s in streams {
        let mut first = [0u8; 64];
        s.read_exact(&mut first).unwrap();
        assert!(first.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&first));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = server.health();
        if h["engine"]["active"] == 0 && h["engine"]["queued"] == 0 {
            assert!(h["engine"]["cancelled"].as_u64().unwrap() >= 1, "{h}");
            break;
        }
        assert!(Instant::now() < deadline, "the generations of departed clients still run: {h}");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The same for a whole (non-streamed) answer: hanging up before it is ready stops it.
    // Sampled at temperature 1, this random model soon picks <|im_end|>, and
    // on a fast machine its answer can be done before the client leaves. Its
    // greedy answer never ends early (checked first, by letting one run to
    // its length limit), so that is the one left unfinished.
    let greedy =
        chat("the cat sat", json!({"max_tokens": 480, "temperature": 0.0})).to_string().replace("\"m\"", "\"big\"");
    let (status, body) = server.post_json("/v1/chat/completions", &serde_json::from_str(&greedy).unwrap());
    assert_eq!(status, 200, "{body}");
    let full: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(full["choices"][0]["finish_reason"], "length", "the greedy answer must run long: {body}");
    let cancelled = server.health()["engine"]["cancelled"].as_u64().unwrap();
    let s = open(greedy);
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = server.health();
        if h["engine"]["active"] == 0 {
            assert_eq!(h["engine"]["cancelled"].as_u64().unwrap(), cancelled + 1, "{h}");
            break;
        }
        assert!(Instant::now() < deadline, "the generation of a departed client still runs: {h}");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Two slots and one place in the queue: of six long requests at once, some get 503.
    let held: Vec<TcpStream> = (10..16).map(|seed| open(long(seed, false))).collect();
    let mut statuses = Vec::new();
    for mut s in held {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut response = Vec::new();
        let _ = s.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status: u16 = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if status == 503 {
            assert!(text.to_lowercase().contains("retry-after: 1"), "{text}");
            assert!(text.contains("server_busy"), "{text}");
        }
        statuses.push(status);
    }
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 503), "{statuses:?}");
}

/// A story request told in tries that its client leaves stops all its tries;
/// a queue too small for every try takes the request with fewer.
#[test]
fn a_client_that_leaves_a_story_told_in_tries_cancels_every_try() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "big", true);
    let server = Server::start(&model, &["--max-active", "8", "--queue", "2", "--top-k", "0"]);
    let story = |seed: u64, tries: u64, stream: bool, max_tokens: u64| {
        json!({"model": "big", "max_tokens": max_tokens, "seed": seed, "temperature": 0.05, "stream": stream,
               "story_tries": tries, "messages": [{"role": "user", "content": "tell me a story about a dog"}]})
    };
    // A seed whose first try, told alone, runs to the length limit (a random
    // model often ends an answer at once), so that its tries last long.
    let seed = (0..20)
        .find(|&seed| {
            let (status, body) = server.post_json("/v1/chat/completions", &story(seed, 1, false, 440));
            assert_eq!(status, 200, "{body}");
            serde_json::from_str::<Value>(&body).unwrap()["choices"][0]["finish_reason"] == "length"
        })
        .expect("a seed whose answer runs long");
    let cancelled = server.health()["engine"]["cancelled"].as_u64().unwrap();
    let body = story(seed, 4, true, 440).to_string();
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut first = [0u8; 64];
    s.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&first));
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = server.health();
        if h["engine"]["active"] == 0 && h["engine"]["queued"] == 0 {
            assert!(h["engine"]["cancelled"].as_u64().unwrap() > cancelled, "{h}");
            break;
        }
        assert!(Instant::now() < deadline, "the tries of a departed client still run: {h}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Eight tries, guided (two slots each), on eight slots and two queue places: answered.
    let (status, body) = server.post_json("/v1/chat/completions", &story(seed, 8, false, 8));
    assert_eq!(status, 200, "{body}");
}

/// Issue 19, item 7: clients that send their headers and then trickle the
/// body a byte at a time must not hold every connection slot. With two slots
/// and two such clients, a normal request is still answered soon: each slow
/// client gets 408 when its body deadline passes, and its slot is freed.
#[test]
fn slow_body_clients_cannot_lock_out_a_normal_request() {
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "m", false);
    let server = Server::start(&model, &["--max-connections", "2", "--body-timeout", "1.5"]);
    server.health();
    let started = Instant::now();
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            // 200 bytes at a byte every 250 ms would take 50 s; no read ever
            // waits long, so only a deadline on the whole body stops it.
            write!(
                s,
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{"
            )
            .unwrap();
            let mut writer = s.try_clone().unwrap();
            std::thread::spawn(move || {
                for _ in 0..199 {
                    std::thread::sleep(Duration::from_millis(250));
                    if writer.write_all(b" ").is_err() {
                        break;
                    }
                }
            });
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                let mut response = Vec::new();
                let _ = s.read_to_end(&mut response);
                (String::from_utf8_lossy(&response).into_owned(), started.elapsed())
            })
        })
        .collect();
    // Both slots are taken before the normal request comes.
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = server.post_json("/v1/chat/completions", &chat("the cat", json!({"max_tokens": 4})));
    let waited = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(waited < Duration::from_secs(8), "the normal request waited {waited:?} behind slow bodies");
    for reader in slow {
        let (response, at) = reader.join().unwrap();
        assert!(at < Duration::from_secs(8), "a slow body held its connection for {at:?}");
        // The reply can be lost to a reset when the client keeps writing
        // after the close; when it arrives it is a 408 in OpenAI's shape.
        if !response.is_empty() {
            assert!(response.starts_with("HTTP/1.1 408"), "{response}");
            assert!(response.contains("request_timeout") && response.contains("did not arrive"), "{response}");
        }
    }
    server.health();
}
