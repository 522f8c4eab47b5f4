//! ChatterBot corpus: YAML files `{categories: [...], conversations: [[a, b, c], ...]}`
//! where each inner list alternates user and assistant, starting with the user.
//!
//! The YAML is read from parser events rather than a typed loader so every
//! scalar keeps its text as written (`42`, `yes`, `null` stay strings, not a
//! number, a boolean or nothing). An odd-length exchange ends on the user,
//! whose last line is dropped. The set has no splits: the opening line picks
//! one (90/5/5), which keeps the several answers scripted for one question
//! together.

use std::path::Path;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::{dialogue, file_name, files_in, hash_split, no_files, read_text, Builder, ConvertError};
use crate::chat::template::Role;

/// A YAML node with scalars as written, and the line it starts on.
#[derive(Debug)]
enum Node {
    Scalar(String),
    Seq(Vec<(Node, usize)>),
    Map(Vec<(Node, (Node, usize))>),
    /// An alias: the corpus has none, and a record holding one is skipped.
    Other,
}

#[derive(Default)]
struct TreeBuilder {
    stack: Vec<(Node, usize, Option<Node>)>,
    docs: Vec<(Node, usize)>,
}

impl TreeBuilder {
    fn insert(&mut self, node: Node, line: usize) {
        match self.stack.last_mut() {
            None => self.docs.push((node, line)),
            Some((Node::Seq(items), _, _)) => items.push((node, line)),
            Some((Node::Map(entries), _, key)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, (node, line))),
            },
            Some(_) => unreachable!("only collections are stacked"),
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::SequenceStart(..) => self.stack.push((Node::Seq(Vec::new()), mark.line(), None)),
            Event::MappingStart(..) => self.stack.push((Node::Map(Vec::new()), mark.line(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, line, _) = self.stack.pop().expect("the parser balances collections");
                self.insert(node, line);
            }
            Event::Scalar(text, ..) => self.insert(Node::Scalar(text), mark.line()),
            Event::Alias(_) => self.insert(Node::Other, mark.line()),
            _ => {}
        }
    }
}

pub(super) fn convert(dir: &Path) -> Result<Builder, ConvertError> {
    let files = files_in(dir, |n| n.ends_with(".yml") || n.ends_with(".yaml"))?;
    if files.is_empty() {
        return Err(no_files(dir, "ChatterBot *.yml files"));
    }
    let mut b = Builder::new("chatterbot");
    for path in files {
        let text = read_text(&path)?;
        let mut tree = TreeBuilder::default();
        Parser::new_from_str(&text).load(&mut tree, false).map_err(|e| {
            let m = e.marker();
            ConvertError::parse(&path, format_args!("line {}, column {}", m.line(), m.col() + 1), e.info().to_string())
        })?;
        let conversations = match tree.docs.first() {
            Some((Node::Map(entries), _)) => {
                entries.iter().find(|(k, _)| matches!(k, Node::Scalar(s) if s == "conversations")).map(|(_, v)| v)
            }
            _ => None,
        };
        let Some((Node::Seq(conversations), _)) = conversations else {
            return Err(ConvertError::parse(
                &path,
                "",
                "no `conversations:` list; a ChatterBot corpus file is a mapping with `conversations: - - question - answer`",
            ));
        };
        let name = file_name(&path);
        for (item, line) in conversations {
            let at = format!("{name}:{line}");
            let lines: Option<Vec<&str>> = match item {
                Node::Seq(lines) => lines
                    .iter()
                    .map(|(n, _)| match n {
                        Node::Scalar(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect(),
                _ => None,
            };
            let Some(lines) = lines else {
                b.skip("exchange is not a list of lines", at);
                continue;
            };
            let roles = [Role::User, Role::Assistant].into_iter().cycle();
            match dialogue(Vec::new(), roles.zip(lines.iter().map(|l| l.to_string()))) {
                Ok(conv) => {
                    let key = conv.messages[0].content.clone();
                    b.push(hash_split("chatterbot", &key), conv)
                }
                Err(reason) => b.skip(reason, at),
            }
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::super::hash_split;
    use super::super::test_util::*;

    #[test]
    fn fixture_converts_exactly() {
        let c = convert_one("chatterbot", &fixture("chatterbot"));
        let mut all: Vec<_> = c.splits.iter().flat_map(|(s, convs)| convs.iter().map(move |c| (*s, msgs(c)))).collect();
        let split = |q| hash_split("chatterbot", q);
        let mut expect = vec![
            // animals.yml comes before greetings.yml.
            (split("Do you like cats?"), vec![("user", "Do you like cats?"), ("assistant", "Yes, they purr.")]),
            (split("Do you like cats?"), vec![("user", "Do you like cats?"), ("assistant", "42")]),
            (
                split("How many legs has a spider?"),
                vec![("user", "How many legs has a spider?"), ("assistant", "Eight.\nAll of them hairy.")],
            ),
            (
                split("Hello"),
                vec![("user", "Hello"), ("assistant", "Hi there!"), ("user", "How are you?"), ("assistant", "yes")],
            ),
        ];
        all.sort_by_key(|(s, _)| *s);
        expect.sort_by_key(|(s, _)| *s);
        assert_eq!(all, expect);
        assert_eq!(
            c.skipped,
            [("exchange is not a list of lines".to_string(), 1), ("no assistant reply".to_string(), 1)]
        );
    }

    #[test]
    fn broken_yaml_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yml"), "conversations:\n- - a\n  - [b\n").unwrap();
        let err = super::super::convert("chatterbot", dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad.yml (line ") && err.contains("column"), "{err}");
    }

    #[test]
    fn real_data_counts() {
        let Some(dir) = real("chat/chatterbot-english") else { return };
        let c = convert_one("chatterbot", &dir);
        check_shape(&c);
        let [train, val, test] = counts(&c);
        // 2,026 items, one of them a plain string (skipped).
        assert_eq!(train + val + test, 2025);
        assert_eq!(c.skipped, [("exchange is not a list of lines".to_string(), 1)]);
        assert!(train > 1700 && val > 40 && test > 40, "{:?}", counts(&c));
    }
}
