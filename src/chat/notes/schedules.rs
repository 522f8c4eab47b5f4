//! Templates of timetables (a departures board, a bus route, a school day,
//! opening hours) and recipes (ingredients with quantities, then steps).

use super::gen::{Draft, Gen, TimeStyle};
use super::words::DAYS;
use super::Kind::*;

/// A timetable or schedule: a departures board, a bus route, a school day,
/// opening hours.
pub fn timetable(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    match g.range(0, 3) {
        0 => departures(g, &mut d),
        1 => bus_timetable(g, &mut d),
        2 => school_day(g, &mut d),
        _ => opening_hours(g, &mut d),
    }
    d
}

/// A station's departures board: times, platforms and delays.
fn departures(g: &mut Gen, d: &mut Draft) {
    let station_town = g.town();
    let station = format!("{station_town} station");
    g.claim(&station);
    d.line(format!("Departures, {station}"));
    d.ask(
        g,
        Name,
        &station_town,
        &w![
            "What is the station called?",
            "What's the name of the station?",
            "Which station is this board at?",
            "What station are these departures from?"
        ],
    );
    let n = g.range(3, 5) as usize;
    let mut rows = Vec::new();
    for _ in 0..n {
        let t = g.time(6, 22, TimeStyle::H24);
        let dest = g.town();
        let platform = g.digits(1, 12);
        rows.push((t, dest, platform));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let delayed = g.range(0, n as u32 - 1) as usize;
    let cancelled = (delayed + 1) % n;
    let late = g.minutes();
    let via = g.town();
    for (i, (t, dest, p)) in rows.iter().enumerate() {
        let status = if i == delayed {
            format!(", delayed by {late}")
        } else if i == cancelled {
            ", cancelled".to_string()
        } else if i == 0 {
            format!(", calling at {via}")
        } else {
            String::new()
        };
        d.line(format!("{t} to {dest}, platform {p}{status}"));
    }
    let pick = g.range(0, n as u32 - 1) as usize;
    let (t, dest, p) = rows[pick].clone();
    d.ask(
        g,
        Where,
        &format!("platform {p}"),
        &w![
            "Which platform does the {t} leave from?",
            "Where does the train to {dest} go from?",
            "What platform is the {dest} train on?",
            "Which platform for {dest}?"
        ],
    );
    let (t2, dest2, _) = rows[(pick + 1) % n].clone();
    d.ask(
        g,
        When,
        &t2,
        &w![
            "What time is the train to {dest2}?",
            "When does the {dest2} train leave?",
            "When is the train for {dest2}?",
            "What time does the train to {dest2} go?"
        ],
    );
    let (t3, dest3, _) = rows[(pick + 2) % n].clone();
    d.ask(
        g,
        Where,
        &dest3,
        &w![
            "Where does the {t3} go?",
            "Where is the {t3} train going?",
            "What is the destination of the {t3}?",
            "Where's the {t3} heading?"
        ],
    );
    let (_, dd, _) = rows[delayed].clone();
    d.ask(
        g,
        HowLong,
        &late,
        &w![
            "How late is the train to {dd}?",
            "How long is the {dd} train delayed?",
            "By how much is the {dd} train late?",
            "How long is the delay for {dd}?"
        ],
    );
    let (tc, dc, _) = rows[cancelled].clone();
    d.ask(
        g,
        Where,
        &dc,
        &w![
            "Where was the cancelled train going?",
            "Which train is cancelled? Where to?",
            "The {tc} is cancelled: where was it going?",
            "Where would the cancelled train have gone?"
        ],
    );
    let (_, d0, _) = rows[0].clone();
    if delayed != 0 && cancelled != 0 {
        d.ask(
            g,
            Where,
            &via,
            &w![
                "Where does the train to {d0} stop on the way?",
                "Which station does the {d0} train call at?",
                "Where does the {d0} train call?",
                "What stop is on the way to {d0}?"
            ],
        );
    }
    let other = g.town();
    d.unknown(
        g,
        "that place is not on the board",
        |_| "platform 13".to_string(),
        &[other.as_str()],
        &w![
            "Which platform does the train to {other} leave from?",
            "What time is the train to {other}?",
            "When does the {other} train go?"
        ],
    );
    d.unknown(
        g,
        "no fares are shown",
        |g| g.price(3, 40),
        &["£", "$", "€", "fare", "ticket"],
        &w!["How much is a ticket to {dest}?", "What is the fare to {dest}?", "How much does it cost to go to {dest}?"],
    );
}

/// A bus route's times: weekdays, Saturday and the day it does not run.
fn bus_timetable(g: &mut Gen, d: &mut Draft) {
    let route = g.digits(2, 99);
    let a = g.town();
    let b = g.town();
    let style = TimeStyle::H24;
    let every = format!("every {}", g.minutes());
    let first = g.time(5, 7, style);
    let last = g.time(19, 23, style);
    let sat = g.time(8, 9, style);
    let no_day = "Sunday";
    let journey =
        g.fresh(|g| g.one(&["25 minutes", "35 minutes", "forty minutes", "an hour", "50 minutes", "half an hour"]));
    let stop = g.street();
    d.line(format!("Bus {route}: {a} to {b}"));
    d.line(format!("Monday to Friday: {every}, first bus {first}, last bus {last}"));
    d.line(format!("Saturday: every hour from {sat}"));
    d.line(format!("{no_day}: no service"));
    d.line(format!("The journey takes about {journey}. Buses stop on {stop} outside the library."));
    d.ask(
        g,
        HowLong,
        &every,
        &w![
            "How often does the bus run on weekdays?",
            "How often is there a bus from Monday to Friday?",
            "How frequent is the {route} on a Tuesday?",
            "How often do buses come on weekdays?"
        ],
    );
    d.ask(
        g,
        When,
        &first,
        &w![
            "When is the first bus on weekdays?",
            "What time does the first bus leave?",
            "When does the first {route} go on a Monday?",
            "What time's the first bus?"
        ],
    );
    d.ask(
        g,
        When,
        &last,
        &w![
            "When is the last bus on weekdays?",
            "What time does the last bus go?",
            "When does the last {route} leave on a Friday?",
            "What's the last bus on a weekday?"
        ],
    );
    d.ask(
        g,
        When,
        &sat,
        &w![
            "When does the Saturday service start?",
            "What time is the first bus on Saturday?",
            "From what time do buses run on Saturday?",
            "When do Saturday buses start?"
        ],
    );
    d.ask(
        g,
        When,
        no_day,
        &w![
            "Which day has no buses?",
            "On what day is there no service?",
            "When does the bus not run?",
            "Which day can't you get the {route}?"
        ],
    );
    d.ask(
        g,
        HowLong,
        &journey,
        &w![
            "How long is the journey?",
            "How long does the trip from {a} to {b} take?",
            "How long does the bus take?",
            "How long is the ride?"
        ],
    );
    d.ask(
        g,
        Where,
        &stop,
        &w![
            "Where does the bus stop?",
            "Which street is the stop on?",
            "Where do you catch the bus?",
            "On what street do buses stop?"
        ],
    );
    d.ask(
        g,
        Where,
        &b,
        &w![
            "Where does the {route} go to?",
            "Where does the bus end?",
            "Where is the bus going?",
            "What is the last stop?"
        ],
    );
    d.unknown(
        g,
        "no fares are shown",
        |g| g.price(1, 5),
        &["£", "$", "€", "fare", "ticket"],
        &w!["How much is a ticket?", "What does the bus cost?", "How much is the fare from {a} to {b}?"],
    );
}

/// A child's day of lessons, room by room.
fn school_day(g: &mut Gen, d: &mut Draft) {
    let kid = g.person().name;
    let day = g.day();
    let t1 = g.time(8, 9, TimeStyle::Colon);
    let t2 = g.time(10, 10, TimeStyle::Colon);
    let t3 = g.time(11, 11, TimeStyle::Colon);
    let t4 = g.time(13, 14, TimeStyle::Colon);
    let teacher = g.titled(&["Mr", "Mrs", "Ms"]);
    let room = g.digits(1, 40);
    let col = g.colour();
    let pool = g.fresh(|g| format!("{} Pool", g.town()));
    let coach = g.titled(&["Mr", "Mrs", "Ms", "Coach"]);
    let bring = g.one(&["trainers", "a towel", "goggles", "an apron", "a recorder"]);
    d.line(format!("{kid}'s {day}"));
    d.line(format!("{t1} Maths with {teacher} in room {room}"));
    d.line(format!("{t2} Art in the {col} studio"));
    d.line(format!("{t3} Break"));
    d.line(format!("{t4} Swimming at {pool} with {coach} (bring {bring})"));
    d.ask(
        g,
        When,
        &t1,
        &w![
            "What time is maths?",
            "When does maths start?",
            "At what time is {kid}'s maths lesson?",
            "When is maths on {day}?"
        ],
    );
    d.ask(
        g,
        When,
        &t2,
        &w!["What time is art?", "When does art start?", "When is the art lesson?", "At what time is art on {day}?"],
    );
    d.ask(
        g,
        Who,
        &teacher,
        &w!["Who teaches maths?", "Who is the maths teacher?", "Who takes {kid} for maths?", "Who is maths with?"],
    );
    d.ask(
        g,
        Where,
        &format!("room {room}"),
        &w!["Where is maths?", "Which room is maths in?", "Where does {kid} have maths?", "What room is maths?"],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour is the art studio?",
            "Which colour studio is art in?",
            "What colour studio does {kid} go to for art?",
            "What colour is the studio?"
        ],
    );
    d.ask(
        g,
        Where,
        &pool,
        &w![
            "Where is swimming?",
            "Where does {kid} go swimming?",
            "Which pool is swimming at?",
            "Where is the swimming lesson?"
        ],
    );
    d.ask(
        g,
        Should,
        &bring,
        &w![
            "What should {kid} bring for swimming?",
            "What does {kid} need for swimming?",
            "What must {kid} take to the pool?",
            "What should {kid} pack for swimming?"
        ],
    );
    d.ask(
        g,
        Who,
        &coach,
        &w![
            "Who is swimming with?",
            "Who takes the swimming lesson?",
            "Who teaches swimming?",
            "Who is the swimming teacher?"
        ],
    );
    d.ask(
        g,
        When,
        &t4,
        &w![
            "What time is swimming?",
            "When does swimming start?",
            "When does {kid} go swimming?",
            "At what time is the swimming lesson?"
        ],
    );
    d.unknown(
        g,
        "lunch is not on the schedule",
        |g| g.time(12, 12, TimeStyle::Colon),
        &["lunch"],
        &w!["What time is lunch?", "When does {kid} have lunch?", "When is lunch on {day}?"],
    );
    d.unknown(
        g,
        "nobody is named for art",
        |g| g.titled(&["Mr", "Mrs", "Ms"]),
        &["art with", "art teacher"],
        &w!["Who teaches art?", "Who is the art teacher?", "Who takes {kid} for art?"],
    );
}

/// Opening hours of a pool, a library, a museum: weekday hours as one range
/// ("Monday to Friday", "Mon-Fri", "Weekdays"), so that a question about one
/// day ("on Wednesday evening", "on Sunday") must be matched to the line
/// that covers it.
fn opening_hours(g: &mut Gen, d: &mut Draft) {
    // "twenty to nine to twenty to two" would be read as one time
    let style = g.pick(&[TimeStyle::DotAmPm, TimeStyle::SpaceAmPm, TimeStyle::H24]);
    let place = g.one(&["swimming pool", "library", "museum", "sports centre", "café", "post office", "garden centre"]);
    let town = g.town();
    let (open, close) = (g.time(6, 9, style), g.time(17, 21, style));
    let (sat_open, sat_close) = (g.time(8, 10, style), g.time(13, 16, style));
    let weekend = g.chance(0.5);
    d.line(g.pick(&[format!("{town} {place}: opening times"), format!("Opening hours, {town} {place}")]));
    let weekdays = g.pick(&[
        format!("Monday to Friday: {open} to {close}"),
        format!("Mon-Fri {open} - {close}"),
        format!("Weekdays, {open} until {close}"),
    ]);
    d.line(weekdays);
    if weekend {
        d.line(g.pick(&[
            format!("Saturday and Sunday: {sat_open} to {sat_close}"),
            format!("Weekends {sat_open} - {sat_close}"),
        ]));
    } else {
        d.line(g.pick(&[format!("Saturday: {sat_open} to {sat_close}"), format!("Sat {sat_open} - {sat_close}")]));
    }
    let closed =
        if weekend { None } else { Some(g.pick(&[("Sunday: closed", "Sunday"), ("Closed on Sundays", "Sundays")])) };
    if let Some((line, _)) = closed {
        d.line(line);
    }
    let last = g.one(&["15 minutes", "half an hour", "30 minutes", "an hour", "45 minutes"]);
    d.line(g.pick(&[
        format!("Last entry is {last} before closing."),
        format!("Please arrive at least {last} before we close."),
    ]));
    let day = g.pick(&DAYS[..5]);
    d.ask(
        g,
        When,
        &open,
        &w![
            "What time does the {place} open on {day}?",
            "When does it open on a {day} morning?",
            "I want to go on {day}. When does the {place} open?",
            "How early can I get in on a weekday?"
        ],
    );
    let day = g.pick(&DAYS[..5]);
    d.ask(
        g,
        When,
        &close,
        &w![
            "When does the {place} close on {day}?",
            "I'm going on {day} evening. What time does it close?",
            "How late is it open on weekdays?",
            "What time does the {place} shut on a {day}?"
        ],
    );
    if weekend {
        let day = g.one(&["Saturday", "Sunday"]);
        d.ask(
            g,
            When,
            &sat_open,
            &w![
                "What time does the {place} open at the weekend?",
                "When does it open on {day}?",
                "I want to go on {day} morning. When does it open?"
            ],
        );
        d.ask(
            g,
            When,
            &sat_close,
            &w!["When does it close at the weekend?", "What time does the {place} close on {day}?"],
        );
    } else {
        d.ask(
            g,
            When,
            &sat_open,
            &w!["What time does the {place} open on Saturday?", "When does it open on a Saturday?"],
        );
        d.ask(g, When, &sat_close, &w!["When does it close on Saturday?", "How late is it open on Saturday?"]);
    }
    if let Some((_, day)) = closed {
        let wordings = w!["Which day is the {place} closed?", "What day can't I go?", "On which day is it shut?"];
        d.ask(g, When, day, &wordings);
    }
    d.ask(
        g,
        HowLong,
        &last,
        &w![
            "How long before closing is the last entry?",
            "How early before closing time do I need to get there?",
            "What's the latest I can arrive, before closing?"
        ],
    );
    d.unknown(
        g,
        "no prices are given",
        |g| g.price(2, 9),
        &["£", "$", "€", "free", "cost", "price", "pay"],
        &w!["How much does it cost to get in?", "What is the price of a ticket?", "How much do I pay at the {place}?"],
    );
    d.unknown(
        g,
        "no phone number is given",
        |g| g.phone(),
        &["call", "phone", "ring"],
        &w!["What is the {place}'s phone number?", "What number do I ring?"],
    );
}

/// A recipe: ingredients with quantities, then steps.
pub fn recipe(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let cook = g.person().name;
    let oven = g.chance(0.6);
    let dish = if oven {
        g.one(&[
            "banana bread",
            "lemon drizzle cake",
            "apple crumble",
            "flapjacks",
            "carrot cake",
            "cheese scones",
            "ginger biscuits",
            "plum tart",
            "oat cookies",
        ])
    } else {
        g.one(&[
            "pancakes",
            "pea fritters",
            "potato rösti",
            "drop scones",
            "cheese omelette",
            "corn fritters",
            "lentil patties",
        ])
    };
    g.claim(&dish);
    let serves = g.number(2, 8);
    let baking: &[(&str, &[&str])] = &[
        ("flour", &["200 grams", "2 cups", "250 grams", "a mug"]),
        ("butter", &["100 grams", "a big spoonful", "50 grams", "half a block"]),
        ("sugar", &["3 tablespoons", "a cup", "75 grams", "a handful"]),
        ("milk", &["300 millilitres", "a glass", "half a pint", "a splash"]),
        ("eggs", &["2", "3", "4", "two"]),
        ("oats", &["a cup", "150 grams", "two handfuls", "a mug"]),
        ("raisins", &["a handful", "50 grams", "half a cup", "a small box"]),
    ];
    let frying: &[(&str, &[&str])] = &[
        ("flour", &["200 grams", "2 cups", "100 grams", "a mug"]),
        ("milk", &["300 millilitres", "a glass", "half a pint", "a splash"]),
        ("eggs", &["2", "3", "4", "two"]),
        ("cheese", &["a handful", "100 grams", "a big lump", "150 grams"]),
        ("peas", &["a cup", "200 grams", "two handfuls", "half a bag"]),
        ("spring onions", &["two", "three", "a bunch", "four"]),
    ];
    let ing = if oven { baking } else { frying };
    let mut chosen: Vec<(String, String)> = Vec::new();
    let mut idx: Vec<usize> = (0..ing.len()).collect();
    g.shuffle(&mut idx);
    for &i in idx.iter().take(3) {
        let (name, qs) = ing[i];
        let q = g.fresh(|g| g.one(qs));
        chosen.push((name.to_string(), q));
    }
    let temp = g.digits(16, 22) + "0";
    let bake = if oven {
        g.fresh(|g| g.one(&["25 minutes", "half an hour", "40 minutes", "45 minutes", "an hour", "35 minutes"]))
    } else {
        g.fresh(|g| g.one(&["5 minutes", "8 minutes", "ten minutes", "twelve minutes", "a few minutes"]))
    };
    let cool = g.fresh(|g| g.one(&["10 minutes", "fifteen minutes", "20 minutes", "half an hour", "two minutes"]));
    let cool_why =
        g.one(&["because it breaks easily when warm", "so it can set", "because it is too soft to cut when hot"]);
    let bowl = g.one(&["a large bowl", "a big jug", "a mixing bowl", "a deep pan"]);
    let spice = if oven {
        g.one(&["a pinch of salt", "a little nutmeg", "a spoon of cinnamon", "a drop of vanilla"])
    } else {
        g.one(&["a pinch of salt", "some black pepper", "a little chilli", "a pinch of paprika"])
    };
    d.line(format!("{}'s {dish}", cook));
    d.line(format!("Serves {serves}."));
    let countable = |q: &str| q.parse::<u32>().is_ok() || ["two", "three", "four"].contains(&q);
    let list: Vec<String> =
        chosen.iter().map(|(n, q)| if countable(q) { format!("{q} {n}") } else { format!("{q} of {n}") }).collect();
    d.line(format!("You need: {}, and {spice}.", list.join(", ")));
    let (i1, i2) = (&chosen[0].0, &chosen[1].0);
    if oven {
        d.line(format!("1. Heat the oven to {temp} degrees."));
        d.line(format!("2. Mix the {i1} and the {i2} in {bowl}."));
        d.line(format!("3. Bake for {bake}, until golden."));
        d.line(format!("4. Leave it to cool for {cool} before cutting, {cool_why}."));
        d.ask(
            g,
            HowMany,
            &format!("{temp} degrees"),
            &w![
                "What temperature should the oven be?",
                "How hot should the oven be?",
                "What do you heat the oven to?",
                "At what temperature do you bake the {dish}?"
            ],
        );
        d.ask(
            g,
            HowLong,
            &bake,
            &w![
                "How long do you bake the {dish} for?",
                "How long does it go in the oven?",
                "For how long do you bake it?",
                "How long should it cook?"
            ],
        );
        d.ask(
            g,
            HowLong,
            &cool,
            &w![
                "How long should it cool?",
                "How long do you leave it before cutting?",
                "For how long does it cool down?",
                "How long must you wait before cutting it?"
            ],
        );
        d.ask(
            g,
            Why,
            &cool_why,
            &w![
                "Why should you let it cool before cutting?",
                "Why wait before cutting?",
                "Why leave it to cool first?",
                "Why shouldn't you cut it straight away?",
            ],
        );
    } else {
        d.line(format!("1. Mix the {i1} and the {i2} in {bowl}."));
        d.line(format!("2. Cook in a hot pan for {bake}, stirring all the time."));
        d.line(format!("3. Rest for {cool}, then serve."));
        d.ask(
            g,
            HowLong,
            &bake,
            &w![
                "How long does it cook in the pan?",
                "How long should you cook it?",
                "For how long is it in the pan?",
                "How long do you stir it for?"
            ],
        );
        d.ask(
            g,
            HowLong,
            &cool,
            &w![
                "How long should it rest?",
                "How long before you serve it?",
                "For how long does it rest?",
                "How long do you wait before serving?"
            ],
        );
        d.unknown(
            g,
            "the oven is not used",
            |_| format!("{temp} degrees"),
            &["oven", "degrees"],
            &w!["What temperature should the oven be?", "How hot should the oven be?", "What do you heat the oven to?"],
        );
    }
    for (name, q) in &chosen {
        if name == "eggs" || name == "spring onions" {
            d.ask(
                g,
                HowMany,
                q,
                &w![
                    "How many {name} do you need?",
                    "How many {name} go in?",
                    "How many {name} are used?",
                    "how many {name}"
                ],
            );
        } else {
            d.ask(
                g,
                HowMany,
                q,
                &w![
                    "How much {name} do you need?",
                    "How much {name} goes in?",
                    "What amount of {name} is needed?",
                    "How much {name} does the recipe use?"
                ],
            );
        }
    }
    d.ask(
        g,
        HowMany,
        &serves,
        &w![
            "How many people does it serve?",
            "How many people can the {dish} feed?",
            "How many servings does it make?",
            "How many people is it for?"
        ],
    );
    d.ask(
        g,
        Who,
        &cook,
        &w![
            "Whose recipe is it?",
            "Who does the recipe belong to?",
            "Whose {dish} recipe is this?",
            "Who is the recipe from?"
        ],
    );
    d.ask(
        g,
        Where,
        &bowl,
        &w![
            "What do you mix the {i1} and {i2} in?",
            "Where do you mix the {i1} and {i2}?",
            "What should you mix everything in?",
            "What do you use for mixing?"
        ],
    );
    d.ask(
        g,
        What,
        &spice,
        &w![
            "What else goes in besides the {i1}?",
            "What is the last thing on the list?",
            "What seasoning does the recipe use?",
            "What is added at the end of the list?"
        ],
    );
    d.unknown(
        g,
        "keeping is not covered",
        |_| "three days".to_string(),
        &["keep", "fridge", "freeze", "store"],
        &w![
            "How long can you keep the {dish}?",
            "How long can you keep it in the fridge?",
            "Can you freeze it, and for how long?"
        ],
    );
    d
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Every question about a day is answered from the line that covers it:
    /// a weekday from the Monday-to-Friday line, Saturday, Sunday or the
    /// weekend from the weekend's.
    #[test]
    fn opening_hours_are_answered_from_the_line_of_the_day_asked_about() {
        let mut checked = 0;
        for seed in 0..200 {
            let mut g = Gen::new(ChaCha8Rng::seed_from_u64(seed));
            let mut d = Draft::default();
            opening_hours(&mut g, &mut d);
            let weekdays = &d.lines[1];
            let weekend = &d.lines[2];
            for qa in d.qas.iter().filter(|qa| qa.kind == When && !qa.answer.starts_with("Sunday")) {
                let q = qa.question.to_lowercase();
                let on_weekday = DAYS[..5].iter().any(|day| q.contains(&day.to_lowercase())) || q.contains("weekday");
                let on_weekend = ["saturday", "sunday", "weekend"].iter().any(|day| q.contains(day));
                assert!(on_weekday || on_weekend, "{q}");
                let line = if on_weekday { weekdays } else { weekend };
                assert!(line.contains(&qa.answer), "{q} -> {} not on {line:?}", qa.answer);
                checked += 1;
            }
        }
        assert!(checked > 200, "{checked}");
    }
}
