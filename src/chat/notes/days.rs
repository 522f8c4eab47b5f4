//! Templates of diary entries about a day out and invitations to a party.

use super::gen::{a_or_an, ordinal, Draft, Gen};
use super::words;
use super::Kind::*;

/// A diary entry about a day out.
pub fn diary(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let friend = g.person();
    let f = friend.name.clone();
    let day = g.day();
    let date = g.date();
    let place = if g.chance(0.5) {
        g.outdoor_place()
    } else {
        format!("the {} {}", g.town(), g.one(&["Zoo", "Farm", "Aquarium", "Fair"]))
    };
    let style = g.casual_time_style();
    let t = g.time(8, 11, style);
    let dur = g
        .fresh(|g| g.one(&["20 minutes", "half an hour", "forty minutes", "an hour", "45 minutes", "fifteen minutes"]));
    let col = g.colour();
    let thing = g.one(&["postcard", "keyring", "notebook", "yo-yo", "badge", "bookmark", "snow globe"]);
    let price = g.price(1, 9);
    let animal = if place.ends_with("Aquarium") {
        g.one(&["sharks", "eels", "jellyfish", "octopuses"])
    } else if place.starts_with("the ") {
        g.one(&["goats", "geese", "peacocks", "llamas", "pigs", "donkeys"])
    } else if place.ends_with("Island") || place.ends_with("Beach") {
        g.one(&["crabs", "seagulls", "jellyfish"])
    } else {
        g.one(&["geese", "swans", "squirrels", "crows"])
    };
    let dish = g.pick(words::dishes());
    let cafe = g.cafe();
    let day2 = g.day();
    let tired = g.one(&[
        "because we walked all the way home",
        "because we got up so early",
        "because we ran around all day",
        "because the bus home was so slow",
    ]);
    d.line(format!("{day} {date}"));
    let mut s = vec![g.pick(&[
        format!("Dear diary, today {f} and I went to {place}."),
        format!("Today I went to {place} with {f}."),
        format!("{f} and I spent the day at {place}."),
    ])];
    let mut rest = vec![
        format!("We caught the bus at {t} and got there {dur} later."),
        format!("I bought {} {thing} for {price}.", a_or_an(&col)),
        g.pick(&[
            format!("{f} was scared of the {animal}, but I thought they were funny."),
            format!("{f} was frightened of the {animal}, but I wasn't."),
        ]),
        format!("We had {dish} for lunch at {cafe}."),
    ];
    g.shuffle(&mut rest);
    let keep = g.range(3, 4) as usize;
    rest.truncate(keep);
    s.extend(rest);
    s.push(format!("Mum says we can go back on {day2}."));
    s.push(format!("I'm so tired now {tired}."));
    let text = s.join(" ");
    d.line(text.clone());
    if g.chance(0.5) {
        d.ask(
            g,
            Who,
            &f,
            &w![
                "Who did the writer go with?",
                "Who went to {place} with the writer?",
                "Who came along today?",
                "Who was the writer's companion?"
            ],
        );
    } else {
        d.ask(
            g,
            Name,
            &f,
            &w![
                "What is the name of the writer's friend?",
                "What is the friend called?",
                "What's the name of the friend who went along?",
                "What is the writer's friend called?"
            ],
        );
    }
    d.ask(
        g,
        Where,
        &place,
        &w![
            "Where did they go?",
            "Where did the writer spend the day?",
            "Where did the writer and {f} go?",
            "What place did they visit?"
        ],
    );
    if text.contains("caught the bus") {
        d.ask(
            g,
            When,
            &t,
            &w![
                "What time did they catch the bus?",
                "When did the bus leave?",
                "At what time did they get the bus?",
                "When did they set off?"
            ],
        );
        d.ask(
            g,
            HowLong,
            &dur,
            &w![
                "How long did the bus take?",
                "How long was the journey?",
                "How long did it take to get there?",
                "How much time did the trip there take?"
            ],
        );
    } else {
        d.unknown(
            g,
            "the way there is not described",
            |_| "by train".to_string(),
            &["bus", "train", "by car", "walked there", "drove"],
            &w!["How did they get to {place}?", "How did they travel there?"],
        );
    }
    if text.contains(thing.as_str()) {
        d.ask(
            g,
            What,
            &thing,
            &w![
                "What did the writer buy?",
                "What did the writer get at {place}?",
                "What did the writer spend money on?",
                "What was bought?"
            ],
        );
        d.ask(
            g,
            Colour,
            &col,
            &w![
                "What colour was the {thing}?",
                "What colour {thing} did the writer buy?",
                "Which colour is the new {thing}?",
                "What colour is the {thing}?"
            ],
        );
        d.ask(
            g,
            HowMany,
            &price,
            &w![
                "How much was the {thing}?",
                "How much did the {thing} cost?",
                "What did the writer pay for the {thing}?",
                "How much did the writer spend?"
            ],
        );
    }
    if text.contains(animal.as_str()) {
        d.ask(
            g,
            What,
            &format!("the {animal}"),
            &w![
                "What was {f} afraid of?",
                "What frightened {f}?",
                "What scared {f}?",
                "Which animals was {f} frightened of?"
            ],
        );
    }
    if text.contains(dish.as_str()) {
        d.ask(
            g,
            What,
            &dish,
            &w![
                "What did they have for lunch?",
                "What did they eat at {cafe}?",
                "What was lunch?",
                "What did the writer and {f} eat?"
            ],
        );
        d.ask(
            g,
            Where,
            &cafe,
            &w![
                "Where did they have lunch?",
                "Where did they eat?",
                "Where was lunch?",
                "Which place did they eat at?"
            ],
        );
    } else {
        d.unknown(
            g,
            "lunch is not mentioned",
            |_| dish.to_string(),
            &["lunch", " ate ", " eat", " had "],
            &w!["What did they have for lunch?", "What did they eat?", "Where did they have lunch?"],
        );
    }
    d.ask(
        g,
        When,
        &day2,
        &w![
            "When can they go back?",
            "Which day can they return?",
            "What day does Mum say they can go again?",
            "When is the next visit?"
        ],
    );
    d.ask(
        g,
        Why,
        &tired,
        &w![
            "Why is the writer tired?",
            "Why does the writer feel tired?",
            "What made the writer so tired?",
            "Why is the writer worn out?"
        ],
    );
    d.unknown(
        g,
        "the writer is never named",
        |g| g.person().name,
        &["my name", "I'm called", "I am called"],
        &w!["What is the writer's name?", "Who wrote the diary?", "What's the diary writer called?"],
    );
    d
}

/// An invitation to a party.
pub fn invitation(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let host = g.person();
    let h = host.name.clone();
    let age = g.digits(4, 12);
    let day = g.day();
    let (date2, date) = g.date_pair(3);
    let style = g.casual_time_style();
    let start = g.range(10, 14);
    let t1 = g.time(start, start, style);
    let t2 = g.time(start + 2, start + 3, style);
    let venue = if g.chance(0.5) {
        g.fresh(|g| {
            g.one(&[
                "the community centre",
                "the church hall",
                "the scout hut",
                "the leisure centre",
                "the village hall",
                "the bandstand",
                "the boathouse",
            ])
        })
    } else {
        g.address()
    };
    let activity =
        g.one(&["a bouncy castle", "face painting", "a treasure hunt", "a magic show", "karaoke", "a piñata"]);
    let dish = g.pick(words::dishes());
    let col = g.colour();
    let parent = g.person().name;
    d.line(g.one(&["You're invited!", "Party time!", "Please come and celebrate!", "Come to a party!"]));
    d.line(g.pick(&[
        format!("{h} is turning {age}!"),
        format!("It's {}'s {} birthday!", h, ordinal(age.parse().unwrap_or(5))),
    ]));
    let when_line = g.pick(&[
        format!("{day} {date}, from {t1} until {t2}"),
        format!("Join us on {day} {date} from {t1} until {t2}"),
    ]);
    d.line(when_line);
    d.line(format!("at {venue}"));
    let mut extra = vec![
        format!("There will be {activity} and {dish}."),
        g.pick(&[format!("Please wear something {col}!"), format!("Dress code: anything {col}!")]),
        format!("Please reply to {parent} by {date2}."),
    ];
    g.shuffle(&mut extra);
    for e in extra {
        d.line(e);
    }
    if d.lines[1].contains(&format!("turning {age}")) {
        d.ask(
            g,
            HowMany,
            &age,
            &w![
                "How old is {h} turning?",
                "How old will {h} be?",
                "What age is {h} going to be?",
                "How old is {h} going to be?"
            ],
        );
    } else {
        let nth = ordinal(age.parse().unwrap_or(5));
        d.ask(
            g,
            HowMany,
            &nth,
            &w![
                "Which birthday is {h} celebrating?",
                "What birthday is it for {h}?",
                "Which birthday is this for {h}?",
                "What number birthday is {h} having?"
            ],
        );
    }
    d.ask(
        g,
        Who,
        &h,
        &w!["Whose party is it?", "Who is having a birthday?", "Who is the party for?", "Whose birthday is it?"],
    );
    d.ask(
        g,
        When,
        &t1,
        &w![
            "What time does the party start?",
            "When does the party begin?",
            "What time should guests arrive?",
            "When does it start?"
        ],
    );
    d.ask(
        g,
        When,
        &t2,
        &w![
            "What time does the party end?",
            "When does the party finish?",
            "Until what time is the party?",
            "When is pick-up time?"
        ],
    );
    d.ask(
        g,
        When,
        &date,
        &w![
            "What is the date of the party?",
            "On what date is the party?",
            "What date is {h}'s party?",
            "When is the party, what date?"
        ],
    );
    d.ask(
        g,
        Where,
        &venue,
        &w!["Where is the party?", "Where will the party be held?", "Where should guests go?", "Where's {h}'s party?"],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour should guests wear?",
            "What is the colour of the dress code?",
            "Which colour should people wear?",
            "What colour clothes should guests put on?"
        ],
    );
    d.ask(
        g,
        Who,
        &parent,
        &w![
            "Who should guests reply to?",
            "Who do you tell if you are coming?",
            "Who is taking the replies?",
            "Who should you answer?"
        ],
    );
    d.ask(
        g,
        When,
        &date2,
        &w![
            "By when should guests reply?",
            "What is the last date to reply?",
            "When do guests need to answer by?",
            "By what date should you reply?"
        ],
    );
    d.ask(
        g,
        What,
        &activity,
        &w![
            "What will there be at the party?",
            "What fun is planned for the party?",
            "What activity is at the party?",
            "What will the children do there?"
        ],
    );
    d.unknown(
        g,
        "no present is mentioned",
        |g| g.object(),
        &["present", "gift"],
        &w!["What present would {h} like?", "What gift should guests bring?", "What does {h} want for a present?"],
    );
    d.unknown(
        g,
        "no phone number is given",
        |g| g.phone(),
        &["phone", "number", "call", "text"],
        &w!["What is {parent}'s phone number?", "What number should guests call?", "How do you phone {parent}?"],
    );
    d
}
