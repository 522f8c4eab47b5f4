//! Templates of group chats (friends planning an outing, one "Name:
//! message" line each) and emails (a meeting moved, a school trip, a
//! delivery).

use super::gen::{a_or_an, upper_first, Draft, Gen, TimeStyle};
use super::words;
use super::Kind::*;

/// A group chat planning an outing: "Name: message" lines.
pub fn group_chat(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let a = g.person_one_word().name;
    let b = g.person_one_word().name;
    let c = g.person_one_word().name;
    let dn = g.person_one_word().name;
    let place = if g.chance(0.5) { g.outdoor_place() } else { g.cafe() };
    let day = g.day();
    let style = g.casual_time_style();
    let t_free = g.time(9, 16, style);
    let t_meet = g.time(9, 16, style);
    let food = g.fresh(|g| g.pick(words::picnic_foods()));
    let n = g.number(2, 20);
    let landmark = g.fresh(|g| {
        g.one(&["the big clock", "the main gate", "the ticket office", "the fountain", "the statue", "the car park"])
    });
    let no_why = g.one(&[
        "because I have a piano lesson",
        "because my cousins are visiting",
        "because I'm working that day",
        "because I've got a cold",
        "because it's my gran's birthday",
        "because we're moving house",
    ]);
    d.line(g.pick(&[
        format!("{a}: Anyone free on {day}? I want to go to {place}."),
        format!("{a}: Who fancies {place} on {day}?"),
        format!("{a}: Shall we all go to {place} on {day}?"),
    ]));
    d.line(g.pick(&[
        format!("{b}: Yes! But I can't get there before {t_free}."),
        format!("{b}: I'm in, but only from {t_free}."),
    ]));
    d.line(
        g.pick(&[format!("{c}: Count me in. I'll bring {n} {food}."), format!("{c}: Me too, I can bring {n} {food}.")]),
    );
    let dline = g.pick(&[format!("{dn}: Sorry, I can't come {no_why}."), format!("{dn}: Not me this time, {no_why}.")]);
    let meet = g.pick(&[
        format!("{a}: Great, let's meet at {t_meet} by {landmark}."),
        format!("{a}: Perfect. Meet by {landmark} at {t_meet}?"),
    ]);
    if g.chance(0.5) {
        d.line(dline);
        d.line(meet);
    } else {
        d.line(meet);
        d.line(dline);
    }
    let colour_line = g.chance(0.5);
    if colour_line {
        let col = g.colour();
        let obj = g.fresh(|g| g.one(&["kite", "frisbee", "picnic blanket", "umbrella", "cool box", "football"]));
        d.line(format!("{b}: Can someone bring {} {obj}? Mine is broken.", a_or_an(&col)));
        d.ask(
            g,
            Colour,
            &col,
            &w![
                "What colour {obj} does {b} want?",
                "What colour should the {obj} be?",
                "Which colour {obj} did {b} ask for?",
                "What colour is the {obj} {b} asked for?",
            ],
        );
    }
    d.ask(
        g,
        Who,
        &a,
        &w![
            "Who suggested going to {place}?",
            "Whose idea was the trip to {place}?",
            "Who wants to go to {place}?",
            "Who started the plan?"
        ],
    );
    d.ask(
        g,
        Who,
        &c,
        &w![
            "Who is bringing the {food}?",
            "Who said they'd bring {food}?",
            "Who will bring {food}?",
            "Which person is bringing {food}?"
        ],
    );
    d.ask(g, Who, &dn, &w!["Who can't come?", "Who is not going?", "Who said no?", "Who will miss the trip?"]);
    d.ask(
        g,
        Why,
        &no_why,
        &w![
            "Why can't {dn} come?",
            "Why is {dn} not going?",
            "What is stopping {dn} from coming?",
            "Why will {dn} miss it?"
        ],
    );
    d.ask(
        g,
        When,
        &t_meet,
        &w![
            "What time are they meeting?",
            "When will they meet?",
            "At what time does {a} want to meet?",
            "What time is the meet-up?"
        ],
    );
    d.ask(
        g,
        When,
        &t_free,
        &w![
            "When can {b} get there?",
            "What's the earliest {b} can arrive?",
            "From what time can {b} come?",
            "When is {b} free?"
        ],
    );
    d.ask(
        g,
        Where,
        &landmark,
        &w![
            "Where will they meet?",
            "Where is the meeting point?",
            "Where should everyone wait?",
            "Where does {a} say to meet?"
        ],
    );
    d.ask(
        g,
        Where,
        &place,
        &w![
            "Where does {a} want to go?",
            "Where are they going on {day}?",
            "Where is the trip to?",
            "What place are they visiting?"
        ],
    );
    d.ask(
        g,
        When,
        &day,
        &w![
            "Which day is the trip?",
            "What day are they going?",
            "What day is the outing?",
            "On what day are they going to {place}?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &n,
        &w![
            "How many {food} is {c} bringing?",
            "How many {food} will there be?",
            "How many {food} did {c} offer?",
            "how many {food}"
        ],
    );
    d.unknown(
        g,
        "nobody offers drinks",
        |_| "lemonade".to_string(),
        &["drink", "juice", "lemonade", "water", "tea ", "tea.", "coffee"],
        &w![
            "Who is bringing drinks?",
            "Who will bring the drinks?",
            "What drinks will there be?",
            "Who's got the drinks?"
        ],
    );
    d.unknown(
        g,
        "nobody says how they travel",
        |_| "by bus".to_string(),
        &["bus", "train", "by car", "drive", "driving", "walk", "bike", "cycle", "a lift"],
        &w![
            "How are they getting to {place}?",
            "How will they travel there?",
            "Are they going by bus or train?",
            "How will they get there?"
        ],
    );
    d
}

/// An email: a meeting moved, a school trip, or a delivery.
pub fn email(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let sender = g.person();
    let sfirst = sender.name.clone();
    let sname = if g.chance(0.6) { format!("{} {}", sender.name, g.surname()) } else { sender.name.clone() };
    g.claim(&sname);
    let style = g.time_style();
    match g.range(0, 2) {
        0 => meeting_email(g, &mut d, &sfirst, &sname, style),
        1 => school_trip_letter(g, &mut d, &sname, style),
        _ => order_email(g, &mut d, &sname, style),
    }
    d
}

/// A work email: a meeting moved to another room and time.
fn meeting_email(g: &mut Gen, d: &mut Draft, sfirst: &str, sname: &str, style: TimeStyle) {
    let r = g.person().name;
    let team = g.one(&["team", "project", "planning", "budget", "safety"]);
    let day = g.day();
    let room = |g: &mut Gen| {
        g.fresh(|g| match g.range(0, 2) {
            0 => format!("Room {}", g.range(2, 40)),
            1 => format!("the {} Room", upper_first(&g.pick(words::colours()))),
            _ => format!("the {} Room", g.pick(words::place_nouns())),
        })
    };
    let room1 = room(g);
    let room2 = room(g);
    let why = g.pick(words::CLOSE_REASONS);
    let t0 = g.time(9, 16, style);
    let t1 = g.time(9, 16, style);
    let (item, purpose) = g.pick(&[
        ("your laptop", "so we can look at the plans together"),
        ("the sales figures", "for the first item"),
        ("a copy of the plan", "as there won't be a screen"),
        ("your ID badge", "because the new room is locked"),
    ]);
    let scribe = g.person().name;
    d.line(format!("Subject: Change to {day}'s {team} meeting"));
    d.line(g.pick(&[format!("Hi {r},"), format!("Dear {r},"), format!("Hello {r},")]));
    let mut body = [
        format!("The {team} meeting on {day} has moved from {room1} to {room2} {why}."),
        g.pick(&[format!("It will now start at {t1} instead of {t0}."), format!("It now starts at {t1}, not {t0}.")]),
        format!("Please bring {item} {purpose}."),
        g.pick(&[format!("{scribe} will take the notes."), format!("{scribe} is taking notes this time.")]),
    ];
    g.shuffle(&mut body[2..]);
    d.line(body.join(" "));
    d.line(g.one(&["Thanks,", "Best wishes,", "Kind regards,", "Cheers,"]));
    d.line(sname);
    d.ask(
        g,
        Who,
        sname,
        &w!["Who sent the email?", "Who wrote this email?", "Who is the email from?", "Who signed the email?"],
    );
    d.ask(
        g,
        Who,
        &scribe,
        &w![
            "Who will take notes?",
            "Who is writing the notes at the meeting?",
            "Who's the note-taker?",
            "Who will keep the notes?"
        ],
    );
    d.ask(
        g,
        Where,
        &room2,
        &w![
            "Where is the meeting now?",
            "Which room is the meeting in now?",
            "Where will the {team} meeting be held?",
            "Where should {r} go for the meeting?"
        ],
    );
    d.ask(
        g,
        Where,
        &room1,
        &w![
            "Where was the meeting going to be?",
            "Which room was it in before?",
            "Where was the meeting first planned?",
            "What was the old room?"
        ],
    );
    d.ask(
        g,
        When,
        &t1,
        &w![
            "What time does the meeting start now?",
            "When will the meeting begin?",
            "What is the new start time?",
            "When does the {team} meeting start?"
        ],
    );
    d.ask(
        g,
        When,
        &t0,
        &w![
            "What time was the meeting meant to start?",
            "When was the old start time?",
            "At what time would the meeting have started?",
            "What was the first start time?"
        ],
    );
    d.ask(
        g,
        When,
        &day,
        &w![
            "Which day is the meeting?",
            "What day is the {team} meeting?",
            "What day of the week is the meeting?",
            "On which day is the meeting held?"
        ],
    );
    d.ask(
        g,
        Why,
        why,
        &w![
            "Why has the meeting moved?",
            "Why is the meeting in a new room?",
            "Why did the room change?",
            "What's the reason for the move?"
        ],
    );
    d.ask(
        g,
        Should,
        item,
        &w![
            "What should {r} bring?",
            "What does {sfirst} ask {r} to bring?",
            "What is needed at the meeting?",
            "What must {r} take along?"
        ],
    );
    d.unknown(
        g,
        "the email never says how long the meeting lasts",
        |g| g.duration(),
        &["minute", "hour", "until", "finish", "end"],
        &w![
            "How long will the meeting last?",
            "When does the meeting finish?",
            "How long is the {team} meeting?",
            "What time will it end?"
        ],
    );
}

/// A school's letter to parents about a class trip.
fn school_trip_letter(g: &mut Gen, d: &mut Draft, sname: &str, style: TimeStyle) {
    let class = g.digits(1, 6);
    let place = if g.chance(0.5) { g.outdoor_place() } else { format!("the {} Museum", g.town()) };
    let date = g.date();
    let school = format!("{} Primary", g.town());
    g.claim(&school);
    let t1 = g.time(8, 10, style);
    let t2 = g.time(14, 16, style);
    let col = g.colour();
    let price = g.price(2, 10);
    let (banned, why) = g.pick(&[
        ("glass bottles", "because they break easily"),
        ("fizzy drinks", "because the coach driver has asked us not to"),
        ("mobile phones", "because they get lost"),
        ("sweets with nuts", "because some children have allergies"),
    ]);
    let helpers = g.person().name;
    d.line(format!("Subject: Class {class} trip to {place}"));
    d.line("Dear parents,");
    let mut body = [
        format!("On {date}, Class {class} will visit {place}."),
        g.pick(&[
            format!("The coach leaves {school} at {t1} and gets back at about {t2}."),
            format!("We leave school at {t1} by coach and should be back by {t2}."),
        ]),
        format!("Children need a packed lunch, {} sun hat and {price} for the gift shop.", a_or_an(&col)),
        format!("Please do not send {banned} {why}."),
        format!("{} will come along to help.", helpers),
    ];
    g.shuffle(&mut body[2..]);
    d.line(body.join(" "));
    d.line(g.one(&["Thank you,", "Many thanks,", "Best wishes,"]));
    d.line(sname);
    if d.lines.iter().any(|l| l.contains(&school)) {
        d.ask(
            g,
            Name,
            &school,
            &w![
                "What is the school called?",
                "What's the name of the school?",
                "Which school is the coach leaving from?",
                "What school is the email from?"
            ],
        );
    }
    d.ask(
        g,
        Where,
        &place,
        &w![
            "Where is Class {class} going?",
            "Where is the trip?",
            "What place will the class visit?",
            "Where are the children going on {date}?"
        ],
    );
    d.ask(
        g,
        When,
        &date,
        &w![
            "What date is the trip?",
            "On what date is the visit?",
            "What date does Class {class} go?",
            "On what date will the class visit {place}?"
        ],
    );
    d.ask(
        g,
        When,
        &t1,
        &w![
            "When does the coach leave?",
            "What time do they set off?",
            "At what time does the coach go?",
            "What time should children be ready to leave?"
        ],
    );
    d.ask(
        g,
        When,
        &t2,
        &w![
            "When will they get back?",
            "What time is the coach back?",
            "When does the trip end?",
            "What time will the children return?"
        ],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour sun hat do children need?",
            "What colour should the hats be?",
            "Which colour hat should children bring?",
            "What colour is the sun hat?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &price,
        &w![
            "How much money should children bring?",
            "How much is needed for the gift shop?",
            "How much should each child take for the shop?",
            "how much for the gift shop"
        ],
    );
    d.ask(
        g,
        Why,
        why,
        &w![
            "Why should children not bring {banned}?",
            "Why are {banned} not allowed?",
            "Why does the school say no {banned}?",
            "What's the reason for no {banned}?"
        ],
    );
    d.ask(
        g,
        Who,
        &helpers,
        &w![
            "Who is coming to help?",
            "Who will help on the trip?",
            "Who is going along as a helper?",
            "Who else is going with the class?"
        ],
    );
    d.ask(
        g,
        Who,
        sname,
        &w!["Who sent the email?", "Who is the email from?", "Who wrote to the parents?", "Who signed the email?"],
    );
    d.unknown(
        g,
        "the coach journey's length is not given",
        |g| g.duration(),
        &["minute", "hour", "journey"],
        &w![
            "How long is the coach journey?",
            "How long does it take to get to {place}?",
            "How long will the drive be?"
        ],
    );
}

/// A shop's email about an order and its delivery.
fn order_email(g: &mut Gen, d: &mut Draft, sname: &str, style: TimeStyle) {
    let r = format!("{} {}", g.pick(&["Mr", "Mrs", "Ms"]), g.surname());
    g.claim(&r);
    let n = g.number(2, 12);
    let thing =
        g.fresh(|g| g.one(&["garden chairs", "lamps", "plant pots", "cushions", "bookshelves", "storage boxes"]));
    let date = g.date();
    let t1 = g.time(7, 12, style);
    let t2 = g.time(13, 19, style);
    let driver = g.person().name;
    let total = g.price(20, 300);
    let shop = format!("{} Home Supplies", g.town());
    g.claim(&shop);
    d.line(format!("Subject: Your order from {shop}"));
    d.line(format!("Dear {r},"));
    let mut body = vec![
        format!("Thank you for your order of {n} {thing}."),
        format!("They will arrive on {date} between {t1} and {t2}."),
        format!("Your driver, {driver}, will ring the bell and wait for {}.", g.minutes()),
        format!("You paid {total} in total."),
    ];
    g.shuffle(&mut body[1..]);
    if g.chance(0.5) {
        body.push("If nobody is home, we will leave them with a neighbour.".into());
    }
    d.line(body.join(" "));
    d.line("Best wishes,");
    d.line(format!("{sname}, {shop}"));
    d.ask(
        g,
        HowMany,
        &n,
        &w![
            "How many {thing} were ordered?",
            "How many {thing} is {r} getting?",
            "How many {thing} are coming?",
            "how many {thing} did {r} order"
        ],
    );
    d.ask(
        g,
        When,
        &date,
        &w![
            "When will the order arrive?",
            "On what date is the delivery?",
            "What day will the {thing} come?",
            "What date is the delivery?"
        ],
    );
    d.ask(
        g,
        When,
        &t1,
        &w![
            "What is the earliest the delivery could come?",
            "From what time could the {thing} arrive?",
            "When does the delivery window start?",
            "What's the earliest delivery time?"
        ],
    );
    d.ask(
        g,
        Who,
        &driver,
        &w![
            "Who is the driver?",
            "Who will bring the {thing}?",
            "Who is delivering the order?",
            "What is the driver's name?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &total,
        &w![
            "How much did {r} pay?",
            "How much did the order cost?",
            "What was the total?",
            "How much was paid in total?"
        ],
    );
    d.ask(
        g,
        Who,
        &r,
        &w![
            "Who is the email to?",
            "Who ordered the {thing}?",
            "Who is getting the delivery?",
            "Who was the email sent to?"
        ],
    );
    d.unknown(
        g,
        "no order number is given",
        |g| format!("order {}", g.digits(10000, 99999)),
        &["order number", "reference", "#"],
        &w!["What is the order number?", "What's the reference for the order?", "Which order number should {r} quote?"],
    );
}
