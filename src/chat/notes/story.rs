//! Short stories about people with uncommon names: a lost thing found by a
//! neighbour, a ferry trip to an island, a village show, a new family and a
//! neighbour's dog.

use super::gen::{a_or_an, at_place, upper_first, Draft, Gen, TimeStyle};
use super::words;
use super::Kind::*;

/// A short story about people with uncommon names.
pub fn story(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    match g.range(0, 3) {
        0 => shopping_story(g, &mut d),
        1 => ferry_story(g, &mut d),
        2 => village_show_story(g, &mut d),
        _ => new_neighbours_story(g, &mut d),
    }
    d
}

/// A child's weekly errand to a shop, something lost on the way and a kindness repaid.
fn shopping_story(g: &mut Gen, d: &mut Draft) {
    let a = g.person();
    let an = a.name.clone();
    let b = g.person();
    let bn = b.name.clone();
    let rel = if b.female { "grandmother" } else { "grandfather" };
    let street = g.street();
    let day = g.day();
    let shop = g.cafe();
    let food = g.food();
    let n = g.number(2, 12);
    let col = g.colour();
    let obj = g.fresh(|g| g.one(&["scarf", "hat", "glove", "umbrella", "purse", "library card"]));
    let c = g.person();
    let cn = c.name.clone();
    let job = g.one(&["postman", "baker", "bus driver", "nurse", "painter", "window cleaner"]);
    let park = g.park();
    let style = g.casual_time_style();
    let t = g.time(10, 18, style);
    let dish = g.pick(words::dishes());
    let she = a.she();
    let her = a.her();
    let because = format!("because {} had been so kind", c.she());
    d.line(format!("{an} lived with {her} {rel}, {bn}, in a small flat on {street}."));
    d.line(format!("Every {day}, {an} walked to {shop} to buy {n} {food}."));
    d.line(format!("One morning, {she} lost {her} {col} {obj} on the way."));
    let found_at = format!("under a bench {}", at_place(&park));
    d.line(format!("{cn}, the {job} from number {}, found it {found_at}.", g.digits(2, 90)));
    d.line(format!("{} brought it back at {t}.", upper_first(c.she())));
    let some = ["s", "rice", "pasta", "soup", "bread"].iter().any(|e| dish.ends_with(e));
    let dish_np = if some { format!("some {dish}") } else { a_or_an(&dish) };
    d.line(format!("{an} baked {cn} {dish_np}, {because}."));
    if g.chance(0.5) {
        d.ask(
            g,
            Who,
            &bn,
            &w![
                "Who does {an} live with?",
                "Who is {an}'s {rel}?",
                "Who shares the flat with {an}?",
                "Who lives with {an}?"
            ],
        );
    } else {
        d.ask(
            g,
            Name,
            &bn,
            &w![
                "What is the name of {an}'s {rel}?",
                "What is {an}'s {rel} called?",
                "What's {an}'s {rel}'s name?",
                "what is {an}s {rel} called"
            ],
        );
    }
    d.ask(
        g,
        Where,
        &street,
        &w![
            "Which street does {an} live on?",
            "Where is the flat?",
            "On what street is their flat?",
            "Where do {an} and {bn} live?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &n,
        &w![
            "How many {food} does {an} buy?",
            "How many {food} does {an} get every {day}?",
            "How many {food} does {an} buy each week?",
            "how many {food}"
        ],
    );
    d.ask(
        g,
        What,
        &format!("{her} {col} {obj}"),
        &w!["What did {an} lose?", "What went missing on the way?", "What did {an} drop?", "What did {cn} find?"],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour was the {obj}?",
            "What colour was {an}'s {obj}?",
            "Which colour {obj} did {an} lose?",
            "What colour is the lost {obj}?"
        ],
    );
    d.ask(
        g,
        Who,
        &cn,
        &w![
            "Who found the {obj}?",
            "Who brought the {obj} back?",
            "Who returned {an}'s {obj}?",
            "Who found what {an} lost?"
        ],
    );
    d.ask(
        g,
        Where,
        &found_at,
        &w![
            "Where was the {obj} found?",
            "Where did {cn} find it?",
            "Where was the lost {obj}?",
            "Where did the {obj} turn up?"
        ],
    );
    d.ask(
        g,
        When,
        &t,
        &w![
            "When did {cn} bring it back?",
            "What time was the {obj} returned?",
            "At what time did {cn} return the {obj}?",
            "When did {an} get the {obj} back?"
        ],
    );
    d.ask(
        g,
        What,
        &job,
        &w![
            "What is {cn}'s job?",
            "What does {cn} do for work?",
            "What work does {cn} do?",
            "What job does {cn} have?"
        ],
    );
    d.ask(
        g,
        What,
        &dish,
        &w![
            "What did {an} bake?",
            "What did {an} make for {cn}?",
            "What did {cn} get as a thank-you?",
            "What did {an} bake for {cn}?"
        ],
    );
    d.ask(
        g,
        Why,
        &because,
        &w![
            "Why did {an} bake for {cn}?",
            "Why did {an} make {cn} something?",
            "Why did {cn} get a treat?",
            "Why did {an} bake {cn} a present?"
        ],
    );
    d.ask(
        g,
        Where,
        &shop,
        &w![
            "Where does {an} go every {day}?",
            "Where does {an} buy {food}?",
            "Where was {an} walking to?",
            "Which shop does {an} visit?"
        ],
    );
    d.unknown(
        g,
        "ages are never given",
        |g| format!("{} years old", g.digits(6, 12)),
        &["years old", "aged ", " age "],
        &w!["How old is {an}?", "What age is {an}?", "How old is {bn}?"],
    );
}

/// Two children's ferry trip to an aunt or uncle on an island.
fn ferry_story(g: &mut Gen, d: &mut Draft) {
    let a = g.person();
    let an = a.name.clone();
    let b = g.person();
    let bn = b.name.clone();
    let aunt = g.person();
    let rel = if aunt.female { "aunt" } else { "uncle" };
    let auntn = aunt.name.clone();
    let island = g.fresh(|g| format!("{} Island", g.town()));
    let style = g.time_style();
    let t = g.time(7, 15, style);
    let dur = g.duration();
    let n = g.number(3, 30);
    let animal = g.one(&["seals", "puffins", "dolphins", "otters", "herons"]);
    let rocks = g.one(&["on the rocks near the harbour", "in the bay below the lighthouse", "by the old pier"]);
    let dish = g.pick(words::dishes());
    let day = g.day();
    let why = g.one(&[
        "because school started again",
        "because the ferry was stopping for winter",
        "because their dad missed them",
    ]);
    d.line(format!("{an} and {bn} took the ferry to {island} to visit their {rel}, {auntn}."));
    d.line(format!("The ferry left at {t}, and the crossing took {dur}."));
    d.line(format!("{bn} felt sick on the boat, so {an} held {} hand the whole way.", b.her()));
    d.line(format!("On the island they counted {n} {animal} {rocks}."));
    d.line(format!("{auntn} made {dish} for dinner."));
    d.line(format!("They went home on {day} {why}."));
    if g.chance(0.5) {
        d.ask(
            g,
            Where,
            &island,
            &w![
                "Where did {an} and {bn} go?",
                "Where does their {rel} live?",
                "Where did the ferry take them?",
                "Which island did they visit?"
            ],
        );
    } else {
        d.ask(
            g,
            Name,
            &island,
            &w![
                "What is the island called?",
                "What's the name of the island?",
                "What is the name of the island their {rel} lives on?",
                "whats the island called"
            ],
        );
    }
    d.ask(
        g,
        Who,
        &auntn,
        &w![
            "Who did they visit?",
            "Who were they going to see?",
            "Who is their {rel}?",
            "Who did {an} and {bn} stay with?"
        ],
    );
    d.ask(
        g,
        When,
        &t,
        &w![
            "When did the ferry leave?",
            "What time did the ferry set off?",
            "At what time did the boat go?",
            "What time was the ferry?"
        ],
    );
    d.ask(
        g,
        HowLong,
        &dur,
        &w![
            "How long was the crossing?",
            "How long did the ferry take?",
            "How long were they on the boat?",
            "How much time did the crossing take?"
        ],
    );
    d.ask(
        g,
        Who,
        &bn,
        &w!["Who felt sick?", "Who was ill on the boat?", "Who didn't feel well on the ferry?", "Who was seasick?"],
    );
    d.ask(
        g,
        HowMany,
        &n,
        &w![
            "How many {animal} did they count?",
            "How many {animal} did they see?",
            "How many {animal} were there?",
            "how many {animal}"
        ],
    );
    d.ask(
        g,
        Where,
        &rocks,
        &w![
            "Where were the {animal}?",
            "Where did they see the {animal}?",
            "Where were the {animal} counted?",
            "Where did the {animal} sit?"
        ],
    );
    d.ask(
        g,
        What,
        &dish,
        &w![
            "What did {auntn} cook?",
            "What was for dinner?",
            "What did {auntn} make for dinner?",
            "What did they eat at {auntn}'s?"
        ],
    );
    d.ask(
        g,
        When,
        &day,
        &w![
            "When did they go home?",
            "What day did they leave?",
            "On which day did they return home?",
            "When did they head back?"
        ],
    );
    d.ask(
        g,
        Why,
        &why,
        &w![
            "Why did they go home?",
            "Why did they leave the island?",
            "Why did {an} and {bn} return?",
            "Why did the visit end?"
        ],
    );
    d.unknown(
        g,
        "the fare is not given",
        |g| g.price(2, 20),
        &["£", "$", "€", "ticket", "fare"],
        &w!["How much were the ferry tickets?", "What did the ferry cost?", "How much was the fare?"],
    );
}

/// A village show: a giant vegetable, the other entries and who won the prize.
fn village_show_story(g: &mut Gen, d: &mut Draft) {
    let town = g.town();
    let day = g.day();
    let a = g.person();
    let an = a.name.clone();
    let b = g.person();
    let bn = b.name.clone();
    let veg = g.one(&["pumpkin", "marrow", "cabbage", "onion", "sunflower"]);
    let kilos = g.digits(3, 30);
    let entry = g.one(&["plum jam", "apple pie", "knitted blanket", "carved spoon", "rhubarb chutney"]);
    let judge = g.titled(&["Mrs", "Mr", "Ms"]);
    let price = g.price(5, 50);
    let col = g.colour();
    let because = format!("because {} had won a prize for {} honey the year before", a.she(), a.her());
    d.line(format!("The {town} village show was held on {day}."));
    d.line(format!("{an} entered {} giant {veg}, which weighed {kilos} kilos.", a.her()));
    d.line(format!("{bn} entered {} {entry}.", b.her()));
    d.line(format!("The judge, {judge}, gave first prize to {bn}, and {an} came second."));
    d.line(format!("{an} was not upset, {because}."));
    d.line(format!("The winner got {price} and {} rosette.", a_or_an(&col)));
    d.ask(g, Who, &bn, &w!["Who won first prize?", "Who came first?", "Who was the winner?", "Who got first place?"]);
    d.ask(
        g,
        Who,
        &judge,
        &w!["Who was the judge?", "Who judged the show?", "Who gave out the prizes?", "Who chose the winner?"],
    );
    d.ask(
        g,
        HowMany,
        &format!("{kilos} kilos"),
        &w![
            "How much did the {veg} weigh?",
            "How heavy was {an}'s {veg}?",
            "What was the weight of the {veg}?",
            "How many kilos was the {veg}?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &price,
        &w![
            "How much money did the winner get?",
            "What was the prize money?",
            "How much did {bn} win?",
            "How much was first prize?"
        ],
    );
    d.ask(
        g,
        Colour,
        &col,
        &w![
            "What colour was the rosette?",
            "What colour rosette did the winner get?",
            "Which colour was the prize rosette?",
            "What colour is the rosette?"
        ],
    );
    d.ask(
        g,
        Why,
        &because,
        &w![
            "Why was {an} not upset?",
            "Why didn't {an} mind coming second?",
            "Why was {an} still happy?",
            "Why wasn't {an} sad?"
        ],
    );
    d.ask(
        g,
        Where,
        &town,
        &w![
            "Where was the show?",
            "Which village held the show?",
            "Where did the show take place?",
            "Where was the village show held?"
        ],
    );
    d.ask(
        g,
        When,
        &day,
        &w![
            "When was the show?",
            "What day was the show held?",
            "On which day was the show?",
            "When did the show take place?"
        ],
    );
    d.ask(
        g,
        What,
        &entry,
        &w![
            "What did {bn} enter?",
            "What won first prize?",
            "What did {bn} take to the show?",
            "What was {bn}'s entry?"
        ],
    );
    d.unknown(
        g,
        "the time is not given",
        |g| g.time(9, 14, TimeStyle::Colon),
        &["o'clock", "noon", "start", "open", "judging began"],
        &w!["What time did the show start?", "When did the show open?", "At what time was the judging?"],
    );
}

/// A new family on the street and a walk with the neighbour's dog.
fn new_neighbours_story(g: &mut Gen, d: &mut Draft) {
    let n = g.digits(2, 90);
    let street = g.street();
    let a = g.person();
    let an = a.name.clone();
    let age = g.number(6, 12);
    let hobby = g.one(&["drawing maps", "building robots", "playing the trumpet", "collecting stones", "juggling"]);
    let day = g.day();
    let b = g.titled(&["Mrs", "Mr"]);
    let pet = g.pet_name();
    let park = g.park();
    let child = if a.female { "daughter" } else { "son" };
    let (she, her) = (a.she(), a.her());
    let style = g.casual_time_style();
    let t = g.time(10, 18, style);
    let why = g.one(&[
        "because he gets tired quickly",
        "because he is getting old",
        "because his paws are sore",
        "because he pulls on the lead",
    ]);
    d.line(format!("A new family moved into number {n} on {street}."));
    d.line(format!("Their {child}, {an}, is {age} and loves {hobby}."));
    d.line(format!("On {day}, {she} knocked on {b}'s door to ask if {b}'s dog, {pet}, could come for a walk."));
    d.line(format!("{b} said yes, but only as far as {park}, {why}."));
    d.line(format!("They came back at {t}, and {an} said it was the best part of {her} week."));
    d.ask(
        g,
        Where,
        &format!("number {n} on {street}"),
        &w![
            "Where did the new family move?",
            "Which house did the family move into?",
            "Where does {an} live now?",
            "Where is the family's new home?"
        ],
    );
    d.ask(
        g,
        HowMany,
        &age,
        &w!["How old is {an}?", "What age is {an}?", "How old is the {child}?", "How many years old is {an}?"],
    );
    d.ask(
        g,
        What,
        &hobby,
        &w![
            "What does {an} love?",
            "What is {an}'s hobby?",
            "What does {an} like doing?",
            "What does the new {child} enjoy doing?"
        ],
    );
    d.ask(
        g,
        Name,
        &pet,
        &w![
            "What is the dog called?",
            "What's the name of {b}'s dog?",
            "What is {b}'s dog's name?",
            "whats the dogs name"
        ],
    );
    d.ask(
        g,
        Who,
        &b,
        &w![
            "Who owns the dog?",
            "Whose dog is {pet}?",
            "Who did {an} ask about the walk?",
            "Whose door did {an} knock on?"
        ],
    );
    d.ask(
        g,
        Where,
        &park,
        &w![
            "How far could they walk the dog?",
            "Where could {an} take {pet}?",
            "Where was the walk allowed to go?",
            "Where should the walk end?"
        ],
    );
    d.ask(
        g,
        Why,
        &why,
        &w![
            "Why could they only go as far as {park}?",
            "Why did {b} limit the walk?",
            "Why was the walk kept short?",
            "Why couldn't {pet} go further?"
        ],
    );
    d.ask(
        g,
        When,
        &t,
        &w![
            "When did they come back?",
            "What time did they get back?",
            "At what time did the walk end?",
            "When were they home again?"
        ],
    );
    d.unknown(
        g,
        "the breed is not given",
        |_| "spaniel".to_string(),
        &["spaniel", "terrier", "poodle", "labrador", "collie", "beagle", "greyhound", "breed"],
        &w!["What breed is {pet}?", "What kind of dog is {pet}?", "What type of dog does {b} have?"],
    );
    d.unknown(
        g,
        "the family's surname is not given",
        |g| g.surname(),
        &["surname", "family name"],
        &w!["What is {an}'s surname?", "What is the new family's surname?", "What's the family's last name?"],
    );
}
