//! Templates of instructions: directions from a station, caring for a
//! plant or a pet while its owner is away, and the rules of a game.

use super::gen::{a_or_an, upper_first, Draft, Gen};
use super::words;
use super::Kind::*;

/// Instructions: directions, plant care, pet care, or the rules of a game.
pub fn instructions(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    match g.range(0, 3) {
        0 => directions(g, &mut d),
        1 => plant_care(g, &mut d),
        2 => pet_care(g, &mut d),
        _ => game_rules(g, &mut d),
    }
    d
}

/// Directions from a station to a friend's house, turn by turn.
fn directions(g: &mut Gen, d: &mut Draft) {
    let host = g.person();
    let hn = host.name.clone();
    let dest = format!("{hn}'s house");
    g.claim(&dest);
    let station = format!("{} station", g.town());
    g.claim(&station);
    let turn = g.one(&["left", "right"]);
    let street = g.street();
    let dur = g.minutes();
    let col = g.colour();
    let landmark = g.one(&["post box", "phone box", "shop front", "church door", "bridge"]);
    let cross = g.one(&["the roundabout", "the traffic lights", "the zebra crossing", "the fountain"]);
    let n = g.digits(2, 99);
    let door = g.colour();
    let opposite = g.venue();
    let too_far = g.cafe();
    d.line(format!("How to find {dest} from {station}:"));
    let mut steps = vec![
        format!("Come out of the station and turn {turn} onto {street}."),
        format!("Walk for about {dur}, past the {col} {landmark}."),
        format!("At {cross}, cross the road."),
        g.pick(&[
            format!("It's number {n}, opposite {opposite}."),
            format!("It's the house with the {door} door, number {n}, opposite {opposite}."),
        ]),
    ];
    if g.chance(0.6) {
        steps.push(format!("If you reach {too_far}, you have gone too far."));
    }
    let text = steps.join(" ");
    for s in steps {
        d.line(s);
    }
    d.ask(
        g,
        What,
        &turn,
        &w![
            "Which way should you turn out of the station?",
            "Which way do you turn onto {street}?",
            "Which direction do you go from the station?",
            "Out of the station, which way do you turn?"
        ],
    );
    d.ask(
        g,
        Where,
        &street,
        &w![
            "Which street do you turn onto?",
            "What street is after the station?",
            "Where do you walk after leaving the station?",
            "What road do you take from the station?"
        ],
    );
    d.ask(
        g,
        HowLong,
        &dur,
        &w![
            "How long is the walk along {street}?",
            "How long do you walk for?",
            "For how long should you walk?",
            "How many minutes is the walk?"
        ],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour is the {landmark}?",
            "What colour {landmark} do you pass?",
            "Which colour is the {landmark} on the way?",
            "What colour is the {landmark} you walk past?"
        ],
    );
    d.ask(
        g,
        Where,
        &cross,
        &w![
            "Where do you cross the road?",
            "At which point should you cross?",
            "Where should you cross over?",
            "Where is the crossing point?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &n,
        &w![
            "What number is {dest}?",
            "What is the house number?",
            "Which number is the house?",
            "What number does {hn} live at?"
        ],
    );
    d.ask(
        g,
        Where,
        &opposite,
        &w![
            "What is the house opposite?",
            "What is across the road from the house?",
            "The house is opposite what?",
            "What can you see opposite the house?"
        ],
    );
    if text.contains(&format!("{door} door")) {
        d.ask(
            g,
            Colour,
            &door,
            &w![
                "What colour is the front door?",
                "What colour door does the house have?",
                "Which colour is {hn}'s door?",
                "What colour is the door of the house?"
            ],
        );
    }
    if text.contains(&too_far) {
        d.ask(
            g,
            Where,
            &too_far,
            &w![
                "Where have you gone too far?",
                "Which place tells you that you've gone too far?",
                "What should you not walk past?",
                "If you reach which place have you missed it?"
            ],
        );
    }
    d.unknown(
        g,
        "no distance is given",
        |_| "two miles".to_string(),
        &["mile", "kilomet", "km", "metres", "yards"],
        &w![
            "How far is the house from the station in miles?",
            "How many miles is the walk?",
            "What is the distance in kilometres?"
        ],
    );
    d.unknown(
        g,
        "no bus is mentioned",
        |g| format!("the number {}", g.digits(2, 99)),
        &["bus", "tram"],
        &w!["Which bus goes to {dest}?", "What bus should you take?", "Which bus number do you need?"],
    );
}

/// Looking after a house plant while its owner is away.
fn plant_care(g: &mut Gen, d: &mut Draft) {
    let owner = g.person();
    let o = owner.name.clone();
    let plant = g.one(&["fern", "cactus", "orchid", "lemon tree", "spider plant", "basil plant", "rubber plant"]);
    let named = g.chance(0.5);
    let pname = g.pet_name();
    let every = format!("every {} days", g.number(2, 7));
    let amount =
        g.one(&["half a cup of water", "a small glass of water", "a full jug of water", "a splash of rainwater"]);
    let why = g.one(&["because the leaves burn easily", "because it dries out fast", "because it likes the shade"]);
    let spot = g.one(&[
        "the windowsill in the kitchen",
        "the windowsill in the bathroom",
        "the windowsill in the spare room",
        "the windowsill on the landing",
        "the shelf by the back door",
    ]);
    let col = g.colour();
    let feed = g.one(&["once a month", "every two weeks", "every Sunday"]);
    d.line(g.pick(&[format!("Looking after my {plant} while I'm away"), format!("Plant care ({o})")]));
    if named {
        d.line(g.pick(&[format!("This is {pname}, my {plant}."), format!("My {plant} is called {pname}.")]));
    }
    let mut lines = vec![
        format!("Water it {every} with {amount}."),
        format!("Keep it out of direct sun, {why}."),
        format!("It likes {spot}."),
        format!("Feed it {feed} with the plant food in the {col} bottle under the sink."),
        g.one(&[
            "Don't put it near the radiator.",
            "Turn it round now and then so it grows straight.",
            "Pick off any brown leaves.",
        ]),
    ];
    g.shuffle(&mut lines);
    for l in lines {
        d.line(l);
    }
    d.line(format!("Thank you! {o}"));
    d.ask(
        g,
        When,
        &every,
        &w![
            "How often should the {plant} be watered?",
            "How often does the {plant} need water?",
            "When should it be watered?",
            "How often do you water it?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &amount,
        &w![
            "How much water does the {plant} get?",
            "How much water should you give it?",
            "What amount of water does it need?",
            "How much should you water it with?"
        ],
    );
    d.ask(
        g,
        Why,
        &why,
        &w![
            "Why should the {plant} stay out of direct sun?",
            "Why keep it out of the sun?",
            "Why shouldn't the {plant} be in the sun?",
            "What's the reason to keep it out of the sun?"
        ],
    );
    d.ask(
        g,
        Where,
        &spot,
        &w![
            "Where does the {plant} like to be?",
            "Where should the {plant} stand?",
            "What is the {plant}'s favourite spot?",
            "Where should you keep the {plant}?"
        ],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour is the plant food bottle?",
            "What colour bottle is the plant food in?",
            "Which colour bottle holds the food?",
            "What colour is the bottle under the sink?"
        ],
    );
    d.ask(
        g,
        When,
        &feed,
        &w![
            "How often should the {plant} be fed?",
            "When does it get plant food?",
            "How often does it need feeding?",
            "How often do you give it plant food?"
        ],
    );
    d.ask(
        g,
        Who,
        &o,
        &w!["Whose {plant} is it?", "Who owns the {plant}?", "Who wrote the instructions?", "Who is going away?"],
    );
    if named {
        d.ask(
            g,
            Name,
            &pname,
            &w![
                "What is the {plant} called?",
                "What's the {plant}'s name?",
                "What name does the {plant} have?",
                "What did {o} name the {plant}?"
            ],
        );
    } else {
        d.unknown(
            g,
            "the plant has no name",
            |_| pname.to_string(),
            &["called", "named", "this is"],
            &w!["What is the {plant} called?", "What's the {plant}'s name?", "What name did {o} give the {plant}?"],
        );
    }
}

/// A letter to a pet sitter: feeding, walks, where things are.
fn pet_care(g: &mut Gen, d: &mut Draft) {
    let pet = g.pet_name();
    let animal = g.one(&["dog", "cat", "rabbit", "tortoise", "guinea pig"]);
    let female = g.chance(0.5);
    let (she, her) = if female { ("she", "her") } else { ("he", "his") };
    let owner = g.person().name;
    let sitter = g.person().name;
    let n = g.number(1, 4);
    let k = g.number(1, 4);
    let food = g.one(&["dry food", "biscuits", "pellets", "tinned food"]);
    let hook = if animal == "dog" {
        format!("on the hook by the {} door", g.colour())
    } else {
        format!("in the {} tub by the back door", g.colour())
    };
    let dur = g.duration();
    let park = g.park();
    let fear = g.pick(words::FEARS);
    let vet = g.titled(&["Dr"]);
    let street = g.street();
    let back = g.day();
    d.line(format!("Dear {sitter},"));
    let mut lines = vec![
        format!("Thanks for looking after our {animal}, {pet}!"),
        format!(
            "{} eats {n} {} of {food} in the morning and {k} in the evening.",
            upper_first(she),
            if n == "1" || n == "one" { "scoop" } else { "scoops" }
        ),
        if animal == "dog" {
            format!(
                "{} lead is {hook}. Walk {} around {park} for about {dur}.",
                upper_first(her),
                if female { "her" } else { "him" }
            )
        } else {
            format!("The spare food is {hook}. {} likes about {dur} in the garden on sunny days.", upper_first(she))
        },
        format!(
            "{} is scared of {fear}, so give {} a cuddle if {she} hides.",
            upper_first(she),
            if female { "her" } else { "him" }
        ),
        format!("If anything goes wrong, the vet is {vet} on {street}."),
        format!("We're back on {back}."),
    ];
    g.shuffle(&mut lines[1..5]);
    for l in lines {
        d.line(l);
    }
    d.line(owner.clone());
    d.ask(
        g,
        Name,
        &pet,
        &w![
            "What is the {animal} called?",
            "What's the {animal}'s name?",
            "What is the name of the {animal}?",
            "whats the {animal} called",
            "What should {sitter} call the {animal}?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &n,
        &w![
            "How many scoops does {pet} get in the morning?",
            "How much food does {pet} have at breakfast?",
            "How many scoops of {food} in the morning?",
            "How many morning scoops does {pet} eat?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &k,
        &w![
            "How many scoops does {pet} get in the evening?",
            "How much food does {pet} eat at night?",
            "How many scoops of {food} in the evening?",
            "How many evening scoops does {pet} have?"
        ],
    );
    if animal == "dog" {
        d.ask(
            g,
            Where,
            &hook,
            &w![
                "Where is the lead?",
                "Where can {sitter} find {pet}'s lead?",
                "Where does the lead hang?",
                "Where is {pet}'s lead kept?"
            ],
        );
        d.ask(
            g,
            HowLong,
            &dur,
            &w![
                "How long should the walk be?",
                "How long should {sitter} walk {pet} for?",
                "For how long does {pet} go to {park}?",
                "How long is {pet}'s walk?"
            ],
        );
    } else {
        d.ask(
            g,
            Where,
            &hook,
            &w![
                "Where is the spare food?",
                "Where can {sitter} find more food?",
                "Where is the extra food kept?",
                "Where does {owner} keep the spare food?"
            ],
        );
        d.ask(
            g,
            HowLong,
            &dur,
            &w![
                "How long does {pet} like outside?",
                "How much time should {pet} spend in the garden?",
                "For how long does {pet} go out in the garden?",
                "How long is {pet}'s time outside?"
            ],
        );
    }
    d.ask(
        g,
        What,
        fear,
        &w![
            "What is {pet} afraid of?",
            "What frightens {pet}?",
            "What does {pet} not like?",
            "What is the {animal} scared of?"
        ],
    );
    d.ask(
        g,
        Who,
        &vet,
        &w![
            "Who is the vet?",
            "Who should {sitter} call if {pet} is ill?",
            "Which vet looks after {pet}?",
            "Who looks after {pet} when {she} is ill?"
        ],
    );
    d.ask(
        g,
        Where,
        &street,
        &w![
            "Where is the vet?",
            "On which street is the vet?",
            "Where can {sitter} find the vet?",
            "What street is {vet} on?"
        ],
    );
    d.ask(
        g,
        When,
        &back,
        &w![
            "When is {owner} back?",
            "Which day will the owners return?",
            "When do they come home?",
            "What day are they back?"
        ],
    );
    d.ask(
        g,
        Who,
        &sitter,
        &w![
            "Who is looking after {pet}?",
            "Who is the note for?",
            "Who is minding the {animal}?",
            "Who is {pet}'s sitter?"
        ],
    );
    d.unknown(
        g,
        "no age is given",
        |g| format!("{} years old", g.digits(2, 14)),
        &["years old", " age ", "born"],
        &w!["How old is {pet}?", "What age is the {animal}?", "How many years old is {pet}?"],
    );
    d.unknown(
        g,
        "no phone number is given",
        |g| g.phone(),
        &["phone", "call", "ring", "number"],
        &w!["What is the vet's phone number?", "What number should {sitter} ring?", "What's {owner}'s phone number?"],
    );
}

/// The rules of a made-up card game.
fn game_rules(g: &mut Gen, d: &mut Draft) {
    let game = g.fresh(|g| {
        let a = g.pick(words::syllable_start());
        let b = g.pick(words::person_end());
        format!("{a}{b}")
    });
    let players = g.number(2, 6);
    let cards = g.number(3, 10);
    let col = g.colour();
    let thing = g.one(&["ball", "dice", "counter", "spinner"]);
    let first = g.one(&[
        "The youngest player",
        "The oldest player",
        "The player with the longest hair",
        "Whoever last saw a bird",
    ]);
    let six = g.one(&[
        "you miss a turn",
        "you swap cards with the player on your left",
        "you go back three spaces",
        "you take an extra card",
    ]);
    let points = g.digits(10, 50);
    let dur = g.duration();
    d.line(format!("How to play {game}"));
    let mut lines = vec![
        format!("You need {players} players, {cards} cards each and {} {thing}.", a_or_an(&col)),
        format!("{first} goes first."),
        format!("If you roll a six, {six}."),
        format!("The first person to reach {points} points wins."),
        format!("A game takes about {dur}."),
    ];
    g.shuffle(&mut lines[1..]);
    for l in lines {
        d.line(l);
    }
    d.ask(
        g,
        Name,
        &game,
        &w![
            "What is the game called?",
            "What's the name of the game?",
            "What game are these rules for?",
            "What is this game's name?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &players,
        &w![
            "How many players do you need?",
            "How many people can play {game}?",
            "How many players does {game} need?",
            "how many players"
        ],
    );
    d.ask(
        g,
        HowMany,
        &cards,
        &w![
            "How many cards does each player get?",
            "How many cards do you start with?",
            "How many cards each?",
            "How many cards does every player have?"
        ],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour is the {thing}?",
            "What colour {thing} do you need?",
            "Which colour {thing} is used?",
            "What colour should the {thing} be?"
        ],
    );
    d.ask(
        g,
        Who,
        &first,
        &w!["Who goes first?", "Who starts the game?", "Who takes the first turn?", "Who plays first?"],
    );
    d.ask(
        g,
        What,
        &six,
        &w![
            "What happens if you roll a six?",
            "What happens when you throw a six?",
            "What does a six mean?",
            "If you get a six, what happens?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &points,
        &w![
            "How many points do you need to win?",
            "How many points wins the game?",
            "What score do you need to win?",
            "How many points to win?"
        ],
    );
    d.ask(
        g,
        HowLong,
        &dur,
        &w![
            "How long does a game take?",
            "How long does {game} last?",
            "How long is one game?",
            "How much time does a game take?"
        ],
    );
    d.unknown(
        g,
        "no prize is mentioned",
        |_| "a gold star".to_string(),
        &["prize", "reward"],
        &w!["What is the prize for winning?", "What does the winner get?", "What do you win?"],
    );
    d.unknown(
        g,
        "ties are not covered",
        |_| "play one more round".to_string(),
        &["tie", "draw", "same score"],
        &w![
            "What happens if two players tie?",
            "What if there is a draw?",
            "What happens when players have the same score?"
        ],
    );
}
