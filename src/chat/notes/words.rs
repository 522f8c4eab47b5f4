//! The word pools of the everyday-text generator: given names from many
//! languages, surnames, pet names, parts of invented place and person names,
//! colours, objects, foods, errands and reasons. Each pool is
//! whitespace-separated text (`_` for a space inside an entry), split into a
//! list on first use.

use std::sync::OnceLock;

/// `name()`: the entries of the text, in order.
macro_rules! pool {
    ($(#[$doc:meta])* $name:ident, $words:expr) => {
        $(#[$doc])*
        pub fn $name() -> &'static [String] {
            static LIST: OnceLock<Vec<String>> = OnceLock::new();
            LIST.get_or_init(|| $words.split_whitespace().map(|w| w.replace('_', " ")).collect())
        }
    };
}

pool!(
    /// Given names usually given to girls and women.
    female,
    "
    Marguerite Aiko Ngozi Ingrid Agnieszka Beatriz Oluwaseun Priya Yuki Astrid Chiamaka Fatima Leila Noor
    Amara Saoirse Siobhan Catalina Ximena Valentina Paloma Rosalind Imogen Philippa Henrietta Beatrix Maud
    Ottilie Clementine Wilhelmina Greta Liesel Annika Sigrid Solveig Freya Ragnhild Dagny Malin Elsbeth
    Zofia Małgorzata Katarzyna Jadwiga Milena Dragana Vesna Ljiljana Jelena Irina Svetlana Natalya Oksana
    Tatiana Anastasia Ekaterina Mei Xiuying Lan Jia Hui Sakura Haruka Emiko Keiko Noriko Hana Minji Jiwoo
    Seo-yeon Ananya Lakshmi Kavya Deepika Meera Sunita Anjali Rukmini Shreya Aisha Zainab Yasmin Samira
    Rania Layla Hafsa Maryam Khadija Amina Nadia Folasade Adaeze Nkechi Ifeoma Yetunde Abena Akosua Efua
    Wanjiru Nyambura Achieng Makena Thandiwe Nomvula Lindiwe Zanele Naledi Busisiwe Mariam Tsehay Selam
    Hiwot Ayana Mahina Leilani Kailani Anahera Aroha Ngaio Mereana Inés Consuelo Lucía Guadalupe Rocío
    Itzel Xochitl Maite Ainhoa Nerea Graciela Mirta Florencia Antonella Giulia Chiara Francesca Ornella
    Raffaella Benedetta Ludovica Margherita Aurélie Delphine Solène Océane Camille Héloïse Brigitte
    Odile Sabine Mathilde Gudrun Hildegard Ursula Wiebke Friederike Eilidh Morag Isla Rhiannon Ffion
    Nia Bronwen Gwenllian Carys Deirdre Niamh Orla Aoife Róisín Gráinne Dolores Winifred Edna Mabel
    Ethel Dorothea Augusta Cordelia Perpetua Hyacinth Petronella Tamsin Keziah Jemima Persephone Ondine
    Ysolde Anouk Femke Saskia Marieke Liesbeth Ilse Hedda Tove Elin Katja Rasa Ieva Dace Laima Eszter
    Zsófia Réka Kinga Dorottya Iulia Ioana Bogdana Despina Eleni Theodora Kalliope Zoi Nilüfer Elif
    Zeynep Defne Ayşe Shirin Parisa Roya Farida Golnar Anahit Nune Tamar Nino Ketevan
    "
);

pool!(
    /// Given names usually given to boys and men.
    male,
    "
    Tomasz Santiago Rahul Kofi Tunde Chidi Emeka Obinna Kwame Yaw Kojo Kwabena Femi Segun Ayodele
    Babajide Olumide Jomo Kamau Otieno Baraka Thabo Sipho Mandla Themba Bongani Lwazi Tariku Dawit Yonas
    Bekele Haile Hamid Karim Tariq Yusuf Idris Bilal Omar Zayd Faisal Khalid Anwar Rashid Arjun Vikram
    Rohan Sanjay Nikhil Kiran Aarav Devendra Prakash Suresh Anil Ravi Hiroshi Takeshi Kenji Haruto Daiki
    Ryota Sora Kaito Jun Wei Jian Hao Zhiwei Minh Duc Quang Thanh Jae-won Min-jun Seung-ho Dong-hyun
    Ingvar Bjørn Leif Torsten Sven Henrik Anders Magnus Eskil Gunnar Halvard Olavi Jussi Aatu Teemu
    Tadeusz Wojciech Krzysztof Grzegorz Zbigniew Mirosław Bohdan Taras Dmytro Yaroslav Vadim Oleg Sergei
    Pavel Anton Fyodor Ilya Grigori Radu Mihai Dragoș Bogdan Goran Dušan Zoran Milan Nikola Stavros
    Yannis Dimitris Spyros Kostas Levan Giorgi Armen Aram Tigran Mehmet Emre Kerem Burak Selim Darius
    Cyrus Kaveh Babak Payam Matías Joaquín Ignacio Rodrigo Alejandro Fernando Gonzalo Esteban Emiliano
    Leandro Thiago Caetano Joaquim Rui Duarte Gonçalo Vasco Afonso Lorenzo Matteo Giacomo Ettore
    Ottavio Raffaele Salvatore Benedetto Amedeo Bastien Thibault Gaspard Lucien Émile Jérôme Aurélien
    Florian Matthias Joachim Wolfgang Ulrich Dietrich Konrad Ludwig Rupert Cuthbert Percival Ambrose
    Algernon Bartholomew Crispin Fergus Lachlan Hamish Angus Murdo Ruaridh Cillian Oisín Tadhg Ciarán
    Padraig Dafydd Rhodri Gethin Iestyn Emrys Caradoc Alfonso Horatio Barnaby Jasper Ptolemy Ignatius
    Lysander Evander Casimir Wendell Otis Rufus Clement Ezekiel Thaddeus Obadiah Mordecai Tobiah Wiremu
    Tane Rawiri Keanu Makoa Kahiau Tupac Inti Amaru Cuauhtémoc Itzamná Nahuel Lautaro Koa Ikaika
    "
);

pool!(
    /// Family names.
    surnames,
    "
    Okafor Nowak Lindqvist Oyelaran Adeyemi Okonkwo Mensah Boateng Asante Owusu Nkemelu Eze Nwosu Balogun
    Ogunleye Achebe Kamau Mwangi Otieno Wanjala Dlamini Ndlovu Khumalo Mokoena Naidoo Pillay Abebe Tesfaye
    Haile Girma Haddad Khoury Nasser Farouk Rahimi Karimi Tehrani Sadeghi Yilmaz Kaya Demir Şahin Öztürk
    Papadopoulos Georgiou Nikolaidis Konstantinou Petrovic Jovanovic Novak Horvat Kovačić Babić Popescu
    Ionescu Constantin Dumitru Kowalski Wiśniewski Wójcik Kamiński Lewandowski Zieliński Szymański
    Dąbrowski Kozłowski Jankowski Mazur Krawczyk Shevchenko Bondarenko Kovalenko Tkachenko Ivanova
    Smirnov Volkov Sokolov Lebedev Morozov Novikov Fedorov Virtanen Korhonen Mäkinen Nieminen Hämäläinen
    Lehtonen Johansson Andersson Karlsson Nilsson Eriksson Larsson Olsen Hansen Pedersen Jensen Kristiansen
    Halvorsen Bakke Dahl Haugen Berg Lund Strand Vogel Becker Schneider Fischer Hoffmann Wagner Zimmermann
    Krüger Hartmann Lange Brandt Kessler Van_Dijk De_Vries Bakker Visser Smit Mulder De_Groot Bos Janssens
    Peeters Maes Dubois Lefèvre Moreau Girard Bonnet Fontaine Rousseau Chevalier Marchand Mercier Blanchet
    Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti Costa
    Fernández González Rodríguez Martínez Sánchez Ramírez Torres Flores Rivera Gómez Díaz Morales Ortiz
    Castillo Jiménez Ruiz Herrera Medina Aguilar Vargas Castro Mendoza Silva Santos Oliveira Pereira
    Almeida Carvalho Ribeiro Gonçalves Ferreira Tanaka Suzuki Watanabe Takahashi Nakamura Kobayashi
    Yamamoto Sasaki Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu Kim Park Choi Jung Kang Yoon Jang
    Lim Han Shin Nguyen Tran Le Pham Hoang Vu Dang Bui Do Ngo Wang Li Zhang Liu Chen Yang Huang Zhao
    Zhou Wu Xu Sun Ma Zhu Hu Guo Lin Patel Sharma Singh Kumar Gupta Mehta Desai Iyer Reddy Nair Menon
    Chatterjee Banerjee Mukherjee Bose Kapoor Malhotra Joshi Kulkarni Rao Fitzgerald O'Sullivan
    McLaughlin Gallagher Doherty Kavanagh Brennan MacLeod MacDonald Campbell Fraser Sinclair Buchanan
    Ferguson Pritchard Llewellyn Prosser Thistlewood Ashcombe Pennyfeather Blackwood Hartley Whitlock
    Greenhalgh Ainsworth Oddie Pemberton Featherstone Ramsbottom Higginbottom Cartwright Fairweather
    Honeyman Loveday Merriweather Tuckett Wainwright Beaumont Delacroix Halloran Quinlan Tremayne Penrose
    Trevithick Nankervis
    "
);

pool!(
    /// Names people give their pets.
    pet_names,
    "
    Biscuit Pickle Noodle Waffle Pepper Marmalade Crumpet Juniper Clover Mochi Tofu Dumpling Bramble Nutmeg
    Saffron Pudding Sprout Turnip Parsnip Custard Gingersnap Fudge Toffee Treacle Button Pebble Socks
    Mittens Whiskers Domino Tinker Bandit Rascal Scout Ziggy Zorro Bingo Pippin Hazel Acorn Maple Willow
    Ferdinand Gustav Bartholomew Archibald Mabel Doris Gertrude Winston Churchill Duchess Baroness Napoleon
    Cleopatra Pharaoh Sultan Rajah Kiwi Mango Papaya Coconut Sesame Wasabi Miso Dorito Nacho Taco Pretzel
    Bagel Crouton Falafel Halloumi Paprika Cinnamon Cardamom Basil Rosemary Thyme Sage Cumin Chutney Zephyr
    Comet Nimbus Cosmo Orbit Pixel Blink Fizz Bubbles Squiggle Wobble Sherbet Sorbet Truffle
    "
);

pool!(
    /// Colours, each one word.
    colours,
    "red blue green yellow orange purple pink brown black white grey silver gold turquoise navy maroon cream
     teal lilac crimson beige"
);

pool!(
    /// Syllables that begin an invented name.
    syllable_start,
    "Bra Cor Dal Fen Gil Hal Ist Jor Kel Lun Mor Nar Orl Pel Quar Ros Sel Tam Ulv Ves Wyn Yar Zel Ash Bel
     Cal Dun Eld Fal Gar Hol Kin Lor Mar Nor Oak Pen Rav Sor Thal Val Wil Ard Bex Cra Drum Eb Fro Glen"
);

pool!(
    /// Syllables in the middle of an invented name.
    syllable_mid,
    "a e i o an el or in ar en il on ur ir"
);

pool!(
    /// Syllables that end an invented place name.
    place_end,
    "wick ford by mere ton holm dale stead vale ley mouth combe bridge field haven thorpe worth burn cross
     moor well gate hurst"
);

pool!(
    /// Syllables that end an invented person's name.
    person_end,
    "a o ia is en ek ina ara iel ett ova ani enzo ira umi esh ika"
);

pool!(
    /// First words of street names.
    street_words,
    "Mill Church Station Orchard Willow Harbour Quarry Chapel Bridge Market Foundry Tanner Rope Salt Heron
     Bramble Kiln Lark Copper Cedar Juniper Mulberry Hawthorn Sparrow Ferry Weaver Cooper Tinsmith Beacon
     Lantern Anchor Meadow Rowan Elder Furnace Granary Spindle"
);

pool!(
    /// Kinds of street.
    street_kinds,
    "Street Road Lane Close Avenue Way Crescent Terrace Row Hill Drive Gardens"
);

pool!(
    /// Adjectives in place names.
    place_adjectives,
    "Old Little Long High Crooked Upper Lower Silver Quiet Narrow Sunny Windy Broad Hidden Golden Misty"
);

pool!(
    /// Nouns in place names.
    place_nouns,
    "Oak Fox Bell Well Cherry Mill Gate Pond Hollow Beech Swan Kettle Lantern Thimble Owl Badger Acorn Anchor
     Teapot Compass Lighthouse Pear Magpie Otter"
);

pool!(
    /// Public places, with their article.
    venues,
    "the_library the_sports_hall the_community_centre the_town_hall the_swimming_pool the_park_gates
     the_bus_station the_playground the_church_hall the_leisure_centre the_museum the_market_square
     the_scout_hut the_village_green the_old_fire_station the_bandstand the_boathouse the_garden_centre"
);

pool!(
    /// Things people carry, leave behind or bring.
    objects,
    "umbrella scarf lunchbox water_bottle library_book recorder hat jumper backpack torch notebook
     pencil_case swimming_bag raincoat sun_hat glasses_case phone_charger wallet camera thermos kite
     football glove tablet_charger"
);

pool!(
    /// Foods a shop or a kitchen has (mass or plural).
    foods,
    "apples pears oranges lemons carrots potatoes onions tomatoes mushrooms peppers bananas plums eggs
     bread_rolls bagels crumpets muffins doughnuts samosas dumplings flatbreads tortillas croissants
     sausages cupcakes biscuits"
);

pool!(
    /// Food to bring to a picnic or an outing.
    picnic_foods,
    "sandwiches samosas muffins apples peaches cupcakes flapjacks sausage_rolls satsumas cookies
     spring_rolls cheese_straws"
);

pool!(
    /// Dishes one could make or eat.
    dishes,
    "lentil_soup banana_bread jollof_rice vegetable_curry apple_crumble pancakes fish_pie mushroom_risotto
     lemon_drizzle_cake flapjacks shepherd's_pie pea_fritters carrot_cake tomato_pasta bean_stew
     potato_rösti plum_tart cheese_scones ginger_biscuits onion_tart"
);

pool!(
    /// Little jobs left for someone, as verb phrases.
    tasks,
    "water_the_tomatoes take_the_bins_out hang_the_washing_up empty_the_dishwasher tidy_your_room
     practise_the_piano do_your_reading lock_the_back_door put_the_chicken_in_the_oven fold_the_towels
     bring_the_washing_in sweep_the_porch"
);

pool!(
    /// Musical bands' second words ("The Crooked Kettles").
    band_nouns,
    "Kettles Lanterns Magpies Otters Thimbles Compasses Acorns Teapots Badgers Foxes Herons Pebbles"
);

/// An errand someone has gone on and why ("the garage", "because the car
/// is making a funny noise"); the reason is a because- or so-clause.
pub const ERRANDS: &[(&str, &str)] = &[
    ("the dentist", "because my tooth is hurting again"),
    ("the garage", "because the car is making a funny noise"),
    ("the post office", "because the parcel for your aunt has to go today"),
    ("the hospital", "because Nana has her check-up"),
    ("the market", "because we have run out of everything"),
    ("the bank", "so I can sort out the new card"),
    ("the vet", "because the cat has stopped eating"),
    ("the hardware shop", "so I can get a new tap for the bathroom"),
    ("the library", "because the books are due back today"),
    ("the station", "so I can pick up the tickets for Saturday"),
    ("the office", "because there is a big delivery coming in"),
    ("the school", "because your teacher wants a quick chat"),
];

/// Why someone is running late, as a because-clause.
pub const LATE_REASONS: &[&str] = &[
    "because the train is stuck outside the tunnel",
    "because the bus broke down",
    "because the meeting ran over",
    "because there is a queue at the bridge",
    "because I missed the ferry by a minute",
    "because the road is closed after a crash",
    "because I had to wait for a plumber",
    "because the car would not start",
    "because the lifts at work are broken",
    "because my shift finished late",
];

/// Why something is closed, moved or cancelled, as a because-clause.
pub const CLOSE_REASONS: &[&str] = &[
    "because the pipes are being fixed",
    "because the heating has broken",
    "because the floor is being painted",
    "because the pitch is flooded",
    "because the roof is leaking",
    "because the power will be off",
    "because the windows are being replaced",
    "because of a burst water main",
    "because the lift is out of order",
    "because the hall is needed for the exams",
];

/// Things people are afraid of.
pub const FEARS: &[&str] = &[
    "bikes",
    "thunder",
    "the hoover",
    "umbrellas",
    "big dogs",
    "the washing machine",
    "fireworks",
    "geese",
    "the doorbell",
    "buses",
];

/// Conditions a medicine could be for (never written on a label here, so a
/// question about it is unanswerable).
pub const CONDITIONS: &[&str] =
    &["hay fever", "a chest infection", "back pain", "a sore throat", "an ear infection", "headaches", "a rash"];

/// Medicines with invented names.
pub const MEDICINE_ENDS: &[&str] = &["ol", "amine", "ex", "afen", "ocin", "idone", "azole", "ium"];

/// Number words, 0 to 20.
pub const NUMBER_WORDS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

pub const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_are_large_and_free_of_duplicates() {
        let given = female().len() + male().len();
        assert!(given >= 300, "{given} given names");
        assert!(surnames().len() >= 200, "{} surnames", surnames().len());
        for list in [female(), male(), surnames(), pet_names(), colours(), objects(), foods()] {
            let set: std::collections::HashSet<&String> = list.iter().collect();
            assert_eq!(set.len(), list.len(), "{:?}", &list[..3]);
        }
    }
}
