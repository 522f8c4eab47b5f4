//! Templates of reminders (an appointment, library books due back) and
//! lists (shopping, jobs to do before a visit).

use super::gen::{Draft, Gen};
use super::Kind::*;

/// A reminder: an appointment, or library books due back.
pub fn reminder(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    let style = g.time_style();
    if g.chance(0.6) {
        let p = g.person().name;
        let appt = g.one(&[
            "a dental check-up",
            "an eye test",
            "a hearing test",
            "a blood test",
            "a physio session",
            "a flu jab",
        ]);
        let doc = if g.chance(0.6) { g.titled(&["Dr"]) } else { format!("nurse {}", g.person().name) };
        g.claim(&doc);
        let day = g.day();
        let date = g.date();
        let t = g.time(8, 17, style);
        let early = g.minutes();
        let address = g.address();
        let bring = g.one(&["your glasses", "a list of your medicines", "your appointment letter", "your old X-rays"]);
        let phone = g.phone();
        let hours = g.number(2, 48);
        d.line(g.one(&["REMINDER", "Appointment reminder", "Reminder:"]));
        let mut body = vec![
            g.pick(&[
                format!("{p}, you have {appt} with {doc} on {day} {date} at {t}."),
                format!(
                    "Hello {p}. Your {} with {doc} is at {t} on {day} {date}.",
                    appt.split_once(' ').map(|x| x.1).unwrap_or(&appt)
                ),
            ]),
            format!("Please arrive {early} early to fill in a form."),
            format!("We have moved to {address}."),
            format!("Bring {bring}."),
            format!("If you can't come, call {phone} at least {hours} hours before."),
        ];
        g.shuffle(&mut body[1..]);
        let keep = g.range(3, 5) as usize;
        body.truncate(keep);
        let text = body.join(" ");
        d.line(text.clone());
        d.ask(
            g,
            When,
            &t,
            &w![
                "What time is the appointment?",
                "When should {p} be there?",
                "At what time is {p} seeing {doc}?",
                "What time's the appointment?"
            ],
        );
        d.ask(
            g,
            When,
            &day,
            &w![
                "Which day is the appointment?",
                "On what day does {p} see {doc}?",
                "What day is it on?",
                "What day of the week is the appointment?"
            ],
        );
        d.ask(
            g,
            Who,
            &doc,
            &w![
                "Who is the appointment with?",
                "Who will {p} see?",
                "Who is {p} seeing?",
                "Which doctor or nurse will {p} see?"
            ],
        );
        d.ask(
            g,
            Who,
            &p,
            &w![
                "Who is the reminder for?",
                "Who has the appointment?",
                "Who is this reminder sent to?",
                "Whose appointment is it?"
            ],
        );
        if text.contains(&early) {
            d.ask(
                g,
                HowLong,
                &early,
                &w![
                    "How early should {p} arrive?",
                    "How long before the appointment should {p} get there?",
                    "How much time early should {p} come?",
                    "How early does {p} need to be?"
                ],
            );
        }
        if text.contains(&address) {
            d.ask(
                g,
                Where,
                &address,
                &w![
                    "Where is the appointment?",
                    "Where should {p} go?",
                    "What is the new address?",
                    "Where have they moved to?"
                ],
            );
        } else {
            d.unknown(
                g,
                "no address is given",
                |g| g.address(),
                &["moved to", "address", "Street", "Road", "Lane"],
                &w!["What is the address?", "Where is the clinic?", "Where should {p} go for the appointment?"],
            );
        }
        if text.contains(&bring) {
            d.ask(
                g,
                Should,
                &bring,
                &w![
                    "What should {p} bring?",
                    "What does {p} need to take?",
                    "What must {p} bring along?",
                    "What should {p} have with them?"
                ],
            );
        }
        if text.contains(&phone) {
            d.ask(
                g,
                What,
                &phone,
                &w![
                    "What number should {p} call to cancel?",
                    "What is the phone number?",
                    "Which number do you ring if you can't come?",
                    "What number should {p} ring?"
                ],
            );
            d.ask(
                g,
                HowMany,
                &hours,
                &w![
                    "How many hours' notice is needed to cancel?",
                    "How many hours before should {p} call?",
                    "How much notice, in hours, should {p} give?",
                    "How many hours ahead must {p} call?"
                ],
            );
        } else {
            d.unknown(
                g,
                "no phone number is given",
                |_| phone.to_string(),
                &["call", " ring", "phone", "07700", "555-"],
                &w![
                    "What number should {p} call to cancel?",
                    "What is the clinic's phone number?",
                    "Which number can {p} ring?"
                ],
            );
        }
        d.unknown(
            g,
            "the price is not given",
            |g| g.price(10, 60),
            &["£", "$", "€", "free", "cost", "pay"],
            &w![
                "How much does {appt} cost?",
                "How much will {p} have to pay?",
                "What is the price of the appointment?"
            ],
        );
    } else {
        let p = g.person().name;
        let date = g.date();
        let n = g.number(2, 9);
        let fee = g.price(0, 1);
        let lib = format!("{} Library", g.town());
        g.claim(&lib);
        let helper = g.person().name;
        let club = g.fresh(|g| g.one(&["reading club", "chess club", "craft club", "story time", "homework club"]));
        let day = g.day();
        let t = g.time(15, 18, style);
        d.line(format!("{lib}: a reminder for {p}"));
        let due = g.pick(&[
            format!("Your {n} books are due back on {date}."),
            format!("Please return your {n} books by {date}."),
        ]);
        let fee_line = format!("After that, the late fee is {fee} a day.");
        let club_line = format!("The {club} meets every {day} at {t}; ask {helper} at the front desk to join.");
        let body = if g.chance(0.5) { vec![due, fee_line, club_line] } else { vec![club_line, due, fee_line] };
        d.line(body.join(" "));
        d.ask(
            g,
            When,
            &date,
            &w![
                "When are the books due back?",
                "By what date must {p} return the books?",
                "What's the due date?",
                "When should {p} bring the books back?"
            ],
        );
        d.ask(
            g,
            HowMany,
            &n,
            &w![
                "How many books does {p} have?",
                "How many books are due?",
                "How many library books has {p} got?",
                "how many books"
            ],
        );
        d.ask(
            g,
            HowMany,
            &fee,
            &w![
                "How much is the late fee?",
                "How much does it cost per day to be late?",
                "What is the fine for each late day?",
                "How much will {p} pay a day if late?"
            ],
        );
        d.ask(
            g,
            Who,
            &helper,
            &w![
                "Who should {p} ask about the {club}?",
                "Who is at the front desk?",
                "Who can sign {p} up for the {club}?",
                "Who do you ask to join the {club}?"
            ],
        );
        d.ask(
            g,
            When,
            &day,
            &w![
                "Which day does the {club} meet?",
                "What day of the week is the {club}?",
                "On what day is the {club}?",
                "What day does the {club} run?"
            ],
        );
        d.ask(
            g,
            When,
            &t,
            &w![
                "What time does the {club} meet?",
                "At what time is the {club}?",
                "What time's the {club}?",
                "When does the {club} start?"
            ],
        );
        d.unknown(
            g,
            "the library's hours are not given",
            |g| g.time(17, 20, style),
            &["close", "shut", "open"],
            &w!["What time does the library close?", "When does {lib} shut?", "Until what time is the library open?"],
        );
    }
    d
}

/// A shopping list or a to-do list.
pub fn list(g: &mut Gen) -> Draft {
    let mut d = Draft::default();
    if g.chance(0.5) {
        let day = g.day();
        let f1 = g.food();
        let n1 = g.number(2, 12);
        let f2 = g.food();
        let qty = g.one(&["a bag", "2 kilos", "half a dozen", "a box", "a big bag"]);
        let of = if qty == "half a dozen" { "" } else { " of" };
        let col = g.colour();
        let who = g.person().name;
        let batteries = g.one(&["AA", "AAA", "C"]);
        let n2 = g.number(2, 8);
        let drink = g.one(&["oat milk", "orange juice", "sparkling water", "apple juice"]);
        d.line(g.pick(&[format!("Shopping for {day}:"), format!("Shopping list ({day})"), format!("To buy on {day}")]));
        let mut items = vec![
            format!("- {n1} {f1}"),
            format!("- {qty}{of} {f2}"),
            format!("- {col} paint for the shed"),
            format!("- a birthday card for {who}"),
            format!("- {batteries} batteries"),
            format!("- {n2} cartons of {drink}"),
        ];
        g.shuffle(&mut items);
        let keep = g.range(4, 6) as usize;
        items.truncate(keep);
        let text = items.join("\n");
        for i in &items {
            d.line(i.clone());
        }
        if text.contains(&format!("{n1} {f1}")) {
            d.ask(
                g,
                HowMany,
                &n1,
                &w![
                    "How many {f1} are on the list?",
                    "How many {f1} should be bought?",
                    "How many {f1} do they need?",
                    "how many {f1}"
                ],
            );
        }
        if text.contains(&f2) {
            d.ask(
                g,
                HowMany,
                &qty,
                &w![
                    "What quantity of {f2} is on the list?",
                    "How many {f2} should they get?",
                    "What amount of {f2} is needed?",
                    "How many {f2} are on the list?"
                ],
            );
        }
        if text.contains("paint") {
            d.ask(
                g,
                Colour,
                &col,
                &w![
                    "What colour paint is on the list?",
                    "What colour is the paint for the shed?",
                    "Which colour paint do they need?",
                    "What colour will the shed be?"
                ],
            );
            d.ask(
                g,
                What,
                &format!("{col} paint"),
                &w![
                    "What is needed for the shed?",
                    "What should be bought for the shed?",
                    "What's on the list for the shed?",
                    "What do they need for the shed?"
                ],
            );
        } else {
            d.unknown(
                g,
                "no paint is on the list",
                |_| col.to_string(),
                &["paint", "shed"],
                &w!["What colour paint is on the list?", "What colour should the shed paint be?"],
            );
        }
        if text.contains("card") {
            d.ask(
                g,
                Who,
                &who,
                &w![
                    "Who is the birthday card for?",
                    "Whose birthday is coming up?",
                    "Who needs a card?",
                    "For whom is the card?"
                ],
            );
        } else {
            d.unknown(
                g,
                "no birthday is on the list",
                |_| who.to_string(),
                &["birthday", "card"],
                &w!["Who is the birthday card for?", "Whose birthday is it?"],
            );
        }
        if text.contains("batteries") {
            d.ask(
                g,
                What,
                &format!("{batteries} batteries"),
                &w![
                    "What kind of batteries are on the list?",
                    "Which batteries should they buy?",
                    "What size batteries are needed?",
                    "What batteries do they need?"
                ],
            );
        }
        if text.contains(&drink) {
            d.ask(
                g,
                HowMany,
                &n2,
                &w![
                    "How many cartons of {drink} are needed?",
                    "How many {drink} cartons should they get?",
                    "How many cartons of {drink}?",
                    "How much {drink} is on the list?"
                ],
            );
        }
        d.ask(
            g,
            When,
            &day,
            &w![
                "What day is the shopping for?",
                "When is this list for?",
                "Which day is the shopping?",
                "For what day is the list?"
            ],
        );
        d.unknown(
            g,
            "no shop is named",
            |g| g.cafe(),
            &["shop ", "market", "supermarket", "store"],
            &w!["Which shop should they go to?", "Where should they do the shopping?", "What shop is the list for?"],
        );
        d.unknown(
            g,
            "no budget is given",
            |g| g.price(10, 60),
            &["£", "$", "€"],
            &w!["How much money is there for the shopping?", "How much can they spend?", "What's the budget?"],
        );
    } else {
        let guest = g.person();
        let gname = guest.name.clone();
        let day = g.day();
        let cafe = g.cafe();
        let style = g.casual_time_style();
        let t = g.time(9, 17, style);
        let callee = g.person().name;
        let about = g.one(&["the spare key", "the car seat", "the big tent", "the folding table", "the ladder"]);
        let n = g.number(3, 12);
        let room = g.one(&["spare room", "box room", "attic room", "sofa bed"]);
        d.line(
            g.pick(&[format!("To do before {gname} arrives on {day}:"), format!("Jobs before {gname} comes ({day})")]),
        );
        let mut items = vec![
            format!("Clean the {room}"),
            format!("Pick up the cake from {cafe} at {t}"),
            format!("Ring {callee} about {about}"),
            format!("Buy {n} candles"),
            g.one(&["Wash the towels", "Sweep the path", "Defrost the freezer", "Fix the gate"]),
        ];
        g.shuffle(&mut items);
        for (i, item) in items.iter().enumerate() {
            d.line(format!("{}. {item}", i + 1));
        }
        d.ask(
            g,
            When,
            &day,
            &w![
                "When does {gname} arrive?",
                "What day is {gname} coming?",
                "Which day will {gname} get here?",
                "On what day is {gname} arriving?"
            ],
        );
        d.ask(
            g,
            Where,
            &cafe,
            &w![
                "Where is the cake from?",
                "Where should the cake be picked up?",
                "Which place has the cake?",
                "Where do they collect the cake?"
            ],
        );
        d.ask(
            g,
            When,
            &t,
            &w![
                "What time should the cake be picked up?",
                "When is the cake ready?",
                "At what time is the cake collected?",
                "When do they get the cake?"
            ],
        );
        d.ask(
            g,
            Who,
            &callee,
            &w![
                "Who needs a phone call?",
                "Who should be rung?",
                "Who do they have to call about {about}?",
                "Who is on the list to ring?"
            ],
        );
        d.ask(
            g,
            What,
            &about,
            &w![
                "What is the call to {callee} about?",
                "What should they ask {callee} about?",
                "Why ring {callee}? What about?",
                "What do they need to talk to {callee} about?"
            ],
        );
        d.ask(
            g,
            HowMany,
            &n,
            &w![
                "How many candles should they buy?",
                "How many candles are needed?",
                "How many candles?",
                "how many candles do they need"
            ],
        );
        d.ask(
            g,
            Where,
            &format!("the {room}"),
            &w![
                "Which room needs cleaning?",
                "Where needs to be cleaned?",
                "What should be cleaned?",
                "Which room will {gname} sleep in?"
            ],
        );
        d.unknown(
            g,
            "the arrival time is not given",
            |g| g.time(9, 21, style),
            &["arrives at", "arriving at", "comes at", "gets in"],
            &w![
                "What time does {gname} arrive?",
                "At what time will {gname} get here?",
                "What time is {gname} coming?"
            ],
        );
        d.unknown(
            g,
            "the reason for the visit is not given",
            |_| "because it is a birthday".to_string(),
            &["because", "birthday"],
            &w!["Why is {gname} coming?", "Why is {gname} visiting?", "What is the reason for the visit?"],
        );
    }
    d
}
