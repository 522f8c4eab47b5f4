//! Reasons said the way people say them. The templates write a reason as a
//! because-clause ("The pool is shut because the pipes are being fixed."),
//! and a model taught only that form looks for "because" and, in a note
//! that says "The pipes are being fixed, so the pool is shut.", makes a
//! reason up. This rewrites some of those sentences into the other common
//! forms (cause first with "so", cause as its own sentence, "as" and
//! "since"), and the answer becomes the cause as the text now writes it.

use super::gen::{Draft, Gen};
use super::Kind;
use crate::data::case::{lower_first, upper_first};

/// Share of because-answers whose sentence is rewritten.
const REWORD_SHARE: f64 = 0.5;

/// First words of a sentence that may be written in lower case after
/// "so" or "as" ("..., so the pool is shut"); a sentence that starts with
/// anything else (a name, "I") keeps its capital and gets a form that
/// leaves it first.
const LOWERABLE: &[&str] = &[
    "The", "There", "We", "You", "It", "Our", "My", "Your", "This", "He", "She", "They", "On", "From", "In", "All",
    "Please", "Everyone", "Today", "Tomorrow", "A", "An", "His", "Her", "Their", "Its", "Each", "Every", "No", "Some",
    "That", "These", "Those",
];

/// Rewrites about half of the sentences that answer a why-question with a
/// because-clause, keeping a rewrite only when every other answer of the
/// draft is still a span of the text.
pub fn reword_reasons(d: &mut Draft, g: &mut Gen) {
    for qi in 0..d.qas.len() {
        if d.qas[qi].kind != Kind::Why {
            continue;
        }
        let Some(cause) = d.qas[qi].answer.strip_prefix("because ").map(str::to_string) else {
            continue;
        };
        // "because of the rain" has no clause to stand on its own.
        if cause.starts_with("of ") || cause.split_whitespace().count() < 2 || !g.chance(REWORD_SHARE) {
            continue;
        }
        let needle = format!(" because {cause}");
        let Some(li) = d.lines.iter().position(|l| l.contains(&needle)) else {
            continue;
        };
        let form = g.range(0, 3);
        let old = d.lines[li].clone();
        let Some((line, answer)) = reword(&old, &needle, &cause, form) else {
            continue;
        };
        d.lines[li] = line;
        let text = d.lines.join("\n");
        let others_hold = d.qas.iter().enumerate().all(|(j, q)| j == qi || text.contains(&q.answer));
        if others_hold && text.contains(&answer) {
            d.qas[qi].answer = answer;
        } else {
            d.lines[li] = old;
        }
    }
}

/// `line` with its sentence "MAIN because CAUSE." said in form `form`, and
/// the cause as the new sentence writes it; `None` when the clause does not
/// end its sentence or the sentence does not start with a capital.
fn reword(line: &str, needle: &str, cause: &str, form: u32) -> Option<(String, String)> {
    let at = line.find(needle)?;
    let end = at + needle.len();
    let stop = line[end..].chars().next().filter(|c| matches!(c, '.' | '!'))?;
    let start = [". ", "! ", "? "].iter().filter_map(|b| line[..at].rfind(b).map(|i| i + b.len())).max().unwrap_or(0);
    // "Leave it to cool, because ..." loses its comma with its clause.
    let main = line[start..at].trim_end_matches(',');
    if !main.starts_with(|c: char| c.is_ascii_uppercase()) || main.contains(['"', ':']) {
        return None;
    }
    let first_word = main.split_whitespace().next()?;
    let lowered = LOWERABLE.contains(&first_word).then(|| lower_first(main));
    let cause_up = upper_first(cause);
    let (sentence, answer) = match (form, lowered) {
        (0, Some(main_l)) => (format!("{cause_up}, so {main_l}{stop}"), cause_up),
        (2, Some(main_l)) => (format!("As {cause}, {main_l}{stop}"), cause.to_string()),
        (2, None) => (format!("{main} since {cause}{stop}"), cause.to_string()),
        _ => (format!("{main}{stop} {cause_up}."), cause_up),
    };
    Some((format!("{}{sentence}{}", &line[..start], &line[end + stop.len_utf8()..]), answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "Hello all. The pool is shut on Monday because the pipes are being fixed. Sorry!";
    const NEEDLE: &str = " because the pipes are being fixed";
    const CAUSE: &str = "the pipes are being fixed";

    #[test]
    fn each_form_keeps_the_rest_of_the_line_and_names_the_cause_as_written() {
        let cases = [
            (
                0,
                "Hello all. The pipes are being fixed, so the pool is shut on Monday. Sorry!",
                "The pipes are being fixed",
            ),
            (
                1,
                "Hello all. The pool is shut on Monday. The pipes are being fixed. Sorry!",
                "The pipes are being fixed",
            ),
            (
                2,
                "Hello all. As the pipes are being fixed, the pool is shut on Monday. Sorry!",
                "the pipes are being fixed",
            ),
        ];
        for (form, line, answer) in cases {
            let (got, got_answer) = reword(LINE, NEEDLE, CAUSE, form).expect("rewritten");
            assert_eq!(got, line);
            assert_eq!(got_answer, answer);
            assert!(got.contains(&got_answer));
        }
    }

    #[test]
    fn a_name_first_keeps_its_capital_and_a_clause_mid_sentence_is_left() {
        let line = "Olek stayed at home because he has a cold.";
        let (got, answer) = reword(line, " because he has a cold", "he has a cold", 0).expect("rewritten");
        assert_eq!(got, "Olek stayed at home. He has a cold.");
        assert_eq!(answer, "He has a cold");
        let (got, _) = reword(line, " because he has a cold", "he has a cold", 2).expect("rewritten");
        assert_eq!(got, "Olek stayed at home since he has a cold.");
        assert!(
            reword("We left because it rained, and then it stopped.", " because it rained", "it rained", 0).is_none()
        );
        let (got, _) =
            reword("Leave it to cool, because it is soft.", " because it is soft", "it is soft", 1).expect("rewritten");
        assert_eq!(got, "Leave it to cool. It is soft.");
    }

    #[test]
    fn drafts_keep_every_answer_a_span() {
        use rand::SeedableRng;
        let mut rewritten = 0;
        for seed in 0..64 {
            let mut g = Gen::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            let mut d = Draft::default();
            d.line(LINE);
            d.ask(&mut g, Kind::Why, "because the pipes are being fixed", &["Why is the pool shut?".to_string()]);
            d.ask(&mut g, Kind::When, "Monday", &["When is the pool shut?".to_string()]);
            reword_reasons(&mut d, &mut g);
            let text = d.lines.join("\n");
            assert!(d.qas.iter().all(|q| text.contains(&q.answer)), "{text} {:?}", d.qas);
            rewritten += usize::from(!text.contains("because"));
        }
        assert!((16..=48).contains(&rewritten), "{rewritten} of 64 rewritten");
    }
}
