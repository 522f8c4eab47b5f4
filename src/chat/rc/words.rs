//! The word lists and inflection rules of the reading-comprehension
//! generator: small closed classes (prepositions, determiners, pronouns),
//! irregular verbs, colours, numbers, feelings and synonyms. Each list is
//! whitespace-separated text, made into a set (or map) on first use.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// `name(w)`: is `w` one of the words of the text?
macro_rules! list {
    ($(#[$doc:meta])* $name:ident, $words:expr) => {
        $(#[$doc])*
        pub fn $name(w: &str) -> bool {
            static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
            SET.get_or_init(|| $words.split_whitespace().collect()).contains(w)
        }
    };
}

/// `name(w)`: what the text maps `w` to, from `word:value` pairs (`_` for a
/// space in the value).
macro_rules! map {
    ($(#[$doc:meta])* $name:ident, $pairs:expr) => {
        $(#[$doc])*
        pub fn $name(w: &str) -> Option<&'static str> {
            static MAP: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
            MAP.get_or_init(|| pairs($pairs)).get(w).map(String::as_str)
        }
    };
}

fn pairs(text: &'static str) -> HashMap<&'static str, String> {
    text.split_whitespace().filter_map(|p| p.split_once(':')).map(|(k, v)| (k, v.replace('_', " "))).collect()
}

/// Irregular past tenses: `past:base:participle`.
const IRREGULAR: &str = "
    had:have:had went:go:gone found:find:found saw:see:seen said:say:said made:make:made gave:give:given
    took:take:taken ate:eat:eaten ran:run:run came:come:come got:get:got knew:know:known
    thought:think:thought felt:feel:felt told:tell:told bought:buy:bought brought:bring:brought
    caught:catch:caught built:build:built drew:draw:drawn drank:drink:drunk drove:drive:driven
    fell:fall:fallen flew:fly:flown forgot:forget:forgotten grew:grow:grown hid:hide:hidden held:hold:held
    kept:keep:kept left:leave:left lost:lose:lost met:meet:met put:put:put rode:ride:ridden rang:ring:rung
    sang:sing:sung sat:sit:sat slept:sleep:slept swam:swim:swum threw:throw:thrown wore:wear:worn
    won:win:won wrote:write:written woke:wake:woken bit:bite:bitten blew:blow:blown broke:break:broken
    chose:choose:chosen dug:dig:dug fought:fight:fought heard:hear:heard hit:hit:hit hurt:hurt:hurt
    led:lead:led lit:light:lit meant:mean:meant paid:pay:paid sent:send:sent shook:shake:shaken
    shone:shine:shone shot:shoot:shot sold:sell:sold spent:spend:spent stood:stand:stood stole:steal:stolen
    stuck:stick:stuck swept:sweep:swept swung:swing:swung taught:teach:taught tore:tear:torn
    understood:understand:understood began:begin:begun became:become:become spun:spin:spun fed:feed:fed
    bent:bend:bent laid:lay:laid sank:sink:sunk slid:slide:slid cut:cut:cut shut:shut:shut let:let:let
    sought:seek:sought crept:creep:crept froze:freeze:frozen hung:hang:hung knelt:kneel:knelt
    leapt:leap:leapt rose:rise:risen sprang:spring:sprung struck:strike:struck wept:weep:wept
    wove:weave:woven dreamt:dream:dreamt spoke:speak:spoken stung:sting:stung
";

/// Base form and past participle of an irregular past-tense verb.
pub fn irregular(past: &str) -> Option<(&'static str, &'static str)> {
    static MAP: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        IRREGULAR
            .split_whitespace()
            .filter_map(|t| {
                let mut parts = t.split(':');
                Some((parts.next()?, (parts.next()?, parts.next()?)))
            })
            .collect()
    });
    map.get(past).copied()
}

map!(
    /// Base forms of past participles that differ from the past tense.
    participle_only, "
        gone:go seen:see given:give taken:take eaten:eat known:know drawn:draw drunk:drink driven:drive
        fallen:fall flown:fly forgotten:forget grown:grow hidden:hide ridden:ride sung:sing swum:swim
        thrown:throw worn:wear written:write woken:wake bitten:bite blown:blow broken:break chosen:choose
        shaken:shake stolen:steal torn:tear begun:begin come:come run:run frozen:freeze spoken:speak done:do
    "
);

/// Base form of a past participle ("eaten" -> "eat"), for "had eaten".
pub fn participle_lemma(w: &str) -> Option<&'static str> {
    match irregular(w) {
        Some((lemma, participle)) => (participle == w).then_some(lemma),
        None => participle_only(w),
    }
}

list!(
    /// Capitalised family words that stories use as names ("Mom said").
    family_name, "
        Mom Dad Mommy Daddy Mum Mummy Grandma Grandpa Granny Nana Papa Mama
    "
);

list!(
    /// Nouns ending in -ing that cannot be the verb of "was ...ing".
    never_progressive, "
        thing something nothing everything anything morning evening king ring ceiling pudding wedding
        darling sibling duckling icing frosting stuffing lightning clothing string wing earring spring sting
    "
);

list!(
    /// Words ending in -ed that are not verbs.
    not_past_ed_word, "
        red bed shed sled fed led wed hundred sacred naked wicked kindred beloved ragged rugged crooked aged
        learned blessed bred sped fled shred
    "
);

/// Words ending in -ed that are not past-tense verbs.
pub fn not_past_ed(w: &str) -> bool {
    not_past_ed_word(w) || (w.ends_with("eed") && w != "agreed" && w != "freed")
}

list!(
    /// Common base forms of regular verbs, so that lemmatising does not depend on
    /// the corpus holding the base form.
    common_base_verb, "
        play want like love look walk jump help smile laugh visit open decide need try cry call pick share
        clean paint hug kick push pull climb plant bake cook dance hope live move name use wait watch wish
        close enjoy fix hurry kiss learn listen miss notice pass pour rest roll save scream shout stay stop
        start talk thank touch travel turn wave whisper yell ask answer agree bounce carry chase check
        collect count cover crawl drop explore fill finish follow giggle grab greet guess hop hunt join
        knock land lift mix nod pack pat peek pet place point pop prepare pretend promise race rain reach
        remember repair reply rescue return rush scare search skip slip smell splash squeeze stare step
        stretch surprise taste tie trip tuck wander wash water wipe wonder work worry wrap arrive bark beg
        blink borrow brush bump chew clap color colour comb dress dry fetch float gather glow hammer hate
        hike kneel lick marry melt nap offer paddle plan poke practice print purr rub sail scratch serve
        shine shop sniff snore spill spray stamp sweep swing tap tickle tidy toss trade trust type unlock
        vanish wag warn whistle wiggle yawn zoom dream fold dig drag bathe believe blame care change cheer
        chop clear dare fail fear hand invite lock mail mend obey own paste peel plug pray prefer protect
        punch raise relax rely remove rip scrub settle shiver sigh sip slam snap spot stir stuff suggest
        tease test thaw trace wink
    "
);

list!(
    /// Verbs whose object may come without a determiner ("ate apples").
    takes_bare_object, "
        want like love eat drink find see make get need buy bring pick take collect bake cook grow plant
        paint draw carry gather sell hate enjoy catch pick up hear
    "
);

list!(
    /// Verbs followed by "to" + a verb phrase ("wanted to play").
    takes_infinitive, "
        want decide try like love need hope start begin forget plan agree promise learn
    "
);

list!(
    /// Verbs of motion: "Where did X go?" fits them.
    motion, "
        go run walk hurry race rush fly swim drive ride hop jump crawl climb wander march skip dash travel
        sail zoom come return move head creep float roll dance
    "
);

list!(
    /// Past-tense forms of motion verbs, to check that a context says nowhere
    /// that anyone went anywhere.
    motion_past, "
        went ran walked hurried raced rushed flew swam drove rode hopped jumped crawled climbed wandered
        marched skipped dashed travelled traveled sailed zoomed came returned moved headed crept floated
        rolled left arrived followed danced go going goes gone visited entered home outside inside upstairs
        downstairs away escaped fled
    "
);

list!(
    /// Verb + particle pairs kept together ("looked at", "picked up"), as `verb_particle`.
    phrasal_pair, "
        look_at look_for pick_up put_on put_away put_down take_off take_out clean_up wake_up throw_away
        give_back wait_for search_for ask_for listen_to care_for point_at stare_at smile_at laugh_at bark_at
        hold_on dig_up cut_out find_out try_on turn_on turn_off
    "
);

/// Is `lemma particle` a phrasal verb ("look at")?
pub fn phrasal(lemma: &str, particle: &str) -> bool {
    phrasal_pair(&format!("{lemma}_{particle}"))
}

map!(
    /// The words of speech ("said", "asked"): base form for the question.
    say_verb, "
        said:say asked:ask shouted:shout yelled:yell whispered:whisper replied:reply exclaimed:exclaim
        cried:cry answered:answer called:call screamed:scream added:add
    "
);

list!(
    /// Linking verbs that take a feeling ("felt happy", "looked sad").
    linking, "
        felt looked seemed became got grew stayed sounded
    "
);

list!(
    /// Colour words.
    colour, "
        red blue green yellow orange purple pink brown black white gray grey gold golden silver
    "
);

list!(
    /// Number words from two up.
    number_word, "
        two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
        seventeen eighteen nineteen twenty thirty forty fifty hundred
    "
);

/// A number word or small number (2..=99): counts for "how many".
pub fn number(w: &str) -> bool {
    number_word(w) || (w.len() <= 2 && w.bytes().all(|b| b.is_ascii_digit()) && w != "0" && w != "1")
}

list!(
    /// Feelings: "How did X feel?"
    feeling, "
        happy sad angry mad scared afraid frightened excited tired sleepy hungry thirsty bored lonely proud
        worried upset surprised curious brave calm nervous shy glad sorry jealous grumpy sick confused
        thankful grateful cheerful joyful unhappy annoyed embarrassed disappointed amazed relieved
        frustrated anxious shocked delighted terrified cold sore hopeful safe full silly sleepless cross
        miserable thrilled ashamed guilty content peaceful comfortable
    "
);

list!(
    /// Words that strengthen an adjective ("very happy").
    intensifier, "
        very so really too quite extra super a little bit more most
    "
);

map!(
    /// Occasional synonyms for words of a question (never of an answer): the
    /// everyday words of the corpus's stories and of what people ask about
    /// notes, so that a question does not always repeat the text's word
    /// ("the people next door" for "her neighbours", "the woods" for "the
    /// forest"). Only words whose synonym fits wherever the word stands.
    synonym, "
        scared:afraid afraid:scared frightened:scared happy:glad glad:happy sad:unhappy unhappy:sad
        angry:mad mad:angry tired:sleepy sleepy:tired big:large large:big huge:very_big small:little
        little:small tiny:very_small pretty:beautiful beautiful:pretty kind:nice nice:kind quick:fast
        fast:quick shiny:bright old:aged puppy:young_dog kitten:young_cat mom:mother mother:mom dad:father
        father:dad present:gift gift:present stone:rock rock:stone toy:plaything
        forest:woods woods:forest shop:store store:shop kids:children children:kids pals:friends
        neighbor:person_next_door neighbour:person_next_door neighbors:people_next_door
        neighbours:people_next_door bunny:rabbit rabbit:bunny kitty:cat doggy:dog mommy:mom mum:mother
        grandma:grandmother grandmother:grandma grandpa:grandfather grandfather:grandpa lady:woman
        woman:lady path:trail trail:path road:street street:road yard:garden garden:yard bag:sack
        enormous:huge gigantic:huge lovely:beautiful delicious:tasty tasty:delicious yummy:tasty
        scary:frightening frightening:scary brave:courageous courageous:brave clever:smart smart:clever
        funny:amusing silly:goofy sparkly:glittering fluffy:soft chilly:cold noisy:loud loud:noisy
        excited:thrilled thrilled:excited worried:nervous nervous:worried upset:sad strong:powerful
        favorite:favourite favourite:favorite colorful:brightly_coloured terrified:very_scared
        cheerful:happy joyful:happy grumpy:cross cross:grumpy sick:ill ill:sick
    "
);

map!(
    /// Question verbs that mean about the same as the text's verb.
    verb_synonym_word, "
        find:discover see:spot notice:see get:receive take:grab make:create build:make
        pick_up:lift look_for:search_for search_for:look_for grab:take discover:find spot:see fix:repair
        repair:fix start:begin begin:start bake:make cook:make toss:throw throw:toss rescue:save
        chase:run_after visit:go_to_see explore:look_around buy:get hug:give_a_hug_to stumble_upon:find
        come_across:find gaze_at:look_at stare_at:look_at listen_to:hear beam:smile shout:yell yell:shout
        giggle:laugh whisper:say_quietly exclaim:shout reply:answer follow:go_after watch:look_at eat:have
        put:place place:put give:hand go:head
    "
);

map!(
    /// A past-tense verb at the start of a predicate, said another way in the
    /// past tense ("stumbled upon a cave" -> "came across a cave"); keys of
    /// two words join them with `_`. Only verbs whose paraphrase takes the
    /// same words after it.
    past_synonym, "
        found:discovered discovered:found saw:spotted spotted:saw noticed:spotted grabbed:took
        snatched:grabbed shouted:yelled yelled:shouted giggled:laughed chuckled:laughed smiled:grinned
        grinned:smiled beamed:smiled hugged:gave_a_hug_to hurried:rushed rushed:hurried dashed:rushed
        jumped:leaped leaped:jumped leapt:jumped stumbled_upon:came_across came_across:found
        stumbled_across:came_across gazed_at:looked_at stared_at:looked_at peered_at:looked_at
        glanced_at:looked_at built:made created:made crafted:made fixed:repaired repaired:fixed
        mended:fixed began:started started:began tumbled:fell tossed:threw threw:tossed visited:went_to_see searched_for:looked_for
        looked_for:searched_for hunted_for:looked_for listened_to:heard bought:got entered:went_into
        cooked:made baked:made ate:had drank:had chased:ran_after met:came_across explored:looked_around
        rescued:saved sobbed:cried wept:cried sprinted:ran raced:ran snuggled:cuddled cuddled:snuggled
        pulled:tugged tugged:pulled picked_up:lifted wandered:walked strolled:walked
        whispered_to:spoke_quietly_to received:got
    "
);

/// A question verb that means about the same as the text's (`lemma` may be
/// phrasal: "pick up").
pub fn verb_synonym(lemma: &str) -> Option<&'static str> {
    verb_synonym_word(&lemma.replace(' ', "_"))
}

list!(
    /// Nouns for people and animals: "Who" rather than "What", and a sign that a
    /// pronoun might refer to someone other than the last named character.
    animate, "
        mom mother mommy mum dad father daddy friend friends girl boy man woman lady teacher brother sister
        grandma grandpa grandmother grandfather baby king queen prince princess kids kid children child
        family parents aunt uncle neighbor neighbour farmer doctor dog cat bird bunny rabbit bear fox mouse
        frog duck owl puppy kitten fish lion monkey elephant pig cow horse bee butterfly ant squirrel dragon
        fairy witch wizard monster giant robot boys girls men women people birds dogs cats ducks owner sheep
        goat chicken hen turtle snake deer wolf tiger giraffe zebra bug spider worm snail ladybug policeman
        pilot nurse cook chef clown pirate knight soldier boss student students classmates cousin granny son
        daughter wife husband animals puppies kittens bunnies mice frogs bears creature alien elf gnome
        troll dinosaur shark whale dolphin crab penguin seal parrot crow pony lamb
    "
);

list!(
    /// Nouns for women and girls.
    female_noun, "
        girl woman lady queen princess mom mother sister grandma grandmother aunt daughter wife granny mommy
        mum mummy mama nana
    "
);

list!(
    /// Nouns for men and boys.
    male_noun, "
        boy man king prince dad father brother grandpa grandfather uncle son husband daddy papa
    "
);

list!(
    /// Given names the stories give to girls and women (a pronoun's check
    /// where the story itself does not say).
    female_name, "
        Lily Sue Sara Sarah Anna Amy Mia Lucy Emma Mary Jane Kate Sally Molly Ella Zoe Lisa Rosie Daisy
        Jenny Susie Lila Ellie Annie Katie Rose Grace Sophie Sophia Olivia Chloe Emily Jill Ann Mom Mommy
    "
);

list!(
    /// Given names the stories give to boys and men.
    male_name, "
        Tim Timmy Tom Tommy Ben Max Jack Bob Billy Joe Jake Leo Mark John Jim Jimmy Danny Johnny Peter Paul
        Mike Sammy Fred Bobby Dad Daddy
    "
);

/// The gender a given name usually has in the stories, if it is one of
/// the common ones; "Sam" and "Alex" are left out, used for both.
pub fn gender_of_name(name: &str) -> Option<char> {
    gender_in(name, female_name, male_name)
}

/// Nouns for female and male people, to check a pronoun against.
pub fn gender_of_noun(w: &str) -> Option<char> {
    gender_in(w, female_noun, male_noun)
}

/// 'f' when the word is in the `female` list, else 'm' when in the `male` one.
fn gender_in(w: &str, female: fn(&str) -> bool, male: fn(&str) -> bool) -> Option<char> {
    if female(w) {
        Some('f')
    } else if male(w) {
        Some('m')
    } else {
        None
    }
}

list!(
    /// Determiners and quantifiers that start a noun phrase.
    determiner, "
        the a an his her their its my our your this that these those some many every each all another no
        lots any
    "
);

list!(
    /// Places and things that have names in the world ("What was the name
    /// of the park?"), for unanswerable questions when nothing is named.
    nameable, "
        park river lake town city village school shop store farm forest beach street road island hill
        mountain zoo restaurant bakery library castle kingdom pond sea ocean bridge boat ship team circus
        museum hospital market book song story movie film show poem
    "
);

list!(
    /// Nameable things with a title rather than a name.
    titled, "
        book song story movie film show poem
    "
);

map!(
    /// Nouns whose kind a reader may ask about ("What kind of bird was it?"),
    /// each with the words that would name its kind: a passage holding none
    /// of them, and the noun never with a word before it but its article,
    /// does not say.
    kinds_of, "
        bird:robin,sparrow,owl,parrot,crow,duck,eagle,pigeon,swan,hen,chicken,penguin,blackbird,bluebird,seagull,goose,hawk,woodpecker,kind,type,sort
        dog:puppy,poodle,collie,terrier,labrador,dachshund,beagle,retriever,spaniel,bulldog,sheepdog,kind,type,sort,breed
        tree:oak,pine,apple,maple,willow,birch,cherry,palm,elm,fir,kind,type,sort
        flower:rose,daisy,tulip,sunflower,lily,daffodil,poppy,violet,dandelion,kind,type,sort
        fish:goldfish,shark,salmon,trout,tuna,clownfish,kind,type,sort
        cake:chocolate,vanilla,birthday,carrot,lemon,strawberry,cheesecake,sponge,kind,type,sort
        sandwich:cheese,ham,jam,peanut,egg,tuna,chicken,kind,type,sort
        pie:apple,cherry,pumpkin,blueberry,berry,meat,kind,type,sort
        soup:tomato,chicken,vegetable,carrot,pea,kind,type,sort
        boat:sailboat,rowboat,canoe,ship,yacht,sail,sails,kind,type,sort
        car:truck,taxi,race,police,sports,kind,type,sort
        game:tag,chess,hide,cards,football,soccer,kind,type,sort
    "
);

/// The words that would name the kind of `noun`, if it is one whose kind a
/// reader may ask about.
pub fn kind_words(noun: &str) -> Option<Vec<&'static str>> {
    kinds_of(noun).map(|ws| ws.split(',').collect())
}

list!(
    /// Prepositions.
    preposition, "
        to in on at into onto under over with for from by near behind through around across up down out off
        of about after before inside outside between beside below above toward towards along past like upon
        during without against among beneath within underneath next until since till than as
    "
);

list!(
    /// Prepositions that make a place phrase ("in the box"): "Where ...?"
    place_preposition, "
        to in on at into onto under behind near inside outside through across around over beside below above
        toward towards along underneath beneath up down between
    "
);

list!(
    /// Adverbs that stand for a place after a motion verb ("went home").
    place_adverb, "
        home outside inside upstairs downstairs indoors outdoors downtown
    "
);

list!(
    /// Bare nouns that make a place after "to", "at", "in" ("to school").
    bare_place, "
        school bed town church work market class camp sea land
    "
);

list!(
    /// Conjunctions, pronouns, auxiliaries and adverbs.
    other_function_word, "
        and or but so because when while if then who which what where why how whose whom he she it they we i
        you him them me us was were is are am be been being had has have did do does could would should will
        can may might must shall not never very too also just there here again away back together even still
        now soon once yet only always often ever almost really quite where's it's that's he's she's they're
        i'm let's don't didn't wasn't couldn't wouldn't can't won't much more most fast hard well later
        first last both either neither something everything nothing anything someone everyone anyone
        somebody everybody nobody himself herself themselves itself yes oh few several couple lot bit
        suddenly finally quickly slowly happily sadly
    "
);

/// Words that end a noun phrase: function words, auxiliaries, adverbs.
pub fn function_word(w: &str) -> bool {
    preposition(w) || determiner(w) || other_function_word(w)
}

list!(
    /// Nouns that end in -ing.
    ing_noun, "
        thing king ring swing string wing spring morning evening building painting drawing ceiling pudding
        feeling clothing wedding sing sling sting earring stuffing frosting icing lightning nothing
        something everything anything duckling darling sibling ending opening offspring bring
    "
);

list!(
    /// Days of the week.
    weekday, "
        monday tuesday wednesday thursday friday saturday sunday
    "
);

list!(
    /// Months.
    month, "
        january february march april may june july august september october november december
    "
);

list!(
    /// Nouns of a time of day or year ("one morning", "that summer").
    time_noun, "
        day morning night evening afternoon week weekend summer winter spring autumn fall year month holiday
        birthday saturday sunday monday tuesday wednesday thursday friday noon midnight
    "
);

list!(
    /// What follows "at", "after", "before", "in the" in a time phrase.
    time_point, "
        morning afternoon evening night noon midnight lunch dinner breakfast school supper bedtime nap
        naptime sunset sunrise dawn dusk dark lunchtime dinnertime playtime recess class summer winter
        spring autumn fall bed work church sunday daytime nighttime
    "
);

list!(
    /// Nouns counted in time phrases, not as objects ("three days later").
    time_unit, "
        day days year years week weeks hour hours minute minutes time times month months o'clock seconds
        second nights mornings
    "
);

list!(
    /// Nouns of things without a colour.
    abstract_word, "
        other one rest way time day idea fun thing kind sort moment while mistake name turn chance game
        lesson story song noise sound voice help work job plan trip walk look smile hug nap break promise
        question answer word secret wish dream problem place part end side top bottom middle race party
        adventure surprise gift present lot bite sip breath step try home life world love care peace luck
        joy fear anger water air weather sky sun light dark night morning friend family
    "
);

/// Nouns that have no colour, for "What colour was the ...?" refusals.
pub fn abstract_noun(w: &str) -> bool {
    abstract_word(w) || ["ness", "tion", "ment", "ity", "ship", "ing"].iter().any(|s| w.ends_with(s))
}

list!(
    /// Plurals without an -s.
    irregular_plural, "
        children people men women feet teeth mice geese clothes
    "
);

/// Looks plural (for "was"/"were" in a question about it).
pub fn plural(noun: &str) -> bool {
    irregular_plural(noun)
        || (noun.ends_with('s') && !noun.ends_with("ss") && !matches!(noun, "bus" | "gas" | "yes" | "his" | "this"))
}

list!(
    /// Capitalised words that start sentences or name roles, not characters.
    not_a_name_word, "
        I Mr Mrs Ms Miss Dr Sir God OK Ok TV English The A An Once One Then But And So He She They It We You
        Mom Dad Mommy Daddy Mum Mother Father Grandma Grandpa Granny Christmas Easter Halloween Santa
        Chapter CHAPTER Lord Lady King Queen Prince Princess Captain Uncle Aunt Oh Yes No Hello Hi Please
        Thank Thanks Wow Look Let Come Go What Why Where When How Who This That There Here My Your His Her
        Their Our Its
    "
);

/// Capitalised words that are not characters' names.
pub fn not_a_name(w: &str) -> bool {
    not_a_name_word(w) || weekday(&w.to_lowercase()) || month(&w.to_lowercase())
}

list!(
    /// Words before a name ("Mr. Brown", "Aunt May").
    title, "
        Mr Mrs Ms Miss Dr Mister Aunt Uncle Grandma Grandpa Captain King Queen Prince Princess Sir Lady
        Farmer Old Little Big Baby
    "
);

list!(
    /// Pronouns that stand for an object ("him", "something").
    object_pronoun, "
        him them it me us you something everything nothing anything someone everyone himself herself
        themselves itself
    "
);

list!(
    /// Words that start a subject the generator does not ask about ("my dad", "some kids").
    not_a_subject_start, "
        my our your this that these those some all every each no lots many another any
    "
);

list!(
    /// Words that open a sentence without being part of its clause ("Then", "Suddenly").
    discourse, "
        then suddenly so but and finally soon now later meanwhile luckily sadly happily first next
        also still together however instead unfortunately fortunately eventually afterwards anyway
    "
);

list!(
    /// Words that open a phrase or clause before the subject, up to a comma ("In the park, ...").
    lead_opener, "
        in on at after before to with from during under inside outside near by for when as while
        since although though without just across through behind later
    "
);

list!(
    /// Adverbs between a subject and its verb ("Tom quickly ran").
    pre_verb_adverb, "
        also then just quickly slowly finally suddenly soon always often carefully happily sadly
        quietly gently loudly first
    "
);

list!(
    /// Adverbs after the verb phrase ("ran home again").
    clause_adverb, "
        again together too back away all very so fast hard well alone quickly slowly happily loudly
        softly gently carefully quietly
    "
);

fn consonant(b: u8) -> bool {
    b.is_ascii_lowercase() && !matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Candidate base forms of a word with the inflection `suffix` ("ed" or
/// "ing") removed, most likely first.
fn base_candidates(w: &str, suffix: &str) -> Vec<String> {
    let Some(stem) = w.strip_suffix(suffix) else { return Vec::new() };
    let b = stem.as_bytes();
    if b.len() < 2 || !b.iter().all(u8::is_ascii_lowercase) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let n = b.len();
    if suffix == "ed" && stem.ends_with('i') {
        if w.len() <= 4 {
            out.push(format!("{stem}e")); // tied -> tie
        } else {
            out.push(format!("{}y", &stem[..n - 1])); // cried -> cry
        }
    }
    if suffix == "ing" && stem.ends_with('y') && n == 2 {
        out.push(format!("{}ie", &stem[..1])); // lying -> lie
    }
    let doubled = n >= 3 && b[n - 1] == b[n - 2] && consonant(b[n - 1]);
    if doubled && !matches!(b[n - 1], b'l' | b's' | b'f' | b'z') {
        out.push(stem[..n - 1].to_string()); // stopped -> stop
    }
    let cvc = n >= 2
        && consonant(b[n - 1])
        && !matches!(b[n - 1], b'w' | b'x' | b'y')
        && !consonant(b[n - 2])
        && (n < 3 || consonant(b[n - 3]));
    if cvc {
        out.push(format!("{stem}e")); // liked -> like
    }
    out.push(stem.to_string());
    out.push(format!("{stem}e"));
    if doubled {
        out.push(stem[..n - 1].to_string()); // travelled -> travel
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.clone()));
    out
}

/// The base form of a regular inflected verb, preferring a candidate that
/// `known` recognises (words of the corpus), else the most likely by rule.
pub fn base_form(w: &str, suffix: &str, known: &dyn Fn(&str) -> bool) -> Option<String> {
    let cands = base_candidates(w, suffix);
    cands.iter().find(|c| common_base_verb(c)).or_else(|| cands.iter().find(|c| known(c))).or(cands.first()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_verbs_lose_their_endings() {
        let none = |_: &str| false;
        for (w, base) in [
            ("liked", "like"),
            ("walked", "walk"),
            ("stopped", "stop"),
            ("cried", "cry"),
            ("tied", "tie"),
            ("called", "call"),
            ("visited", "visit"),
            ("hoped", "hope"),
            ("played", "play"),
            ("danced", "dance"),
        ] {
            assert_eq!(base_form(w, "ed", &none).as_deref(), Some(base), "{w}");
        }
        let known = |w: &str| matches!(w, "travel" | "glue");
        assert_eq!(base_form("travelled", "ed", &known).as_deref(), Some("travel"));
        assert_eq!(base_form("running", "ing", &none).as_deref(), Some("run"));
        assert_eq!(base_form("making", "ing", &|w| w == "make").as_deref(), Some("make"));
        assert_eq!(base_form("eating", "ing", &none).as_deref(), Some("eat"));
    }
}
