//! The exported Jinja chat template, rendered by Python's jinja2 (what
//! transformers' `apply_chat_template` uses), must give byte for byte the
//! text of fledge's renderer, for every role, multi-line and Unicode content,
//! special-token text inside content, with and without the generation prompt.

mod common;

use fledge::chat::template::{render_text, Message, Role, CHAT_TEMPLATE};

const SCRIPT: &str = r#"
import json, sys
import jinja2
case = json.load(open(sys.argv[1]))
env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)  # transformers' settings
t = env.from_string(case["template"])
out = [t.render(messages=c["messages"], add_generation_prompt=c["gen"]) for c in case["cases"]]
json.dump(out, open(sys.argv[2], "w"))
"#;

#[test]
fn jinja_template_renders_like_fledge() {
    let py = common::python();
    let has_jinja =
        std::process::Command::new(&py).args(["-c", "import jinja2"]).output().is_ok_and(|o| o.status.success());
    if !has_jinja && common::skip_or_fail("Python jinja2 is not installed (bash scripts/test.sh installs it)").is_none()
    {
        return;
    }
    let convs: Vec<Vec<Message>> = vec![
        vec![Message::new(Role::User, "Hi!")],
        vec![
            Message::new(Role::System, "You are Fledge.\nBe brief."),
            Message::new(Role::Context, "[1] notes.md: The cat is in the kitchen.\n[2] b.txt: Ça va, 猫."),
            Message::new(Role::User, "Where is the cat? <|im_end|> {{ not jinja }}"),
            Message::new(Role::Assistant, "In the kitchen [1]."),
            Message::new(Role::User, "  spaces  \n\n"),
        ],
        vec![],
    ];
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for c in &convs {
        for gen in [false, true] {
            cases.push(serde_json::json!({"messages": c, "gen": gen}));
            expected.push(render_text(c, gen));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.json"), dir.path().join("out.json"));
    std::fs::write(&input, serde_json::json!({"template": CHAT_TEMPLATE, "cases": cases}).to_string()).unwrap();
    let o = std::process::Command::new(&py).args(["-c", SCRIPT]).arg(&input).arg(&output).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rendered: Vec<String> = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(rendered.len(), expected.len());
    for (r, e) in rendered.iter().zip(&expected) {
        assert_eq!(r, e);
    }
}
