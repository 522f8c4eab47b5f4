//! Templates of weather forecasts for invented towns and medicine labels.

use super::gen::{Draft, Gen};
use super::words;
use super::Kind::*;

/// A weather forecast for an invented town.
pub fn forecast(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let town = g.town();
    let day = g.day();
    let style = g.time_style();
    let morning = g.fresh(|g| g.one(&["bright and dry", "cloudy", "misty", "grey but dry", "sunny"]));
    let t_am = g.digits(6, 16);
    let shower_t = g.time(12, 16, style);
    let rain = g.fresh(|g| g.one(&["heavy showers", "thunderstorms", "steady rain", "sleet"]));
    let wind = g.digits(20, 60);
    let t_pm = g.digits(0, t_am.parse::<u32>().unwrap_or(6) - 2);
    let tomorrow =
        g.fresh(|g| g.one(&["sunny spells", "fog in the morning", "light snow", "more rain", "a dry, cold day"]));
    let (take, why) = g.pick(&[
        ("an umbrella", "because the showers will be sudden"),
        ("a waterproof", "because it will be wet on the way home"),
        ("a warm coat", "because the wind will be strong"),
        ("a warm coat", "because it will turn cold quickly"),
        ("your wellies", "because the paths will be slippery"),
        ("your wellies", "because the fields will be muddy"),
    ]);
    d.line(format!("Weather for {town}, {day}"));
    d.line(format!("Morning: {morning}, around {t_am} degrees."));
    d.line(format!("Afternoon: {rain} from about {shower_t}, with winds up to {wind} miles per hour."));
    d.line(format!("Evening: clearing, dropping to {t_pm} degrees."));
    d.line(format!("Tomorrow: {tomorrow}."));
    d.line(g.pick(&[
        format!("Take {take} if you are out after lunch, {why}."),
        format!("Best to take {take} after lunch, {why}."),
    ]));
    d.ask(
        g,
        Where,
        &town,
        &w![
            "Where is the forecast for?",
            "Which town is this weather for?",
            "What place is the forecast about?",
            "Where will this weather be?"
        ],
    );
    d.ask(
        g,
        What,
        &morning,
        &w![
            "What will the morning be like?",
            "What is the weather in the morning?",
            "How will the morning look?",
            "What's the morning weather?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &format!("{t_am} degrees"),
        &w![
            "How warm will it be in the morning?",
            "What is the morning temperature?",
            "How many degrees in the morning?",
            "What temperature is it in the morning?"
        ],
    );
    d.ask(
        g,
        When,
        &shower_t,
        &w![
            "When will the {rain} start?",
            "What time does the bad weather begin?",
            "From what time is the {rain} expected?",
            "When does the weather turn in the afternoon?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &format!("{wind} miles per hour"),
        &w![
            "How strong will the wind be?",
            "How fast will the winds get?",
            "What speed will the wind reach?",
            "How windy will it be?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &format!("{t_pm} degrees"),
        &w![
            "How cold will it get in the evening?",
            "What will the temperature drop to?",
            "What is the evening temperature?",
            "How many degrees in the evening?"
        ],
    );
    d.ask(
        g,
        What,
        &tomorrow,
        &w![
            "What is the weather tomorrow?",
            "What will tomorrow be like?",
            "What's the forecast for tomorrow?",
            "How will the weather be tomorrow?"
        ],
    );
    d.ask(
        g,
        Should,
        take,
        &w![
            "What should you take after lunch?",
            "What should people bring if they go out?",
            "What does the forecast say to take?",
            "What should you carry in the afternoon?"
        ],
    );
    d.ask(
        g,
        Why,
        why,
        &w![
            "Why should you take {take}?",
            "Why does the forecast say to take something?",
            "Why be careful after lunch?",
            "Why is {take} a good idea?"
        ],
    );
    d.unknown(
        g,
        "no rainfall amount is given",
        |_| "12 millimetres".to_string(),
        &["millimetre", "mm", "inch", "centimetre"],
        &w!["How much rain will fall?", "How many millimetres of rain are expected?", "How much rain is forecast?"],
    );
    d.unknown(
        g,
        "only tomorrow is given",
        |g| g.day(),
        &["weekend", "next week", "after tomorrow"],
        &w![
            "What will the weather be like at the weekend?",
            "What is the forecast for next week?",
            "What about the day after tomorrow?"
        ],
    );
    d
}

/// A medicine label.
pub fn label(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let med = g.fresh(|g| {
        let a = g.pick(words::syllable_start());
        let m = g.pick(words::syllable_mid());
        let e = g.pick(words::MEDICINE_ENDS);
        format!("{a}{m}{e}")
    });
    let mg = g.pick(&["50", "100", "200", "250", "500"]);
    let patient = format!("{} {}", g.person().name, g.surname());
    g.claim(&patient);
    let per = g.number(1, 2);
    let tablets = if per == "1" || per == "one" { "tablet" } else { "tablets" };
    let freq =
        g.one(&["twice a day", "three times a day", "every morning", "every four hours", "once a day at bedtime"]);
    let with = g.one(&["with food", "with a full glass of water", "after a meal", "with milk"]);
    let max = g.number(4, 8);
    let dont = g.one(&["drive", "drink alcohol", "use machines", "ride a bike"]);
    let store = g.digits(20, 30);
    let doctor = g.titled(&["Dr"]);
    let date = g.date();
    let days = g.number(5, 14);
    d.line(format!("{med} {mg} mg tablets"));
    d.line(format!("For: {patient}"));
    let mut lines = vec![
        format!("Take {per} {tablets} {freq} {with}."),
        format!("Do not take more than {max} tablets in 24 hours."),
        format!("Do not {dont} if these tablets make you sleepy."),
        format!("Finish the whole pack, which lasts {days} days."),
        format!("Store below {store} degrees, out of the reach of children."),
    ];
    g.shuffle(&mut lines[1..]);
    for l in lines {
        d.line(l);
    }
    d.line(format!("Prescribed by {doctor} on {date}"));
    d.ask(
        g,
        Name,
        &med,
        &w![
            "What is the medicine called?",
            "What's the name of the medicine?",
            "What are the tablets called?",
            "What is the name of the tablets?"
        ],
    );
    d.ask(
        g,
        Who,
        &patient,
        &w![
            "Who are the tablets for?",
            "Who is the medicine for?",
            "Whose tablets are these?",
            "Who should take the {med}?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &per,
        &w![
            "How many tablets should you take each time?",
            "How many tablets at a time?",
            "How many {med} tablets per dose?",
            "How many tablets make up a dose?"
        ],
    );
    d.ask(
        g,
        When,
        &freq,
        &w![
            "How often should the tablets be taken?",
            "When should you take them?",
            "How often do you take {med}?",
            "How often is a dose?"
        ],
    );
    d.ask(
        g,
        What,
        &with,
        &w![
            "How should you take the tablets?",
            "What should the tablets be taken with?",
            "Should you take them with anything?",
            "What goes with each dose?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &max,
        &w![
            "What is the most tablets you can take in a day?",
            "How many tablets at most in 24 hours?",
            "What is the daily limit?",
            "How many tablets is too many in a day?"
        ],
    );
    d.ask(
        g,
        Should,
        &dont,
        &w![
            "What should you not do if you feel sleepy?",
            "What must you avoid if the tablets make you drowsy?",
            "What is not allowed if you get sleepy?",
            "If they make you sleepy, what shouldn't you do?"
        ],
    );
    d.ask(
        g,
        HowLong,
        &format!("{days} days"),
        &w![
            "How long does the pack last?",
            "For how many days is the pack?",
            "How long will the course take?",
            "How many days does the pack last?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &format!("{store} degrees"),
        &w![
            "Below what temperature should they be kept?",
            "How warm can they be stored?",
            "What temperature should they stay under?",
            "Below how many degrees should you store them?"
        ],
    );
    d.ask(
        g,
        Who,
        &doctor,
        &w![
            "Who prescribed the tablets?",
            "Which doctor gave the medicine?",
            "Who wrote the prescription?",
            "Who is the doctor?"
        ],
    );
    d.ask(
        g,
        When,
        &date,
        &w![
            "When were the tablets prescribed?",
            "On what date was the medicine given?",
            "What date is the prescription?",
            "When did {doctor} prescribe them?"
        ],
    );
    d.unknown(
        g,
        "the condition is not on the label",
        |g| g.pick(words::CONDITIONS).to_string(),
        &["infection", "pain", "fever", "throat", "headache", "rash"],
        &w![
            "What are the tablets for?",
            "What illness is the medicine for?",
            "What is {med} used to treat?",
            "What is wrong with {patient}?"
        ],
    );
    d.unknown(
        g,
        "the price is not given",
        |g| g.price(2, 12),
        &["£", "$", "€", "price", "cost"],
        &w!["How much did the tablets cost?", "What is the price of the medicine?", "How much does a pack cost?"],
    );
    d
}
