//! The pieces every template is made of: the entity generator ([`Gen`]:
//! people, places, clock times, days, dates, durations, numbers, prices)
//! and the [`Draft`] a template fills with lines, questions and
//! unanswerable questions.
//!
//! Every value a question may ask about is drawn "fresh": it neither equals
//! nor holds as a whole word another value of the same text (no two "Mill
//! Lane"s, no "Marguerite" beside "Marguerite Okafor" for another person),
//! so distractors differ from the answer.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::words;
use super::Kind;
use crate::chat::convert::UNKNOWN_ANSWER;

/// A person: a given name and whether "she" or "he" refers to them.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub female: bool,
}

impl Person {
    pub fn she(&self) -> &'static str {
        if self.female {
            "she"
        } else {
            "he"
        }
    }
    pub fn her(&self) -> &'static str {
        if self.female {
            "her"
        } else {
            "his"
        }
    }
}

/// A time of day, minutes a multiple of 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub h: u32,
    pub m: u32,
}

/// How a text writes its clock times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStyle {
    /// 8:15 (12-hour, no am/pm)
    Colon,
    /// 8.15am, 8am
    DotAmPm,
    /// 8:15 pm, 8 pm
    SpaceAmPm,
    /// quarter past eight, half past three, noon
    Words,
    /// 20:15
    H24,
}

fn hour12(h: u32) -> u32 {
    match h % 12 {
        0 => 12,
        x => x,
    }
}

impl Clock {
    pub fn format(self, style: TimeStyle) -> String {
        let (h, m) = (self.h, self.m);
        let ampm = if h < 12 { "am" } else { "pm" };
        match style {
            TimeStyle::Colon => format!("{}:{:02}", hour12(h), m),
            TimeStyle::DotAmPm if m == 0 => format!("{}{ampm}", hour12(h)),
            TimeStyle::DotAmPm => format!("{}.{:02}{ampm}", hour12(h), m),
            TimeStyle::SpaceAmPm if m == 0 => format!("{} {ampm}", hour12(h)),
            TimeStyle::SpaceAmPm => format!("{}:{:02} {ampm}", hour12(h), m),
            TimeStyle::H24 => format!("{h:02}:{m:02}"),
            TimeStyle::Words => {
                let w = |h: u32| words::NUMBER_WORDS[hour12(h) as usize];
                match m {
                    0 if h == 12 => "noon".into(),
                    0 if h == 0 => "midnight".into(),
                    0 => format!("{} o'clock", w(h)),
                    15 => format!("quarter past {}", w(h)),
                    30 => format!("half past {}", w(h)),
                    45 => format!("quarter to {}", w(h + 1)),
                    m if m < 30 => format!("{} past {}", minute_words(m), w(h)),
                    m => format!("{} to {}", minute_words(60 - m), w(h + 1)),
                }
            }
        }
    }
}

/// `n` (0 to 99) in words: "seven", "twenty-five", "forty".
pub fn number_words(n: u32) -> String {
    const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    match n {
        0..=20 => words::NUMBER_WORDS[n as usize].into(),
        n if n % 10 == 0 => TENS[(n / 10) as usize].into(),
        n => format!("{}-{}", TENS[(n / 10) as usize], words::NUMBER_WORDS[(n % 10) as usize]),
    }
}

fn minute_words(m: u32) -> String {
    number_words(m)
}

/// The entity generator of one text: its random source and the values the
/// text already holds.
pub struct Gen {
    pub rng: ChaCha8Rng,
    used: Vec<String>,
    /// The currency of the text's prices, drawn with its first price.
    currency: Option<&'static str>,
}

impl Gen {
    pub fn new(rng: ChaCha8Rng) -> Self {
        Self { rng, used: Vec::new(), currency: None }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        self.rng.gen_range(lo..=hi)
    }

    pub fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs.choose(&mut self.rng).expect("a non-empty list").clone()
    }

    /// One of `xs` as a String.
    pub fn one(&mut self, xs: &[&str]) -> String {
        self.pick(xs).to_string()
    }

    /// Shuffles `xs` in place.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        xs.shuffle(&mut self.rng);
    }

    /// Marks `v` as taken, so no fresh value overlaps it.
    pub fn claim(&mut self, v: &str) {
        self.used.push(v.to_lowercase());
    }

    fn overlaps(&self, v: &str) -> bool {
        let v = v.to_lowercase();
        self.used.iter().any(|u| contains_word(u, &v) || contains_word(&v, u))
    }

    /// A value from `make` that overlaps no value of the text so far, now
    /// taken. (After many tries, the last one made: never seen in practice
    /// with the pools' sizes.)
    pub fn fresh(&mut self, mut make: impl FnMut(&mut Gen) -> String) -> String {
        let mut v = make(self);
        for _ in 0..60 {
            if !self.overlaps(&v) {
                break;
            }
            v = make(self);
        }
        self.claim(&v);
        v
    }

    /// A value from `make` not equal to a value of the text so far, now
    /// taken: for numbers, where "3" inside "13:30" is no confusion.
    pub fn distinct(&mut self, mut make: impl FnMut(&mut Gen) -> String) -> String {
        let mut v = make(self);
        for _ in 0..60 {
            if !self.used.contains(&v.to_lowercase()) {
                break;
            }
            v = make(self);
        }
        self.claim(&v);
        v
    }

    /// A person with a given name from the pools or, now and then, an
    /// invented one.
    pub fn person(&mut self) -> Person {
        let female = self.chance(0.5);
        let name = self.fresh(|g| {
            if g.chance(0.12) {
                g.invented_given()
            } else if female {
                g.pick(words::female())
            } else {
                g.pick(words::male())
            }
        });
        Person { name, female }
    }

    /// A person whose name contains no space (for "Name: message" lines and
    /// possessives).
    pub fn person_one_word(&mut self) -> Person {
        loop {
            let p = self.person();
            if !p.name.contains(' ') && !p.name.contains('-') {
                return p;
            }
        }
    }

    pub fn surname(&mut self) -> String {
        self.fresh(|g| if g.chance(0.1) { g.invented_place_word() } else { g.pick(words::surnames()) })
    }

    /// "Mrs Okafor", "Mr Lindqvist", "Dr Haddad" (`titles` to choose from).
    pub fn titled(&mut self, titles: &[&str]) -> String {
        let t = self.one(titles);
        let s = self.fresh(|g| if g.chance(0.1) { g.invented_place_word() } else { g.pick(words::surnames()) });
        format!("{t} {s}")
    }

    /// A made-up given name ("Tavrina", "Kelek").
    fn invented_given(&mut self) -> String {
        let a = self.pick(words::syllable_start());
        let b = self.pick(words::person_end());
        if self.chance(0.4) {
            let m = self.pick(words::syllable_mid());
            format!("{a}{m}{b}")
        } else {
            format!("{a}{b}")
        }
    }

    /// A made-up place word ("Brandlewick", "Morholm").
    fn invented_place_word(&mut self) -> String {
        let a = self.pick(words::syllable_start());
        let b = self.pick(words::place_end());
        if self.chance(0.5) {
            let m = self.pick(words::syllable_mid());
            format!("{a}{m}{b}")
        } else {
            format!("{a}{b}")
        }
    }

    /// An invented town ("Selanwick", "Upper Dalmere").
    pub fn town(&mut self) -> String {
        self.fresh(|g| {
            let w = g.invented_place_word();
            match g.range(0, 9) {
                0 => format!("Upper {w}"),
                1 => format!("Lower {w}"),
                2 => format!("{w} Bay"),
                _ => w,
            }
        })
    }

    /// A street ("Heron Lane", "Crooked Oak Lane", "Pelford Road").
    pub fn street(&mut self) -> String {
        self.fresh(|g| {
            let kind = g.pick(words::street_kinds());
            match g.range(0, 5) {
                0 | 1 => format!("{} {kind}", g.pick(words::street_words())),
                2 => format!("{} {} {kind}", g.pick(words::place_adjectives()), g.pick(words::place_nouns())),
                3 => format!("{} {kind}", g.invented_place_word()),
                _ => format!("{} {kind}", g.pick(words::surnames())),
            }
        })
    }

    /// A street address ("14 Heron Lane").
    pub fn address(&mut self) -> String {
        let n = self.range(2, 98);
        let s = self.street();
        let a = format!("{n} {s}");
        self.claim(&a);
        a
    }

    /// A cafe or shop with a name ("the Blue Kettle cafe", "the Old Fox").
    pub fn cafe(&mut self) -> String {
        self.fresh(|g| {
            let noun = g.pick(words::place_nouns());
            match g.range(0, 3) {
                0 => {
                    let c = upper_first(&g.pick(words::colours()));
                    format!("the {c} {noun} cafe")
                }
                1 => format!("the {} {noun}", g.pick(words::place_adjectives())),
                2 => format!("{}'s bakery", g.pick(words::surnames())),
                _ => format!("the {noun} and {} cafe", g.pick(words::place_nouns())),
            }
        })
    }

    /// An island, park, hill or wood with an invented or a person's name.
    pub fn outdoor_place(&mut self) -> String {
        self.fresh(|g| {
            let w = g.invented_place_word();
            match g.range(0, 5) {
                0 => format!("{w} Island"),
                1 => format!("{w} Park"),
                2 => format!("{w} Woods"),
                3 => format!("{w} Hill"),
                4 => format!("{} Gardens", g.pick(words::surnames())),
                _ => format!("{w} Beach"),
            }
        })
    }

    /// A park or green space one can walk a dog to ("Selby Park").
    pub fn park(&mut self) -> String {
        self.fresh(|g| {
            let w = g.invented_place_word();
            match g.range(0, 3) {
                0 => format!("{w} Park"),
                1 => format!("{w} Woods"),
                2 => format!("{} Gardens", g.pick(words::surnames())),
                _ => format!("{w} Common"),
            }
        })
    }

    /// A public place ("the library"), fresh.
    pub fn venue(&mut self) -> String {
        self.fresh(|g| g.pick(words::venues()))
    }

    pub fn colour(&mut self) -> String {
        self.fresh(|g| g.pick(words::colours()))
    }

    pub fn object(&mut self) -> String {
        self.fresh(|g| g.pick(words::objects()))
    }

    pub fn food(&mut self) -> String {
        self.fresh(|g| g.pick(words::foods()))
    }

    pub fn pet_name(&mut self) -> String {
        self.fresh(|g| g.pick(words::pet_names()))
    }

    /// A time between `lo` and `hi` o'clock (24-hour), fresh, written in
    /// `style`.
    pub fn time(&mut self, lo: u32, hi: u32, style: TimeStyle) -> String {
        self.fresh(|g| {
            let h = g.range(lo, hi);
            let m = if style == TimeStyle::Words || g.chance(0.4) {
                g.pick(&[0, 15, 30, 45, 10, 20, 40, 50])
            } else {
                g.range(0, 11) * 5
            };
            Clock { h, m }.format(style)
        })
    }

    /// A style for the times of a text (its writer keeps to one).
    pub fn time_style(&mut self) -> TimeStyle {
        self.pick(&[TimeStyle::Colon, TimeStyle::DotAmPm, TimeStyle::SpaceAmPm, TimeStyle::Words, TimeStyle::H24])
    }

    /// A style for a casual writer (no 24-hour clock).
    pub fn casual_time_style(&mut self) -> TimeStyle {
        self.pick(&[TimeStyle::Colon, TimeStyle::DotAmPm, TimeStyle::SpaceAmPm, TimeStyle::Words])
    }

    pub fn day(&mut self) -> String {
        self.fresh(|g| g.pick(&words::DAYS).to_string())
    }

    /// A date: "12 March", "the 3rd of May", "March 12", "12th March".
    pub fn date(&mut self) -> String {
        let months: Vec<usize> = (0..12).collect();
        self.date_in(&months)
    }

    /// A date in one of `months` (0 for January).
    pub fn date_in(&mut self, months: &[usize]) -> String {
        let style = self.range(0, 3);
        self.fresh(|g| {
            let d = g.range(1, 28);
            let month = g.pick(months);
            date_text(d, month, style)
        })
    }

    /// Two dates of one month in one style, the first `gap` or more days
    /// before the second (a reply-by date and a party).
    pub fn date_pair(&mut self, gap: u32) -> (String, String) {
        let style = self.range(0, 3);
        let month = self.range(0, 11) as usize;
        let second = self.range(gap + 1, 28);
        let first = self.range(1, second - gap);
        let (a, b) = (date_text(first, month, style), date_text(second, month, style));
        self.claim(&a);
        self.claim(&b);
        (a, b)
    }

    /// A duration of minutes or hours: "twenty minutes", "45 minutes",
    /// "half an hour", "2 hours", "an hour and a half".
    pub fn duration(&mut self) -> String {
        self.fresh(|g| match g.range(0, 6) {
            0 | 1 => {
                let m = g.pick(&[10, 15, 20, 25, 40, 45]);
                if g.chance(0.5) {
                    format!("{} minutes", minute_words(m))
                } else {
                    format!("{m} minutes")
                }
            }
            2 => g.one(&["half an hour", "an hour", "an hour and a half", "a quarter of an hour"]),
            3 => {
                let h = g.range(2, 4);
                format!("{} hours", count(g, h))
            }
            _ => {
                let m = g.pick(&[5, 10, 15, 20, 30, 35, 50]);
                format!("{m} minutes")
            }
        })
    }

    /// A short wait in minutes ("10 minutes", "fifteen minutes").
    pub fn minutes(&mut self) -> String {
        self.fresh(|g| {
            let m = g.pick(&[5, 10, 15, 20, 25]);
            if g.chance(0.5) {
                format!("{m} minutes")
            } else {
                format!("{} minutes", minute_words(m))
            }
        })
    }

    /// A number in `lo..=hi` that no other number of the text equals, as
    /// digits or (up to twelve) a word.
    pub fn number(&mut self, lo: u32, hi: u32) -> String {
        let n = self.new_number(lo, hi);
        count(self, n)
    }

    /// [`Gen::number`], always as digits.
    pub fn digits(&mut self, lo: u32, hi: u32) -> String {
        self.new_number(lo, hi).to_string()
    }

    fn new_number(&mut self, lo: u32, hi: u32) -> u32 {
        let mut n = self.range(lo, hi);
        for _ in 0..60 {
            if !self.used.contains(&n.to_string()) {
                break;
            }
            n = self.range(lo, hi);
        }
        self.claim(&n.to_string());
        if let Some(w) = words::NUMBER_WORDS.get(n as usize) {
            self.claim(w);
        }
        n
    }

    /// A price: "£3.50", "$12", "€4.20", "75p", in the text's one
    /// currency.
    pub fn price(&mut self, lo: u32, hi: u32) -> String {
        let cur = match self.currency {
            Some(c) => c,
            None => {
                let c = self.pick(&["£", "£", "$", "€"]);
                self.currency = Some(c);
                c
            }
        };
        self.distinct(|g| {
            let whole = g.range(lo, hi);
            let pence = if g.chance(0.5) { 0 } else { g.pick(&[20, 25, 50, 75, 99]) };
            if whole == 0 && cur == "£" {
                format!("{}p", pence.max(20))
            } else if whole == 0 {
                format!("{cur}0.{:02}", pence.max(20))
            } else if pence == 0 {
                format!("{cur}{whole}")
            } else {
                format!("{cur}{whole}.{pence:02}")
            }
        })
    }

    /// A made-up phone number (UK drama range or US 555).
    pub fn phone(&mut self) -> String {
        self.fresh(|g| {
            if g.chance(0.6) {
                format!("07700 900 {:03}", g.range(0, 999))
            } else {
                format!("555-01{:02}", g.range(0, 99))
            }
        })
    }
}

/// Day `d` of month `month` (0 for January) in one of four styles.
fn date_text(d: u32, month: usize, style: u32) -> String {
    let month = words::MONTHS[month];
    match style {
        0 => format!("{d} {month}"),
        1 => format!("the {} of {month}", ordinal(d)),
        2 => format!("{month} {d}"),
        _ => format!("{} {month}", ordinal(d)),
    }
}

/// "in Holm Park", "on Brindle Island": the preposition a place name takes.
pub fn at_place(place: &str) -> String {
    let on = ["Island", "Hill", "Beach", "Street", "Road", "Lane", "Avenue", "Way", "Row"]
        .iter()
        .any(|w| place.ends_with(w));
    format!("{} {place}", if on { "on" } else { "in" })
}

/// Does `hay` contain `needle` with no letter or digit just before or after
/// it ("mill" in "the old mill", not "ann" in "anna")?
pub fn contains_word(hay: &str, needle: &str) -> bool {
    !needle.is_empty() && word_starts(hay, needle).next().is_some()
}

/// Where `needle` starts in `hay` as a whole word: no letter or digit right
/// before or after it ("dog's" counts, "dogs" and "hotdog" do not).
pub fn word_starts<'a>(hay: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    hay.match_indices(needle).map(|(i, _)| i).filter(move |&i| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// `text` with every whole-word `from` (see [`word_starts`]) made `first`
/// at its first place and `rest` after it.
pub fn replace_word(text: &str, from: &str, first: &str, rest: &str) -> String {
    let mut out = String::with_capacity(text.len() + first.len());
    let mut last = 0;
    for (k, i) in word_starts(text, from).collect::<Vec<_>>().into_iter().enumerate() {
        out.push_str(&text[last..i]);
        out.push_str(if k == 0 { first } else { rest });
        last = i + from.len();
    }
    out.push_str(&text[last..]);
    out
}

/// `n` as digits or, now and then for small numbers, as a word.
pub fn count(g: &mut Gen, n: u32) -> String {
    if n <= 12 && g.chance(0.5) {
        words::NUMBER_WORDS[n as usize].into()
    } else {
        n.to_string()
    }
}

pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `word` with "a" or "an" before it ("an orange kite", "a unicorn").
pub fn a_or_an(word: &str) -> String {
    format!("{} {word}", article(word))
}

/// "an" before a vowel sound, "a" before the rest. The sound is guessed from
/// the spelling: a vowel letter, except the "you" sound of "uni-", "use",
/// "usu-" and "uti-" ("a uniform", "a useful box"), and the silent h of
/// "hour", "honest", "honour" and "heir".
pub fn article(word: &str) -> &'static str {
    let w = word.to_lowercase();
    let you = ["uni", "use", "usu", "uti"].iter().any(|p| w.starts_with(p));
    let silent_h = ["hour", "honest", "honour", "heir"].iter().any(|p| w.starts_with(p));
    let vowel = w.starts_with(['a', 'e', 'i', 'o', 'u']);
    if (vowel && !you) || silent_h {
        "an"
    } else {
        "a"
    }
}

pub use crate::data::case::upper_first;

/// "Kofi's", "Thomas'" is left as "Thomas's" (the house style of notes).
pub fn poss(name: &str) -> String {
    format!("{name}'s")
}

/// One question of a text, answerable or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Qa {
    pub kind: Kind,
    pub question: String,
    pub answer: String,
    /// For an unanswerable question: the value the text would need, drawn
    /// but never written; it may not occur in the text as a whole word.
    pub gold: Option<String>,
    /// For an unanswerable question: words that would state the answer;
    /// none may occur anywhere in the text.
    pub cues: Vec<String>,
    /// For an unanswerable question: why the text does not answer it.
    pub reason: Option<&'static str>,
}

/// What a template makes: lines, questions about them, unanswerable
/// questions. Checked (answers are spans, gold facts absent) by the caller.
#[derive(Debug, Default)]
pub struct Draft {
    pub lines: Vec<String>,
    pub qas: Vec<Qa>,
    pub unknowns: Vec<Qa>,
}

impl Draft {
    pub fn line(&mut self, s: impl Into<String>) {
        self.lines.push(s.into());
    }

    /// A question of `kind` answered by `answer`, in one of `wordings`.
    pub fn ask(&mut self, g: &mut Gen, kind: Kind, answer: &str, wordings: &[String]) {
        let q = g.pick(wordings);
        let question = casual(&mut g.rng, q);
        self.qas.push(Qa { kind, question, answer: answer.to_string(), gold: None, cues: Vec::new(), reason: None });
    }

    /// An unanswerable question in one of `wordings`: the text never states
    /// the value `gold` draws, and none of `cues` (words that would state
    /// it) may occur.
    pub fn unknown(
        &mut self,
        g: &mut Gen,
        reason: &'static str,
        gold: impl FnOnce(&mut Gen) -> String,
        cues: &[&str],
        wordings: &[String],
    ) {
        let gold = gold(g);
        let q = g.pick(wordings);
        let question = casual(&mut g.rng, q);
        self.unknowns.push(Qa {
            kind: Kind::Unanswerable,
            question,
            answer: UNKNOWN_ANSWER.to_string(),
            gold: Some(gold),
            cues: cues.iter().map(|c| c.to_string()).collect(),
            reason: Some(reason),
        });
    }
}

/// Casual typing now and then: a contraction ("what's", "wheres", "what
/// time's"), no question mark, all lower case.
pub fn casual(rng: &mut ChaCha8Rng, q: String) -> String {
    const SHORT: &[(&str, &[&str])] = &[
        ("What time is ", &["What time's "]),
        ("What is ", &["What's ", "Whats "]),
        ("Where is ", &["Where's ", "Wheres "]),
        ("Who is ", &["Who's "]),
        ("When is ", &["When's "]),
        ("How much is ", &["How much's "]),
    ];
    let mut q = q;
    if rng.gen_bool(0.35) {
        if let Some((from, to)) = SHORT.iter().find(|(from, _)| q.starts_with(from)) {
            let to = to[rng.gen_range(0..to.len())];
            q = format!("{to}{}", &q[from.len()..]);
        }
    }
    let roll: f64 = rng.gen();
    if roll < 0.08 {
        q.to_lowercase().trim_end_matches('?').to_string()
    } else if roll < 0.12 {
        q.trim_end_matches('?').to_string()
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_article_follows_the_sound_not_the_letter() {
        for (word, want) in [
            ("orange kite", "an orange kite"),
            ("Umbrella", "an Umbrella"),
            ("umbrella", "an umbrella"),
            ("unicorn", "a unicorn"),
            ("useful box", "a useful box"),
            ("hour", "an hour"),
            ("hat", "a hat"),
            ("", "a "),
        ] {
            assert_eq!(a_or_an(word), want);
        }
    }

    #[test]
    fn clock_times_read_as_people_write_them() {
        let c = |h, m| Clock { h, m };
        assert_eq!(c(8, 15).format(TimeStyle::Colon), "8:15");
        assert_eq!(c(20, 5).format(TimeStyle::DotAmPm), "8.05pm");
        assert_eq!(c(9, 0).format(TimeStyle::DotAmPm), "9am");
        assert_eq!(c(15, 30).format(TimeStyle::Words), "half past three");
        assert_eq!(c(8, 45).format(TimeStyle::Words), "quarter to nine");
        assert_eq!(c(11, 50).format(TimeStyle::Words), "ten to twelve");
        assert_eq!(c(12, 0).format(TimeStyle::Words), "noon");
        assert_eq!(c(6, 25).format(TimeStyle::Words), "twenty-five past six");
        assert_eq!(c(7, 5).format(TimeStyle::H24), "07:05");
        assert_eq!(c(0, 10).format(TimeStyle::SpaceAmPm), "12:10 am");
        assert_eq!(number_words(45), "forty-five");
        assert_eq!(number_words(30), "thirty");
    }

    #[test]
    fn fresh_values_never_overlap() {
        let mut g = Gen::new(ChaCha8Rng::seed_from_u64(5));
        let mut seen: Vec<String> = Vec::new();
        for _ in 0..40 {
            let v = g.time(6, 20, TimeStyle::H24);
            assert!(!seen.iter().any(|s| contains_word(s, &v) || contains_word(&v, s)), "{v} {seen:?}");
            seen.push(v);
        }
    }
}
