//! The command core: a request in, the interaction response Discord should receive out.
//!
//! The Discord layer and `scenebot preview` both call these functions, so what `preview` prints is exactly what the
//! bot sends. Nothing here does I/O; randomness and the time come in as arguments ([`Responder::command`] reads the
//! system clock for [`Responder::command_at`], which only `/quiz start` uses).

use rand::Rng;
use serenity::all::{AutocompleteChoice, CreateAutocompleteResponse, CreateInteractionResponse};

use crate::catalog::Catalog;
use crate::clock::{Clock, SystemClock};
use crate::limits;
use crate::locale::Locale;
use crate::pick;
use crate::quiz;
use crate::render::{self, AboutFacts, ComponentAction};
use crate::search::{Lookup, SearchIndex};

/// Loads a dataset (the bundled one when `path` is `None`) and validates it whole: its data, and that every card
/// fits Discord. The one loader of the bot, `check` and `preview`.
pub fn load_catalog(path: Option<&std::path::Path>) -> Result<Catalog, crate::catalog::LoadError> {
    Catalog::load_with(path, render::card_problems)
}

/// [`load_catalog`] for dataset text; `file` names it in messages.
pub fn parse_catalog(file: &str, json: &str) -> Result<Catalog, crate::catalog::LoadError> {
    Catalog::from_json_with(file, json, render::card_problems)
}

/// A slash command the core answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/scene [drama]`.
    Scene {
        /// What the user typed or picked (an autocomplete value is a scene id).
        drama: Option<String>,
    },
    /// `/scenes`.
    Scenes,
    /// `/seealso`.
    SeeAlso,
    /// `/about`.
    About,
    /// `/quiz start [questions]`: a round of `questions` questions (1 to 10; 5 when absent).
    QuizStart {
        /// How many questions were asked for.
        questions: Option<u8>,
    },
    /// `/anniversaries`: the next special days, counted from `now` in the server's daily zone (at its post time)
    /// when it has a schedule, else in UTC.
    Anniversaries(AnniversariesFrom),
}

/// Where `/anniversaries` counts from: the time, passed in, and the server's daily zone and post time if it has a
/// schedule (`None`: UTC, in DMs, user installs and servers without a daily post).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnniversariesFrom {
    /// Now, in Unix seconds.
    pub now: i64,
    /// The server's daily zone and post time.
    pub schedule: Option<(chrono_tz::Tz, chrono::NaiveTime)>,
}

/// How many days `/anniversaries` lists.
pub const UPCOMING_COUNT: usize = 8;

/// The time of day a UTC list stamps its days with: noon, so the reader's own date is the same day from UTC−11 to
/// UTC+11.
const UTC_LIST_TIME: chrono::NaiveTime = match chrono::NaiveTime::from_hms_opt(12, 0, 0) {
    Some(noon) => noon,
    None => chrono::NaiveTime::MIN,
};

impl Command {
    /// The command's name as registered.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Scene { .. } => "scene",
            Command::Scenes => "scenes",
            Command::SeeAlso => "seealso",
            Command::About => "about",
            Command::QuizStart { .. } => "quiz",
            Command::Anniversaries(_) => "anniversaries",
        }
    }
}

/// Whose message a button or menu was used on: only the clicker's own may be replaced by the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickedOn {
    /// An ephemeral reply (only its user sees it) or the clicker's own command reply: the card replaces it.
    OwnReply,
    /// Anyone else's message (a daily post, another member's card): the clicker gets a private card instead, so
    /// nobody rewrites what others see.
    Shared,
}

/// The catalog with its search index: everything the core reads.
#[derive(Debug, Clone)]
pub struct Responder {
    /// The dataset.
    pub catalog: Catalog,
    /// Its search index.
    pub index: SearchIndex,
}

impl Responder {
    /// Indexes `catalog`.
    pub fn new(catalog: Catalog) -> Responder {
        let index = SearchIndex::new(&catalog);
        Responder { catalog, index }
    }

    /// The response to a slash command, at the system clock's time (a quiz question's closing time counts from it).
    pub fn command(
        &self,
        command: &Command,
        locale: Locale,
        facts: AboutFacts,
        rng: &mut impl Rng,
    ) -> CreateInteractionResponse {
        self.command_at(command, locale, facts, SystemClock.now(), rng)
    }

    /// The response to a slash command at `now` (unix seconds). `/quiz start` answers with its round's first
    /// question, in a round whose id is drawn from `rng` here: the bot's rounds take theirs from the store.
    pub fn command_at(
        &self,
        command: &Command,
        locale: Locale,
        facts: AboutFacts,
        now: i64,
        rng: &mut impl Rng,
    ) -> CreateInteractionResponse {
        let catalog = &self.catalog;
        let card = match command {
            Command::Scene { drama } => {
                let query = drama.as_deref().map(str::trim).filter(|q| !q.is_empty());
                let scene =
                    match query {
                        None => pick::random_scene(catalog.scenes.len(), None, rng),
                        Some(query) => match self.index.lookup(query) {
                            Lookup::Found(scene) => Some(scene),
                            Lookup::NoMatch { suggestions } => {
                                return CreateInteractionResponse::Message(
                                    render::no_match_message(catalog, query, &suggestions, locale),
                                )
                            }
                        },
                    };
                match scene.and_then(|i| catalog.scenes.get(i)) {
                    Some(scene) => render::scene_card(catalog, scene, locale),
                    None => return self.error(locale.strings().internal_error),
                }
            }
            Command::Scenes => render::all_scenes_card(catalog, locale),
            Command::SeeAlso => render::see_also_card(catalog, locale),
            Command::About => render::about_card(catalog, locale, facts),
            Command::QuizStart { questions } => {
                let count = questions.map_or(quiz::DEFAULT_QUESTIONS, usize::from);
                let round = rng.random::<u32>().into();
                match self.quiz_question(round, count, now, locale, rng) {
                    Some(card) => card,
                    None => return self.error(locale.strings().internal_error),
                }
            }
            Command::Anniversaries(from) => self.anniversaries(*from, locale),
        };
        CreateInteractionResponse::Message(card.into_interaction_message())
    }

    /// A quiz round's first question, open from `now` (unix seconds) for its answer window: `count` questions
    /// drawn with `rng`, the first one rendered with buttons that name `round`. `None` when the dataset has nothing
    /// to ask.
    pub fn quiz_question(
        &self,
        round: u64,
        count: usize,
        now: i64,
        locale: Locale,
        rng: &mut impl Rng,
    ) -> Option<render::Card> {
        let questions = quiz::draw(&self.catalog, count, rng);
        let first = questions.first()?;
        let window = quiz::answer_window_seconds(&first.prompt(&self.catalog, locale)?);
        let slot = render::quiz::Slot {
            round,
            index: 0,
            total: questions.len(),
            closes_at: now.saturating_add(window),
        };
        render::quiz::question_card(&self.catalog, first, slot, locale)
    }

    /// The card of `/anniversaries`: the next [`UPCOMING_COUNT`] special days from today in the zone.
    pub fn anniversaries(&self, from: AnniversariesFrom, locale: Locale) -> render::Card {
        let catalog = &self.catalog;
        let (zone, time) = from.schedule.unwrap_or((chrono_tz::UTC, UTC_LIST_TIME));
        let now = chrono::DateTime::<chrono::Utc>::from_timestamp(from.now, 0).unwrap_or_default();
        let today = crate::daily::local_date(now, zone);
        let calendar = crate::anniversary::calendar(catalog);
        let upcoming = crate::anniversary::upcoming(&calendar, today, zone, time, UPCOMING_COUNT);
        let zone_name = from.schedule.map(|(zone, _)| zone.name());
        render::upcoming_card(catalog, &upcoming, zone_name, locale)
    }

    /// The response to a button or menu of one of our cards. `values` are a select menu's chosen values; `clicked`
    /// says whose message the component sits on, since a `custom_id` is whatever the client sends.
    pub fn component(
        &self,
        custom_id: &str,
        values: &[String],
        clicked: ClickedOn,
        locale: Locale,
        rng: &mut impl Rng,
    ) -> CreateInteractionResponse {
        let catalog = &self.catalog;
        let Some(action) = ComponentAction::parse(custom_id) else {
            return self.error(locale.strings().stale_component);
        };
        let mut random = |exclude: Option<usize>| {
            pick::random_scene(catalog.scenes.len(), exclude, rng)
                .and_then(|i| catalog.scenes.get(i))
        };
        // A scene id the dataset does not know is a stale (or forged) button, never a reason for a random card.
        let (scene, clicked) = match action {
            ComponentAction::AnotherScene { current } => (
                catalog.position(&current).and_then(|i| random(Some(i))),
                clicked,
            ),
            // The button sits on a public post the bot made: whoever clicks gets their own card.
            ComponentAction::AnotherPrivately { current, .. } => (
                catalog.position(&current).and_then(|i| random(Some(i))),
                ClickedOn::Shared,
            ),
            ComponentAction::ShowScene { id } => (catalog.scene(&id), clicked),
            // A special daily post's button: its scene (an anniversary) or any scene (the birthday), privately.
            ComponentAction::DayPost {
                scene: Some(id), ..
            } => (catalog.scene(&id), ClickedOn::Shared),
            ComponentAction::DayPost { scene: None, .. } => (random(None), ClickedOn::Shared),
            ComponentAction::OpenSelected => (
                values.first().and_then(|id| catalog.scene(id)),
                ClickedOn::Shared,
            ),
            // A quiz answer is the running round's to judge (the Discord layer's, over the store); one that
            // reaches the card core belongs to no round it knows.
            ComponentAction::QuizAnswer { .. } => {
                return self.error(locale.quiz_strings().not_counted)
            }
        };
        let Some(scene) = scene else {
            return self.error(locale.strings().stale_component);
        };
        let card = render::scene_card(catalog, scene, locale).into_interaction_message();
        match clicked {
            ClickedOn::OwnReply => CreateInteractionResponse::UpdateMessage(card),
            ClickedOn::Shared => CreateInteractionResponse::Message(card.ephemeral(true)),
        }
    }

    /// Autocomplete for `/scene drama`: at most 25 ranked choices whose values are scene ids.
    pub fn autocomplete(&self, partial: &str, locale: Locale) -> CreateAutocompleteResponse {
        let choices = self
            .index
            .search(partial)
            .into_iter()
            .take(limits::CHOICES)
            .filter_map(|hit| self.catalog.scenes.get(hit.scene))
            .map(|scene| {
                AutocompleteChoice::new(render::choice_name(scene, locale), scene.id.clone())
            })
            .collect();
        CreateAutocompleteResponse::new().set_choices(choices)
    }

    /// A short, friendly ephemeral message.
    pub fn error(&self, text: &str) -> CreateInteractionResponse {
        CreateInteractionResponse::Message(render::plain_message(text).ephemeral(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};
    use serde_json::{json, Value};

    fn responder() -> Responder {
        Responder::new(Catalog::bundled().unwrap_or_else(|e| panic!("{e}")))
    }

    fn to_json(response: impl serde::Serialize) -> Value {
        serde_json::to_value(response).unwrap_or_default()
    }

    const FACTS: AboutFacts = AboutFacts { uptime_seconds: 0 };

    #[test]
    fn scene_by_name_answers_with_that_card() {
        let responder = responder();
        let mut rng = StdRng::seed_from_u64(3);
        let reply = to_json(responder.command(
            &Command::Scene {
                drama: Some("hwarng".into()),
            },
            Locale::En,
            FACTS,
            &mut rng,
        ));
        assert_eq!(reply["type"], 4);
        assert!(reply["data"]["embeds"][0]["title"]
            .as_str()
            .unwrap_or_default()
            .contains("Hwarang"));
        assert!(
            reply["data"].get("flags").is_none(),
            "a found scene is public"
        );
    }

    #[test]
    fn nonsense_gets_an_ephemeral_reply_with_suggestion_buttons() {
        let responder = responder();
        let mut rng = StdRng::seed_from_u64(3);
        let reply = to_json(responder.command(
            &Command::Scene {
                drama: Some("pizza".into()),
            },
            Locale::Ko,
            FACTS,
            &mut rng,
        ));
        assert_eq!(reply["type"], 4);
        assert_eq!(reply["data"]["flags"], 64);
        assert!(reply["data"]["embeds"].is_null() || reply["data"]["embeds"] == json!([]));
        assert_eq!(
            reply["data"]["components"][0]["components"]
                .as_array()
                .map(Vec::len),
            Some(3)
        );
        assert!(reply["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("pizza"));
    }

    #[test]
    fn another_scene_never_repeats_the_current_one() {
        let responder = responder();
        let mut rng = StdRng::seed_from_u64(5);
        for scene in &responder.catalog.scenes {
            for _ in 0..50 {
                let reply = to_json(responder.component(
                    &format!("scene:another:{}", scene.id),
                    &[],
                    ClickedOn::OwnReply,
                    Locale::En,
                    &mut rng,
                ));
                assert_eq!(reply["type"], 7);
                let button = &reply["data"]["components"][0]["components"][0]["custom_id"];
                assert_ne!(button, &json!(format!("scene:another:{}", scene.id)));
            }
        }
    }

    #[test]
    fn the_menu_opens_the_chosen_scene_privately() {
        let responder = responder();
        let mut rng = StdRng::seed_from_u64(5);
        let reply = to_json(responder.component(
            "scenes:open",
            &["kill-me-heal-me".into()],
            ClickedOn::OwnReply,
            Locale::En,
            &mut rng,
        ));
        assert_eq!(reply["type"], 4);
        assert_eq!(reply["data"]["flags"], 64);
        assert!(reply["data"]["embeds"][0]["title"]
            .as_str()
            .unwrap_or_default()
            .contains("Kill Me, Heal Me"));
        let stale = to_json(responder.component(
            "scenes:open",
            &["gone".into()],
            ClickedOn::OwnReply,
            Locale::En,
            &mut rng,
        ));
        assert_eq!(stale["data"]["flags"], 64);
        let unknown = to_json(responder.component(
            "something:else",
            &[],
            ClickedOn::OwnReply,
            Locale::En,
            &mut rng,
        ));
        assert_eq!(unknown["data"]["flags"], 64);
    }

    #[test]
    fn a_click_on_someone_elses_message_never_replaces_it() {
        let responder = responder();
        let mut rng = StdRng::seed_from_u64(7);
        for custom_id in [
            "scene:another:hwarang".to_owned(),
            "scene:show:hwarang".to_owned(),
            "scene:post:daily-2026-12-04:hwarang".to_owned(),
        ] {
            let reply = to_json(responder.component(
                &custom_id,
                &[],
                ClickedOn::Shared,
                Locale::En,
                &mut rng,
            ));
            assert_eq!(
                reply["type"], 4,
                "{custom_id}: a new message, not an update"
            );
            assert_eq!(reply["data"]["flags"], 64, "{custom_id}: private");
            assert!(
                reply["data"]["embeds"][0]["title"].is_string(),
                "{custom_id}"
            );
        }
    }

    #[test]
    fn an_unknown_scene_id_in_a_button_gets_the_stale_notice_not_a_random_card() {
        let responder = responder();
        let mut rng = StdRng::seed_from_u64(7);
        let stale_text = Locale::En.strings().stale_component;
        for custom_id in [
            "scene:another:no-such-scene",
            "scene:another:",
            "scene:show:no-such-scene",
            "scene:post:daily-2026-12-04:no-such-scene",
        ] {
            for clicked in [ClickedOn::OwnReply, ClickedOn::Shared] {
                let reply =
                    to_json(responder.component(custom_id, &[], clicked, Locale::En, &mut rng));
                assert_eq!(reply["type"], 4, "{custom_id}");
                assert_eq!(reply["data"]["flags"], 64, "{custom_id}");
                assert_eq!(reply["data"]["content"], stale_text, "{custom_id}");
                assert!(reply["data"]["embeds"].is_null() || reply["data"]["embeds"] == json!([]));
            }
        }
    }

    #[test]
    fn autocomplete_ranks_and_bounds_its_choices() {
        let responder = responder();
        let reply = to_json(CreateInteractionResponse::Autocomplete(
            responder.autocomplete("", Locale::En),
        ));
        assert_eq!(reply["type"], 8);
        let choices = reply["data"]["choices"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(choices.len(), responder.catalog.scenes.len());
        assert!(choices.len() <= 25);
        let reply = to_json(CreateInteractionResponse::Autocomplete(
            responder.autocomplete("ㄱㅂㅅ", Locale::Ko),
        ));
        assert_eq!(reply["data"]["choices"][0]["value"], "secretary-kim");
        assert!(reply["data"]["choices"][0]["name"]
            .as_str()
            .unwrap_or_default()
            .contains("김비서가 왜 그럴까"));
        let reply = to_json(CreateInteractionResponse::Autocomplete(
            responder.autocomplete("zzzz", Locale::En),
        ));
        assert_eq!(reply["data"]["choices"], json!([]));
    }

    #[test]
    fn quiz_start_answers_with_the_first_question_in_public_the_same_for_the_same_seed() {
        let responder = responder();
        const NOW: i64 = 1_800_000_000;
        let start = |questions, locale, seed| {
            to_json(responder.command_at(
                &Command::QuizStart { questions },
                locale,
                FACTS,
                NOW,
                &mut StdRng::seed_from_u64(seed),
            ))
        };
        for locale in Locale::ALL {
            for questions in [None, Some(1), Some(10)] {
                let reply = start(questions, locale, 9);
                assert_eq!(reply, start(questions, locale, 9));
                assert_eq!(reply["type"], 4);
                assert!(reply["data"].get("flags").is_none(), "a round is public");
                let embed = &reply["data"]["embeds"][0];
                let total = questions.map_or(quiz::DEFAULT_QUESTIONS, usize::from);
                assert_eq!(
                    embed["title"],
                    format!("❓ {}", locale.quiz_header(1, total))
                );
                let description = embed["description"].as_str().unwrap_or_default();
                let closes =
                    (NOW + 20..=NOW + 45).find(|at| description.contains(&format!("<t:{at}:R>")));
                assert!(closes.is_some(), "{description}");
                let buttons = reply["data"]["components"][0]["components"]
                    .as_array()
                    .map_or(0, Vec::len);
                assert!((3..=4).contains(&buttons), "{buttons} buttons");
            }
        }
        assert_ne!(start(None, Locale::En, 1), start(None, Locale::En, 2));
    }

    #[test]
    fn a_quiz_button_reaching_the_card_core_is_told_it_was_not_counted() {
        let responder = responder();
        let mut rng = StdRng::seed_from_u64(1);
        for clicked in [ClickedOn::OwnReply, ClickedOn::Shared] {
            let reply = to_json(responder.component(
                "quiz:answer:7:0:1",
                &[],
                clicked,
                Locale::Ko,
                &mut rng,
            ));
            assert_eq!(reply["type"], 4);
            assert_eq!(reply["data"]["flags"], 64);
            assert_eq!(
                reply["data"]["content"],
                Locale::Ko.quiz_strings().not_counted
            );
        }
    }
}
