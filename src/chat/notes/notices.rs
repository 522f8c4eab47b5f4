//! Templates of notices (a block of flats, a school, an office) and
//! posters (a lost pet, an event).

use super::gen::{a_or_an, ordinal, upper_first, Draft, Gen, TimeStyle};
use super::words;
use super::Kind::*;

/// A notice in a block of flats, a school or an office.
pub fn notice(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let style = g.time_style();
    match g.range(0, 2) {
        0 => water_notice(g, &mut d, style),
        1 => school_notice(g, &mut d, style),
        _ => staff_notice(g, &mut d, style),
    }
    d
}

/// A notice to residents: the water switched off for a day.
fn water_notice(g: &mut Gen, d: &mut Draft, style: TimeStyle) {
    let block = g.fresh(|g| format!("{} {}", g.town(), g.one(&["House", "Court", "Tower", "Mansions"])));
    let day = g.day();
    let t1 = g.time(8, 11, style);
    let t2 = g.time(13, 17, style);
    let why = g.one(&[
        "because the pipes are being fixed",
        "because a new water tank is being fitted",
        "because of a burst water main",
        "because the water meters are being changed",
        "because the boiler is being replaced",
    ]);
    let bins = g.day();
    let old_bins = g.day();
    let caretaker = g.person().name;
    let flat = g.digits(1, 60);
    d.line(format!("NOTICE TO RESIDENTS OF {}", block.to_uppercase()));
    let mut body = vec![
        g.pick(&[
            format!("The water will be switched off on {day} from {t1} until {t2} {why}."),
            format!("On {day} there will be no water from {t1} to {t2} {why}."),
        ]),
        g.pick(&[
            format!("From next week, bins go out on {bins} mornings, not {old_bins}."),
            format!("Please note that bin day is now {bins} instead of {old_bins}."),
        ]),
        format!("If you need help, ask the caretaker, {caretaker}, in flat {flat}."),
    ];
    g.shuffle(&mut body[1..]);
    for b in body {
        d.line(b);
    }
    d.ask(
        g,
        When,
        &day,
        &w![
            "Which day will the water be off?",
            "On what day is there no water?",
            "Which day is the water being switched off?",
            "What day will the taps be dry?"
        ],
    );
    d.ask(
        g,
        When,
        &t1,
        &w![
            "What time does the water go off?",
            "From what time is there no water?",
            "At what time will the water be turned off?",
            "At what time is the water cut?"
        ],
    );
    d.ask(
        g,
        When,
        &t2,
        &w![
            "When will the water come back on?",
            "Until what time is the water off?",
            "What time will the water be back?",
            "When can residents use the taps again?"
        ],
    );
    d.ask(
        g,
        Why,
        &why,
        &w![
            "Why is the water being switched off?",
            "Why will there be no water?",
            "What's the reason the water is off?",
            "Why are they turning the water off?"
        ],
    );
    d.ask(
        g,
        When,
        &bins,
        &w![
            "What day do the bins go out now?",
            "When is bin day now?",
            "Which day should bins be put out?",
            "On what day are the bins collected now?"
        ],
    );
    d.ask(
        g,
        When,
        &old_bins,
        &w![
            "What day did the bins use to go out?",
            "What was the old bin day?",
            "Which day is no longer bin day?",
            "When were bins put out before?"
        ],
    );
    d.ask(
        g,
        Who,
        &caretaker,
        &w![
            "Who is the caretaker?",
            "Who can residents ask for help?",
            "Who should you go to if you need help?",
            "What is the caretaker's name?"
        ],
    );
    d.ask(
        g,
        Where,
        &format!("flat {flat}"),
        &w![
            "Where does the caretaker live?",
            "Where can the caretaker be found?",
            "Which flat is the caretaker in?",
            "Where should residents go for help?"
        ],
    );
    d.unknown(
        g,
        "no phone number is given",
        |g| g.phone(),
        &["phone", "call", "ring", "number"],
        &w![
            "What is the caretaker's phone number?",
            "What number can residents call?",
            "How do you phone {caretaker}?",
            "What's the caretaker's number?"
        ],
    );
}

/// A school's notice to parents: closing early, and the summer fair.
fn school_notice(g: &mut Gen, d: &mut Draft, style: TimeStyle) {
    let school = format!("{} Primary School", g.town());
    g.claim(&school);
    let date = g.date();
    let t = g.time(12, 14, style);
    let why = g.pick(&[
        "because the teachers have a training day",
        "because the power will be off",
        "because the boiler is being replaced",
        "so the hall can be set up for the concert",
    ]);
    let fair = g.date_in(&[5, 6]);
    let col = g.colour();
    let gate = g.one(&["gate", "doors", "fence", "shed"]);
    let item = g.one(&["clean jam jars", "old books", "unwanted toys", "homemade cakes", "plant cuttings"]);
    let by = g.day();
    let office = g.titled(&["Mrs", "Mr", "Ms"]);
    d.line(format!("{school}: notice to parents"));
    let mut body = [
        format!("School will close early at {t} on {date} {why}."),
        format!("The summer fair is on {fair}, on the field behind the {col} {gate}."),
        format!("Please send in {item} by {by} for the fair."),
        format!("Any questions, please ask {office} in the school office."),
    ];
    g.shuffle(&mut body[1..]);
    d.line(body.join(" "));
    d.ask(
        g,
        When,
        &t,
        &w![
            "What time does school close on {date}?",
            "When will school finish early?",
            "At what time should children be collected on {date}?",
            "What time is the early finish?"
        ],
    );
    d.ask(
        g,
        When,
        &date,
        &w![
            "On what date does school close early?",
            "Which day is the early finish?",
            "When is school closing early?",
            "What date is the early closing?"
        ],
    );
    d.ask(
        g,
        Why,
        why,
        &w![
            "Why is school closing early?",
            "Why will school finish early?",
            "What's the reason for the early finish?",
            "Why does school shut early that day?"
        ],
    );
    d.ask(
        g,
        When,
        &fair,
        &w![
            "When is the summer fair?",
            "What date is the fair?",
            "On which date is the summer fair held?",
            "When's the fair?"
        ],
    );
    d.ask(
        g,
        Where,
        &format!("on the field behind the {col} {gate}"),
        &w![
            "Where is the summer fair?",
            "Where will the fair be held?",
            "Where does the fair take place?",
            "Where is the fair?"
        ],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour is the {gate} by the field?",
            "What colour {gate} is the fair behind?",
            "Which colour {gate} should people look for?",
            "What colour is the {gate}?"
        ],
    );
    d.ask(
        g,
        Should,
        &item,
        &w![
            "What should parents send in?",
            "What does the school want for the fair?",
            "What are parents asked to give?",
            "What should families bring in for the fair?"
        ],
    );
    d.ask(
        g,
        When,
        &by,
        &w![
            "By when should things be sent in?",
            "What day is the deadline for the {item}?",
            "By which day should the {item} arrive?",
            "When should parents send things in by?"
        ],
    );
    d.ask(
        g,
        Name,
        &school,
        &w![
            "What is the school called?",
            "What's the name of the school?",
            "Which school sent the notice?",
            "What school is this notice from?"
        ],
    );
    d.ask(
        g,
        Who,
        &office,
        &w![
            "Who should parents ask?",
            "Who answers questions?",
            "Who is in the school office?",
            "Who can parents talk to about the notice?"
        ],
    );
    d.unknown(
        g,
        "the fair's times are not given",
        |g| g.time(10, 12, style),
        &["start", "begin", "open", "o'clock", " from "],
        &w!["What time does the fair start?", "When does the summer fair open?", "At what time does the fair begin?"],
    );
}

/// A notice to office staff: the kitchen closed, a fire-alarm test, lost property.
fn staff_notice(g: &mut Gen, d: &mut Draft, style: TimeStyle) {
    let floor = g.number(2, 6);
    let other = ordinal(g.range(7, 12));
    g.claim(&other);
    let until = g.day();
    let why = g.pick(words::CLOSE_REASONS);
    let test_day = g.day();
    let t = g.time(9, 16, style);
    let col = g.colour();
    let obj = g.object();
    let room = g.fresh(|g| format!("meeting room {}", g.range(1, 30)));
    let recep = g.person().name;
    d.line(format!("To all staff on floor {floor}:"));
    let mut body = vec![
        format!("The kitchen on this floor is closed until {until} {why}. Please use the one on the {other} floor."),
        format!("The fire alarm will be tested on {test_day} at {t}. You do not need to leave the building."),
        format!(
            "Lost property: {} {obj} was found in {room}. Please collect it from {recep} at reception.",
            a_or_an(&col)
        ),
    ];
    g.shuffle(&mut body);
    for b in body {
        d.line(b);
    }
    d.ask(
        g,
        When,
        &until,
        &w![
            "Until when is the kitchen closed?",
            "When will the kitchen open again?",
            "How long is the kitchen shut for, until which day?",
            "Until what day is the kitchen closed?"
        ],
    );
    d.ask(
        g,
        Why,
        why,
        &w![
            "Why is the kitchen closed?",
            "Why can't staff use their kitchen?",
            "What is the reason the kitchen is shut?",
            "Why has the kitchen closed?"
        ],
    );
    d.ask(
        g,
        Where,
        &format!("the {other} floor"),
        &w![
            "Where should staff make tea this week?",
            "Which kitchen should staff use?",
            "Where is the open kitchen?",
            "Which floor's kitchen can staff use?"
        ],
    );
    d.ask(
        g,
        When,
        &t,
        &w![
            "What time is the fire alarm test?",
            "When will the alarm be tested?",
            "At what time will the fire alarm go off?",
            "What time's the alarm test?"
        ],
    );
    d.ask(
        g,
        When,
        &test_day,
        &w![
            "Which day is the fire alarm test?",
            "On what day will the alarm be tested?",
            "What day is the alarm test?",
            "What day is the fire alarm test on?"
        ],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour is the lost {obj}?",
            "What colour {obj} was found?",
            "Which colour is the {obj} at reception?",
            "What colour was the {obj}?"
        ],
    );
    d.ask(
        g,
        Where,
        &room,
        &w![
            "Where was the {obj} found?",
            "In which room was the {obj} left?",
            "Where did someone find the {obj}?",
            "Where had the {obj} been left?"
        ],
    );
    d.ask(
        g,
        Who,
        &recep,
        &w![
            "Who has the lost {obj}?",
            "Who should the owner see about the {obj}?",
            "Who is at reception?",
            "Who do you collect the {obj} from?"
        ],
    );
    d.unknown(
        g,
        "the test's length is not given",
        |g| g.minutes(),
        &["minute", "second", "hour", "last"],
        &w![
            "How long will the fire alarm test last?",
            "How long does the alarm ring for?",
            "How many minutes is the test?"
        ],
    );
}

/// A poster: a lost pet or an event.
pub fn poster(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    if g.chance(0.5) {
        let animal = g.one(&["cat", "dog", "rabbit"]);
        let wear = if animal == "rabbit" { "harness" } else { "collar" };
        let pet = g.pet_name();
        let female = g.chance(0.5);
        let she = if female { "she" } else { "he" };
        let size = g.one(&["small", "large", "young", "fluffy", "shy"]);
        let col = g.fresh(|g| match animal.as_str() {
            "cat" => g.one(&["black", "white", "grey", "ginger", "tabby", "cream"]),
            "dog" => g.one(&["black", "brown", "golden", "white", "grey", "sandy"]),
            _ => g.one(&["white", "grey", "brown", "black", "cream"]),
        });
        let collar = g.colour();
        let place = if g.chance(0.5) { g.street() } else { g.outdoor_place() };
        let day = g.day();
        let owner = g.person().name;
        let phone = g.phone();
        let with_phone = g.chance(0.7);
        let reward = g.price(10, 100);
        let shop = g.cafe();
        let fear = g.pick(words::FEARS);
        d.line(format!("LOST {}", animal.to_uppercase()));
        let mut lines = vec![
            g.pick(&[format!("Have you seen {pet}?"), format!("Please help us find {pet}!")]),
            format!("{} is a {size} {col} {animal} with {} {wear}.", upper_first(she), a_or_an(&collar)),
            g.pick(&[
                format!("{} went missing near {place} on {day} evening.", upper_first(she)),
                format!("Last seen near {place} on {day}."),
            ]),
            format!("{} is friendly but scared of {fear}.", upper_first(she)),
        ];
        g.shuffle(&mut lines[2..]);
        for l in lines {
            d.line(l);
        }
        if with_phone {
            d.line(format!("If you find {}, please call {owner} on {phone}.", if female { "her" } else { "him" }));
        } else {
            d.line(format!("If you find {}, please tell {owner} at {shop}.", if female { "her" } else { "him" }));
        }
        if g.chance(0.6) {
            d.line(format!("Reward: {reward}"));
            d.ask(
                g,
                HowMany,
                &reward,
                &w![
                    "How big is the reward?",
                    "How much is the reward?",
                    "How much will the finder get?",
                    "What is the reward?"
                ],
            );
        } else {
            d.unknown(
                g,
                "no reward is offered",
                |_| reward.to_string(),
                &["reward", "£", "$", "€"],
                &w!["How much is the reward?", "What reward is there?", "How much will {owner} pay the finder?"],
            );
        }
        d.ask(
            g,
            Name,
            &pet,
            &w![
                "What is the {animal} called?",
                "What's the lost {animal}'s name?",
                "What is the name of the missing {animal}?",
                "whats the {animal} called"
            ],
        );
        d.ask(
            g,
            Colour,
            &col,
            &w![
                "What colour is {pet}?",
                "What colour is the {animal}?",
                "What colour is the lost {animal}'s fur?",
                "Which colour is {pet}?"
            ],
        );
        d.ask(
            g,
            Colour,
            &collar,
            &w![
                "What colour is {pet}'s {wear}?",
                "What colour {wear} is {pet} wearing?",
                "Which colour is the {wear}?",
                "What colour is the {animal}'s {wear}?"
            ],
        );
        d.ask(
            g,
            Where,
            &place,
            &w![
                "Where did {pet} go missing?",
                "Where was {pet} last seen?",
                "Near where did {pet} get lost?",
                "Where was the {animal} lost?"
            ],
        );
        d.ask(
            g,
            When,
            &day,
            &w![
                "When did {pet} go missing?",
                "What day was {pet} lost?",
                "On which day was {pet} last seen?",
                "When was the {animal} lost?"
            ],
        );
        d.ask(
            g,
            What,
            fear,
            &w![
                "What is {pet} afraid of?",
                "What frightens the {animal}?",
                "What is {pet} scared of?",
                "What does {pet} fear?"
            ],
        );
        if with_phone {
            d.ask(
                g,
                What,
                &phone,
                &w![
                    "What number should you call?",
                    "What is {owner}'s phone number?",
                    "Which number do you ring if you find {pet}?",
                    "What number is on the poster?"
                ],
            );
            d.ask(
                g,
                Who,
                &owner,
                &w![
                    "Who should you call?",
                    "Who is {pet}'s owner?",
                    "Who do you ring if you find {pet}?",
                    "Whose {animal} is missing?"
                ],
            );
        } else {
            d.ask(
                g,
                Where,
                &shop,
                &w![
                    "Where should you go if you find {pet}?",
                    "Where can you find {owner}?",
                    "Where should finders tell {owner}?",
                    "Where does {owner} work?"
                ],
            );
            d.unknown(
                g,
                "no phone number is given",
                |_| phone.to_string(),
                &["call", "phone", "ring", "number"],
                &w![
                    "What number should you call?",
                    "What is {owner}'s phone number?",
                    "Which number do you ring if you find {pet}?"
                ],
            );
        }
    } else {
        let event = g.fresh(|g| {
            let t = g.town();
            let kind =
                g.one(&["Summer Fair", "Spring Fete", "Night Market", "Apple Festival", "Book Swap", "Street Party"]);
            format!("{t} {kind}")
        });
        let day = g.day();
        let date = g.date();
        let style = g.time_style();
        let t1 = g.time(9, 13, style);
        let t2 = g.time(15, 21, style);
        let venue = g.fresh(|g| {
            g.one(&[
                "the village hall",
                "the community centre",
                "the market square",
                "the church hall",
                "the village green",
                "the old fire station",
                "the town hall",
                "the boathouse",
                "the school field",
            ])
        });
        let street = g.street();
        let adult = g.price(2, 12);
        let child = g.price(0, 4);
        let free = g.digits(3, 6);
        let band = format!("The {} {}", g.pick(words::place_adjectives()), g.pick(words::band_nouns()));
        g.claim(&band);
        let baker = g.person().name;
        let cause = g.one(&[
            "the new roof for the village hall",
            "the children's hospital",
            "the animal shelter",
            "the school library",
            "the lifeboat crew",
        ]);
        d.line(event.to_uppercase());
        d.line(format!("{day} {date}, {t1} to {t2}"));
        d.line(format!("{}, {street}", upper_first(&venue)));
        let mut lines = vec![
            format!("Tickets: {adult} for adults, {child} for children, under-{free}s free."),
            format!("Live music from {band}."),
            format!("Cakes baked by {baker}."),
            format!("All the money goes to {cause}."),
        ];
        g.shuffle(&mut lines);
        for l in lines {
            d.line(l);
        }
        d.ask(
            g,
            When,
            &t1,
            &w![
                "What time does the {event} start?",
                "When does it open?",
                "What time do the doors open?",
                "When does the event begin?"
            ],
        );
        d.ask(
            g,
            When,
            &t2,
            &w![
                "When does the {event} end?",
                "What time does it finish?",
                "Until what time is it on?",
                "When does the event close?"
            ],
        );
        d.ask(
            g,
            When,
            &date,
            &w![
                "What is the date of the {event}?",
                "On what date is it?",
                "When is the event, what date?",
                "What date is the {event} on?"
            ],
        );
        let venue = upper_first(&venue);
        d.ask(
            g,
            Where,
            &venue,
            &w![
                "Where is the {event}?",
                "Where is it being held?",
                "Where does the event take place?",
                "Where should people go?"
            ],
        );
        d.ask(
            g,
            HowMany,
            &adult,
            &w![
                "How much is an adult ticket?",
                "How much do grown-ups pay?",
                "What does a ticket cost for adults?",
                "How much for adults?"
            ],
        );
        d.ask(
            g,
            HowMany,
            &child,
            &w![
                "How much is a child's ticket?",
                "How much do children pay?",
                "What does a child's ticket cost?",
                "How much for kids?"
            ],
        );
        d.ask(
            g,
            HowMany,
            &free,
            &w![
                "Under what age is entry free?",
                "Up to what age do children get in free?",
                "Below which age is it free?",
                "How young do you have to be to go free?"
            ],
        );
        if g.chance(0.5) {
            d.ask(
                g,
                Who,
                &band,
                &w![
                    "Who is playing music?",
                    "Which band is playing?",
                    "Who plays the live music?",
                    "Who will play at the {event}?"
                ],
            );
        } else {
            d.ask(
                g,
                Name,
                &band,
                &w![
                    "What is the band called?",
                    "What's the name of the band?",
                    "What is the name of the band that is playing?",
                    "whats the bands name"
                ],
            );
        }
        d.ask(
            g,
            Who,
            &baker,
            &w![
                "Who baked the cakes?",
                "Who made the cakes?",
                "Who is doing the baking?",
                "Whose cakes will be there?"
            ],
        );
        d.ask(
            g,
            What,
            &cause,
            &w![
                "Where does the money go?",
                "What is the money for?",
                "Who will the money help?",
                "What is the event raising money for?"
            ],
        );
        d.unknown(
            g,
            "no drink prices are given",
            |g| g.price(1, 3),
            &["tea ", "tea.", "coffee", "drink", "a cup of"],
            &w!["How much is a cup of tea?", "How much do drinks cost?", "What is the price of a coffee?"],
        );
        d.unknown(
            g,
            "nobody is named as opening it",
            |g| g.titled(&["Mayor"]),
            &["open", "mayor"],
            &w!["Who is opening the {event}?", "Who will open the event?", "Who cuts the ribbon?"],
        );
    }
    d
}
