//! Templates of notes people leave each other: a fridge or family note
//! (who picks a child up and when, where a thing was left, what to wear and
//! do, when the writer is back) and text messages (running late, an errand,
//! a plan that changed).
//!
//! Each template draws its people, places, times and things from [`Gen`],
//! writes one of several phrasings of each sentence (some sentences only
//! now and then), and asks about every fact in one of several wordings that
//! differ from the sentence. A sentence left out often leaves behind an
//! unanswerable question about it. The other template files follow the
//! same pattern.

use super::gen::{a_or_an, poss, upper_first, Draft, Gen, TimeStyle};
use super::words;
use super::Kind::*;

/// A family member or grown-up who writes a note.
fn family_writer(g: &mut Gen) -> String {
    g.fresh(|g| match g.range(0, 5) {
        0 | 1 => g.one(&["Mum", "Dad", "Mom", "Mama", "Papa"]),
        2 => g.one(&["Grandma", "Nana", "Granny", "Grandad"]),
        3 => format!("Auntie {}", g.pick(words::female())),
        4 => format!("Uncle {}", g.pick(words::male())),
        _ => g.pick(words::female()),
    })
}

/// A grown-up who helps out: "Grandpa", "Mrs Okafor", "Auntie Ngozi",
/// "Kwame's mum".
fn helper(g: &mut Gen) -> String {
    let kind = g.range(0, 5);
    match kind {
        0 => g.fresh(|g| g.one(&["Grandpa", "Grandma", "Nana", "Granny", "Uncle Bogdan", "Auntie Wiebke"])),
        1 => {
            let p = g.person();
            let role = if p.female { "Grandma" } else { "Grandpa" };
            let h = format!("{role} {}", p.name);
            g.claim(&h);
            h
        }
        2 | 3 => {
            let h = g.titled(&["Mrs", "Mr", "Ms"]);
            g.claim(&h);
            h
        }
        4 => {
            let p = g.person_one_word();
            let h = format!("{} mum", poss(&p.name));
            g.claim(&h);
            h
        }
        _ => {
            let p = g.person();
            let h = format!("Auntie {}", p.name);
            g.claim(&h);
            h
        }
    }
}

/// A fridge or family note: who picks a child up and when, where a thing
/// was left, what to wear and do, when the writer is back, who wrote it.
pub fn note(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let kid = g.person();
    let k = kid.name.clone();
    let w = family_writer(g);
    let h = helper(g);
    let style = g.casual_time_style();
    let t1 = g.time(14, 17, style);
    let t2 = g.time(17, 20, style);
    let school = g.fresh(|g| {
        g.one(&["school", "football practice", "swimming", "choir", "drama club", "the after-school club", "nursery"])
    });
    let mut body: Vec<String> = Vec::new();

    // Where the writer has gone, and why.
    let (errand, reason) = g.pick(words::ERRANDS);
    let mut errand_line = None;
    if g.chance(0.65) {
        let with_reason = g.chance(0.6);
        let r = if with_reason { format!(" {reason}") } else { String::new() };
        errand_line = Some(g.pick(&[
            format!("I've gone to {errand}{r}."),
            format!("I had to pop out to {errand}{r}."),
            format!("I'm at {errand}{r}."),
            format!("I've had to go to {errand}{r}."),
        ]));
        d.ask(
            g,
            Where,
            errand,
            &w![
                "Where has {w} gone?",
                "Where is {w} at the moment?",
                "Where did {w} go?",
                "Where is {w} right now?",
                "Where can {w} be found?",
            ],
        );
        if with_reason {
            d.ask(
                g,
                Why,
                reason,
                &w![
                    "Why did {w} go to {errand}?",
                    "Why has {w} gone out?",
                    "What is the reason {w} went to {errand}?",
                    "Why is {w} at {errand}?",
                    "Why did {w} have to go out?",
                ],
            );
        } else {
            d.unknown(
                g,
                "the note never says why the writer went out",
                |_| reason.to_string(),
                &["because", " so "],
                &w!["Why did {w} go to {errand}?", "Why has {w} gone to {errand}?", "Why did {w} need to go out?",],
            );
        }
    } else {
        d.unknown(
            g,
            "the note never says where the writer is",
            |_| errand.to_string(),
            &["gone to", "I'm at", "pop out", "went to", "go to"],
            &w!["Where has {w} gone?", "Where is {w} now?", "Where did {w} go this afternoon?", "where is {w}"],
        );
    }

    // The pick-up: who, when, from where.
    let hu = upper_first(&h);
    body.push(g.pick(&[
        format!("{hu} will pick you up from {school} at {t1}."),
        format!("{hu} is collecting you from {school} at {t1}."),
        format!("At {t1}, {h} will come and get you from {school}."),
        format!("{hu} is coming to fetch you from {school} at {t1}, so be ready."),
    ]));
    d.ask(
        g,
        Who,
        &h,
        &w![
            "Who is picking {k} up?",
            "Who will collect {k} from {school}?",
            "Who is coming to get {k}?",
            "Who is fetching {k} today?",
            "Who will {k} go home with?",
        ],
    );
    d.ask(
        g,
        When,
        &t1,
        &w![
            "What time will {h} pick {k} up?",
            "When is {k} being collected?",
            "What time is {h} coming for {k}?",
            "At what time will {k} be picked up?",
            "When does {h} get to {school}?",
        ],
    );
    d.ask(
        g,
        Where,
        &school,
        &w![
            "Where will {h} pick {k} up from?",
            "Where is {k} being collected from?",
            "From where will {h} collect {k}?",
            "Where is {h} getting {k} from?",
        ],
    );
    d.unknown(
        g,
        "no phone number is given",
        |g| g.phone(),
        &["phone", "number", "ring", "call", "text me"],
        &w![
            "What is {h}'s phone number?",
            "What number can {k} ring {h} on?",
            "What's {h}'s number?",
            "Which number should {k} call if {h} is late?",
        ],
    );

    // Something left for the child, often in a coloured container.
    let obj = g.object();
    let coloured = g.chance(0.7);
    let c1 = g.colour();
    let container = g.one(&["bag", "box", "basket", "tin", "tub"]);
    let spot = g.one(&["by the door", "on the top shelf", "under the stairs", "next to the kettle", "in the hall"]);
    let loc = if coloured {
        format!("in the {c1} {container} {spot}")
    } else {
        g.one(&["on the kitchen table", "in the drawer next to the sink", "on the hook in the hall", "on your bed"])
    };
    if g.chance(0.75) {
        body.push(g.pick(&[
            format!("Your {obj} is {loc}."),
            format!("I've put your {obj} {loc}."),
            format!("Don't forget your {obj}! It's {loc}."),
            format!("Your {obj} is {loc}, so take it with you."),
        ]));
        d.ask(
            g,
            Where,
            &loc,
            &w![
                "Where is {k}'s {obj}?",
                "Where did {w} put the {obj}?",
                "Where can {k} find the {obj}?",
                "Where should {k} look for the {obj}?",
                "Where is the {obj}?",
            ],
        );
        if coloured {
            d.ask(
                g,
                Colour,
                &c1,
                &w![
                    "What colour is the {container} with the {obj} in it?",
                    "Which colour {container} is the {obj} in?",
                    "The {obj} is in a {container} of what colour?",
                    "What colour {container} should {k} look in?",
                ],
            );
        }
    }

    // What to wear, and why.
    let wet = g.chance(0.5);
    let garment = if wet {
        g.fresh(|g| g.one(&["raincoat", "waterproof jacket", "rain hat"]))
    } else {
        g.fresh(|g| g.one(&["coat", "jumper", "scarf", "fleece", "woolly hat"]))
    };
    let c2 = g.colour();
    let wear_why = if wet {
        g.one(&["because it's going to rain", "so you don't get wet", "because it will pour later"])
    } else {
        g.one(&["because it's freezing out", "because it will be cold later", "because the wind is really cold today"])
    };
    if g.chance(0.5) {
        body.push(g.pick(&[
            format!("Wear your {c2} {garment} {wear_why}."),
            format!("Put on your {c2} {garment} {wear_why}."),
        ]));
        d.ask(
            g,
            Colour,
            &c2,
            &w![
                "What colour {garment} should {k} wear?",
                "What colour is the {garment} {w} wants {k} to wear?",
                "Which colour {garment} should {k} put on?",
                "What colour is {k}'s {garment}?",
            ],
        );
        d.ask(
            g,
            Why,
            &wear_why,
            &w![
                "Why should {k} wear the {garment}?",
                "Why does {w} want {k} to wear a {garment}?",
                "Why does {k} need the {c2} {garment}?",
                "What's the reason for wearing the {garment}?",
            ],
        );
    }

    // A job to do.
    if g.chance(0.6) {
        let pet_task = g.chance(0.35);
        let (task, animal) = if pet_task {
            g.pick(&[
                ("feed the cat", "cat"),
                ("walk the dog", "dog"),
                ("give the rabbit some fresh water", "rabbit"),
                ("let the dog out", "dog"),
                ("feed the fish", "fish"),
            ])
        } else {
            ("", "")
        };
        let task = if pet_task { task.to_string() } else { g.pick(words::tasks()) };
        match g.range(0, 2) {
            0 => {
                body.push(format!("Please {task} before {h} gets here."));
                d.ask(
                    g,
                    Should,
                    &task,
                    &w![
                        "What should {k} do before {h} arrives?",
                        "What does {w} want done before {h} comes?",
                        "What must {k} do before being picked up?",
                        "Before {h} comes, what should {k} do?",
                    ],
                );
            }
            1 => {
                body.push(format!("Can you {task} when you get in?"));
                d.ask(
                    g,
                    Should,
                    &task,
                    &w![
                        "What should {k} do after getting home?",
                        "What does {w} ask {k} to do on getting in?",
                        "What job should {k} do on getting in?",
                        "What is {k} asked to do once home?",
                    ],
                );
            }
            _ => {
                body.push(g.pick(&[format!("Remember to {task}!"), format!("Don't forget to {task}, please.")]));
                d.ask(
                    g,
                    Should,
                    &task,
                    &w![
                        "What should {k} remember to do?",
                        "What must {k} not forget to do?",
                        "What does {w} remind {k} to do?",
                        "What job does the note remind {k} about?",
                    ],
                );
            }
        }
        if pet_task {
            d.unknown(
                g,
                "the pet is not named",
                |g| g.pet_name(),
                &["called", "named", "name"],
                &w![
                    "What is the {animal} called?",
                    "What's the {animal}'s name?",
                    "What is the name of the {animal}?",
                    "whats the {animal} called",
                ],
            );
        }
    }

    // When the writer is back, or when dinner is.
    match g.range(0, 2) {
        0 => {
            body.push(g.pick(&[
                format!("I'll be back by {t2}."),
                format!("I should be home around {t2}."),
                format!("I'll be home at {t2}."),
            ]));
            d.ask(
                g,
                When,
                &t2,
                &w![
                    "When will {w} be back?",
                    "What time will {w} get home?",
                    "When is {w} coming home?",
                    "By what time will {w} be home?",
                    "what time is {w} back",
                ],
            );
        }
        1 => {
            body.push(g.pick(&[format!("Dinner is at {t2}."), format!("We'll have dinner at {t2}.")]));
            d.ask(
                g,
                When,
                &t2,
                &w![
                    "What time is dinner?",
                    "When is dinner?",
                    "When will they have dinner?",
                    "At what time is dinner?"
                ],
            );
        }
        _ => d.unknown(
            g,
            "the note never says when the writer is back",
            |_| t2.to_string(),
            &["back", "be home", "home by", "home at", "home around"],
            &w!["What time will {w} be home?", "When will {w} get back?", "When is {w} coming home?"],
        ),
    }

    g.shuffle(&mut body);
    body.splice(0..0, errand_line);
    let greeting = g.pick(&[format!("{k},"), format!("Dear {k},"), format!("Hi {k}!"), format!("Morning {k}!")]);
    let sign = g.pick(&[
        format!("Love, {w}"),
        format!("{w} x"),
        format!("- {w}"),
        format!("Thanks! {w}"),
        format!("See you later, {w}"),
    ]);
    d.line(greeting);
    d.line(body.join(" "));
    d.line(sign);
    d.ask(
        g,
        Who,
        &w,
        &w![
            "Who wrote the note?",
            "Who is the note from?",
            "Who left this note for {k}?",
            "Who signed the note?",
            "Who wrote to {k}?"
        ],
    );
    d.ask(
        g,
        Who,
        &k,
        &w![
            "Who is the note for?",
            "Who is this note written to?",
            "Who should read this note?",
            "Who is the note addressed to?"
        ],
    );
    d
}

/// A text message: running late, an errand, or a plan that changed.
pub fn message(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let sp = g.person();
    let s = sp.name.clone();
    let r = g.person().name;
    let style = g.casual_time_style();
    let sent_style = if g.chance(0.5) { TimeStyle::SpaceAmPm } else { TimeStyle::H24 };
    let variant = g.range(0, 2);
    // Sent shortly before what it is about: the arrival, the shop closing.
    let hour = g.range(9, 19);
    let sent = if variant == 2 { g.time(7, 11, sent_style) } else { g.time(hour - 2, hour - 1, sent_style) };
    let mut body = Vec::new();
    match variant {
        0 => {
            let reason = g.pick(words::LATE_REASONS);
            let t = g.time(hour, hour, style);
            let place = g.cafe();
            let place0 = g.fresh(|g| {
                g.pick(
                    &["the ticket office", "the clock tower", "the car park", "the main entrance", "the fountain"]
                        .map(String::from),
                )
            });
            body.push(g.pick(&[
                format!("Hi {r}, I'm running late {reason}."),
                format!("Sorry {r}! Going to be late {reason}."),
            ]));
            body.push(g.pick(&[
                format!("I should get in at {t}."),
                format!("I'll arrive at about {t}."),
                format!("Now getting in at {t}."),
            ]));
            body.push(g.pick(&[
                format!("Can we meet at {place} instead of {place0}?"),
                format!("Let's meet at {place}, not {place0}."),
            ]));
            d.ask(
                g,
                Who,
                &s,
                &w!["Who is running late?", "Who sent the message?", "Who will be late?", "Who is the text from?"],
            );
            d.ask(
                g,
                Who,
                &r,
                &w!["Who is the message to?", "Who did {s} text?", "Who is {s} writing to?", "Who gets this message?"],
            );
            d.ask(
                g,
                Why,
                reason,
                &w!["Why is {s} late?", "Why will {s} be late?", "What is making {s} late?", "Why is {s} delayed?"],
            );
            d.ask(
                g,
                When,
                &t,
                &w![
                    "When will {s} get in?",
                    "What time will {s} arrive?",
                    "What time is {s} getting there?",
                    "When does {s} expect to arrive?",
                    "When will {s} turn up?",
                ],
            );
            d.ask(
                g,
                Where,
                &place,
                &w![
                    "Where does {s} want to meet now?",
                    "Where should {r} meet {s}?",
                    "Where are they meeting instead?",
                    "What is the new meeting place?",
                ],
            );
            d.ask(
                g,
                Where,
                &place0,
                &w![
                    "Where were they going to meet before?",
                    "Where was the first meeting place?",
                    "Where had they planned to meet?",
                    "Which meeting place does {s} not want any more?",
                ],
            );
            if g.chance(0.5) {
                let c = g.colour();
                let obj = g.object();
                body.push(format!("Can you bring my {c} {obj}? I left it at yours."));
                d.ask(
                    g,
                    Should,
                    &format!("{c} {obj}"),
                    &w![
                        "What should {r} bring?",
                        "What does {s} ask {r} to bring?",
                        "What did {s} leave at {r}'s place?",
                        "What does {s} want {r} to bring along?",
                    ],
                );
                d.ask(
                    g,
                    Colour,
                    &c,
                    &w![
                        "What colour is {s}'s {obj}?",
                        "What colour {obj} does {s} want?",
                        "Which colour is the {obj} {s} left behind?",
                        "What colour is the {obj} {r} should bring?",
                    ],
                );
            }
            d.unknown(
                g,
                "the message never says how late",
                |g| g.minutes(),
                &["minute", "hour"],
                &w![
                    "How late will {s} be?",
                    "How many minutes late is {s}?",
                    "How long is the delay?",
                    "By how much is {s} late?"
                ],
            );
            let town = g.town();
            d.unknown(
                g,
                "the message never says where the writer is coming from",
                |_| town.to_string(),
                &["coming from", "travelling from", "leaving", "on my way from"],
                &w!["Where is {s} coming from?", "Where is {s} travelling from?", "Which town is {s} leaving from?"],
            );
        }
        1 => {
            let food = g.food();
            let n = g.number(2, 12);
            let street = g.street();
            let t = g.time(hour, hour + 1, style);
            let c = g.colour();
            let holder = g.one(&["tin", "jar", "envelope", "purse"]);
            let a_holder = a_or_an(&holder);
            let spot = g.one(&["on the shelf", "by the microwave", "in the top drawer", "behind the radio"]);
            let money_loc = format!("in the {c} {holder} {spot}");
            body.push(g.pick(&[
                format!("Hi {r}! Can you pick up {n} {food} on your way home?"),
                format!("{r}, could you grab {n} {food} on the way back?"),
                format!("Hey {r}, please buy {n} {food} before you come home."),
            ]));
            body.push(g.pick(&[
                format!("The shop on {street} closes at {t}, so go there first."),
                format!("The shop on {street} shuts at {t}."),
            ]));
            body.push(g.pick(&[format!("The money is {money_loc}."), format!("There's money {money_loc}.")]));
            d.ask(
                g,
                HowMany,
                &n,
                &w![
                    "How many {food} should {r} buy?",
                    "How many {food} does {s} want?",
                    "How many {food} are needed?",
                    "how many {food}",
                    "How many {food} should {r} get?",
                ],
            );
            d.ask(
                g,
                When,
                &t,
                &w![
                    "When does the shop close?",
                    "What time does the shop on {street} shut?",
                    "Until what time is the shop open?",
                    "What time is the shop closing?",
                ],
            );
            d.ask(
                g,
                Where,
                &street,
                &w![
                    "Which street is the shop on?",
                    "Where is the shop?",
                    "On which street is the shop?",
                    "Where's the shop {s} means?"
                ],
            );
            d.ask(
                g,
                Where,
                &money_loc,
                &w![
                    "Where is the money?",
                    "Where can {r} find the money?",
                    "Where did {s} leave the money?",
                    "Where is the money kept?"
                ],
            );
            d.ask(
                g,
                Colour,
                &c,
                &w![
                    "What colour is the {holder} with the money?",
                    "Which colour {holder} is the money in?",
                    "The money is in {a_holder} of what colour?",
                    "What colour is the money {holder}?",
                ],
            );
            d.ask(
                g,
                Who,
                &s,
                &w!["Who sent the message?", "Who wants the {food}?", "Who is the text from?", "Who wrote this?"],
            );
            d.unknown(
                g,
                "the amount of money is not given",
                |g| g.price(5, 30),
                &["£", "$", "€", "pound", "dollar", "euro"],
                &w!["How much money is there?", "How much money did {s} leave?", "How much is in the {holder}?"],
            );
        }
        _ => {
            let event = g.fresh(|g| {
                g.one(&[
                    "football practice",
                    "choir",
                    "book club",
                    "swimming",
                    "band practice",
                    "chess club",
                    "drama rehearsal",
                ])
            });
            // Only football has a pitch to flood.
            let why = loop {
                let why = g.pick(words::CLOSE_REASONS);
                if event == "football practice" || !why.contains("pitch") {
                    break why;
                }
            };
            let day = g.day();
            let t = g.time(15, 20, style);
            let coach = g.titled(&["Mrs", "Mr", "Ms"]);
            let obj = g.one(&["water bottle", "kit", "towel", "music folder", "packed lunch", "pencil case"]);
            body.push(g.pick(&[
                format!("Hey {r}, {event} is cancelled today {why}."),
                format!("{r}, no {event} today {why}."),
                format!("Hi {r}! {} is off today {why}.", upper_first(&event)),
            ]));
            body.push(
                g.pick(&[format!("It's moved to {day} at {t}."), format!("We're doing it on {day} at {t} instead.")]),
            );
            body.push(format!("{coach} says to bring your {obj}."));
            body.push(g.one(&["See you then!", "Pass it on!", "Don't be late!"]));
            d.ask(
                g,
                Why,
                why,
                &w![
                    "Why is {event} cancelled?",
                    "Why has {event} been called off?",
                    "Why isn't there {event} today?",
                    "What's the reason {event} is off today?",
                ],
            );
            d.ask(
                g,
                When,
                &day,
                &w![
                    "What day has {event} moved to?",
                    "Which day is {event} on now?",
                    "Which day will {event} happen instead?",
                    "On what day is {event} now?",
                ],
            );
            d.ask(
                g,
                When,
                &t,
                &w![
                    "What time is {event} on {day}?",
                    "At what time is the new {event}?",
                    "When does {event} start on {day}?",
                    "What time should {r} come on {day}?"
                ],
            );
            d.ask(
                g,
                Who,
                &coach,
                &w![
                    "Who says to bring the {obj}?",
                    "Who wants everyone to bring their {obj}?",
                    "Who asked for the {obj}?",
                    "Who told them what to bring?",
                ],
            );
            d.ask(
                g,
                Should,
                &obj,
                &w![
                    "What should {r} bring?",
                    "What do they need to bring on {day}?",
                    "What should everyone bring next time?",
                    "What does {coach} want people to bring?",
                ],
            );
            d.unknown(
                g,
                "the new place is not given",
                |g| g.venue(),
                &["held at", "in the", "at the", "meet at"],
                &w!["Where will {event} be on {day}?", "Where is the new {event}?", "Where should {r} go on {day}?"],
            );
        }
    }
    d.ask(
        g,
        When,
        &sent,
        &w![
            "When was the message sent?",
            "What time did {s} send the text?",
            "At what time was the message written?",
            "When did {s} send this?"
        ],
    );
    if g.chance(0.5) {
        d.line(format!("Text from {s}, {sent}:"));
        d.line(body.join(" "));
    } else {
        d.line(format!("Message sent {sent}"));
        d.line(body.join(" "));
        d.line(format!("- {s}"));
    }
    d
}
