//! Stories retold about another hero: the same story with its animal or its
//! named hero swapped for another ("a little dog named Max" becomes "a little
//! penguin named Max", "a girl named Lily" becomes "a girl named Ottilie").
//!
//! Why: the corpus's stories tell of a few dozen animals and names, so a
//! model that learns the request -> story mapping from them alone writes
//! about a dog when asked for a penguin, and about Lily when asked for Theo.
//! With the hero drawn from a wide list, the hero the story names can only
//! come from the request, so the model learns to copy it from there.

use crate::chat::notes::article;
use crate::chat::notes::word_starts;
use crate::data::case::upper_first as upper;
use crate::data::dedup::mix64;

/// Animals a story's hero can be, singular: common animals of children's
/// stories and picture books, the everyday and the less so. Words that are
/// as often something else ("bat", "fly", "seal", "kid") are left out.
pub const ANIMALS: &[&str] = &[
    "dog",
    "cat",
    "bird",
    "bunny",
    "rabbit",
    "fish",
    "bear",
    "lion",
    "tiger",
    "elephant",
    "monkey",
    "mouse",
    "frog",
    "duck",
    "owl",
    "fox",
    "horse",
    "cow",
    "pig",
    "sheep",
    "goat",
    "chicken",
    "puppy",
    "kitten",
    "squirrel",
    "turtle",
    "snake",
    "whale",
    "dolphin",
    "shark",
    "penguin",
    "giraffe",
    "zebra",
    "kangaroo",
    "koala",
    "panda",
    "hedgehog",
    "hamster",
    "parrot",
    "butterfly",
    "bee",
    "ant",
    "spider",
    "ladybird",
    "ladybug",
    "snail",
    "worm",
    "caterpillar",
    "crab",
    "octopus",
    "deer",
    "wolf",
    "camel",
    "hippo",
    "crocodile",
    "dinosaur",
    "dragon",
    "unicorn",
    "donkey",
    "goose",
    "swan",
    "robin",
    "crow",
    "eagle",
    "beaver",
    "otter",
    "raccoon",
    "badger",
    "mole",
    "lizard",
    "gorilla",
    "llama",
    "pony",
    "lamb",
    "chick",
    "goldfish",
    "jellyfish",
    "starfish",
    "seahorse",
    "firefly",
    "grasshopper",
    "moth",
    "sloth",
    "cheetah",
    "leopard",
    "flamingo",
    "peacock",
    "pelican",
    "walrus",
    "squid",
    "beetle",
    "tortoise",
    "toad",
    "kitty",
    "pup",
    "cub",
    "piglet",
    "duckling",
    "hen",
    "rooster",
    "ox",
    "yak",
    "moose",
];

/// `story` with its hero animal swapped for another of [`ANIMALS`] (chosen
/// by `hash`), and the new animal; `None` when no animal of the list is
/// named in its first two sentences and again later.
pub fn swap_animal(story: &str, hash: u64) -> Option<(String, String)> {
    let opening = opening(story);
    let from = words_of(opening).find(|w| ANIMALS.contains(w) && whole_word_count(story, w) >= 2)?;
    let absent = |a: &str| whole_word_count(story, a) + whole_word_count(story, &upper(a)) == 0;
    let to = choose(ANIMALS, hash, |a| a != from && absent(a))?;
    let swapped = replace_word(&replace_word(story, from, to), &upper(from), &upper(to));
    Some((fix_articles(&swapped, to), to.to_string()))
}

/// `story` with its named hero ("a girl named Lily") renamed with a given
/// name of `names_of(female)` chosen by `hash`, and the new name; `None`
/// when the opening names nobody that way.
pub fn swap_name(story: &str, hash: u64, names_of: impl Fn(bool) -> &'static [String]) -> Option<(String, String)> {
    static NAMED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = NAMED.get_or_init(|| regex::Regex::new(r"\b(?:named|called) ([A-Z][a-z]+)\b").expect("a valid pattern"));
    let from = re.captures(opening(story))?.get(1)?.as_str();
    let lower = story.to_lowercase();
    let she = [" she ", " her "].iter().map(|p| lower.matches(p).count()).sum::<usize>();
    let he = [" he ", " his ", " him "].iter().map(|p| lower.matches(p).count()).sum::<usize>();
    let names = names_of(she > he);
    let to = choose(names, hash, |n| n != from && !n.contains(' ') && !story.contains(n))?;
    Some((replace_word(story, from, to), to.to_string()))
}

/// The first two sentences (or 240 bytes) of a story.
fn opening(story: &str) -> &str {
    let mut end = story.len().min(240);
    while !story.is_char_boundary(end) {
        end -= 1;
    }
    let mut stops = story[..end].match_indices(['.', '!', '?']).map(|(i, _)| i + 1);
    let second = stops.nth(1).unwrap_or(end);
    &story[..second]
}

fn words_of(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty())
}

/// Picks an entry of `pool` that `ok` accepts, starting at `hash`.
fn choose<T: AsRef<str>>(pool: &[T], hash: u64, ok: impl Fn(&str) -> bool) -> Option<&str> {
    let start = (mix64(hash) % pool.len() as u64) as usize;
    (0..pool.len()).map(|i| pool[(start + i) % pool.len()].as_ref()).find(|w| ok(w))
}

pub fn whole_word_count(text: &str, word: &str) -> usize {
    word_starts(text, word).count()
}

/// `text` with every whole-word `from` replaced by `to` ("dog's" counts,
/// "dogs" and "hotdog" do not).
fn replace_word(text: &str, from: &str, to: &str) -> String {
    crate::chat::notes::replace_word(text, from, to, to)
}

/// "a owl" -> "an owl", "an penguin" -> "a penguin": the article before
/// each `word`, lower or upper case, agrees with its first sound.
fn fix_articles(text: &str, word: &str) -> String {
    let (right, wrong) = if article(word) == "an" { ("an", "a") } else { ("a", "an") };
    let mut out = text.to_string();
    for (r, w) in [(right, wrong), (&upper(right)[..], &upper(wrong)[..])] {
        out = out.replace(&format!(" {w} {word}"), &format!(" {r} {word}"));
        if out.starts_with(&format!("{w} {word}")) {
            out = format!("{r}{}", &out[w.len()..]);
        }
        out = out.replace(&format!("\n{w} {word}"), &format!("\n{r} {word}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(female: bool) -> &'static [String] {
        static F: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        static M: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        if female {
            F.get_or_init(|| vec!["Ottilie".into(), "Anna Lee".into()])
        } else {
            M.get_or_init(|| vec!["Theo".into()])
        }
    }

    #[test]
    fn the_hero_animal_is_swapped_everywhere_with_its_article() {
        let story = "Once upon a time, there was a dog named Max. The dog loved his ball. Max's dog bed was \
                     red. Dogs barked at the hotdog stand. A dog is a good friend.";
        for hash in 0..50 {
            let (told, to) = swap_animal(story, hash).expect("a dog is swapped");
            assert!(!told.contains(" dog ") && !told.contains("A dog"), "{told}");
            assert!(told.contains("Dogs barked at the hotdog stand."), "plurals and other words stay: {told}");
            assert_eq!(whole_word_count(&told, &to) + whole_word_count(&told, &upper(&to)), 4, "{told}");
            let article = if to.starts_with(['a', 'e', 'i', 'o']) { "an" } else { "a" };
            assert!(told.contains(&format!("there was {article} {to} named Max")), "{told}");
        }
    }

    #[test]
    fn the_animals_are_distinct_lower_case_words() {
        let mut seen = std::collections::HashSet::new();
        assert!(ANIMALS.iter().all(|a| seen.insert(a) && a.chars().all(|c| c.is_ascii_lowercase())));
    }

    #[test]
    fn no_animal_in_the_opening_or_named_once_is_no_swap() {
        assert!(swap_animal("Tom went to the park. He played all day. He saw a dog.", 1).is_none());
        assert!(swap_animal("Tom saw a dog. He played all day.", 1).is_none());
    }

    #[test]
    fn the_named_hero_is_renamed_by_pronoun() {
        let story =
            "Once upon a time, there was a girl named Lily. Lily loved her red kite. She flew it with Lily's mum.";
        let (told, to) = swap_name(story, 3, names).expect("renamed");
        assert_eq!(to, "Ottilie", "a one-word name of the girls' pool");
        assert_eq!(told, "Once upon a time, there was a girl named Ottilie. Ottilie loved her red kite. She flew it with Ottilie's mum.");
        let boy = "There was a boy called Sam. Sam lost his hat. He was sad.";
        assert_eq!(swap_name(boy, 0, names).expect("renamed").1, "Theo");
        assert!(swap_name("Lily had a kite. She flew it.", 0, names).is_none());
    }
}
