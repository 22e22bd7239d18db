//! The questions: what the catalog lets us ask about each scene, with wrong options taken from the other scenes'
//! values of the same field, so every option is a fact of the dataset and exactly one is right.
//!
//! A question is plain data (kind, scene id, option scene ids, the right one's position): the same question reads
//! in either language, and a stored round can be rendered again after a restart.

use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;

use crate::catalog::{Catalog, Scene};
use crate::locale::{Locale, Prompt};
use crate::search::{is_hangul, normalize};

/// The most options a question offers (answer buttons in one row, letters A to D).
pub const MAX_OPTIONS: usize = 4;

/// The fewest wrong options a question needs: with one, it is a coin toss, and with none no question at all.
pub const MIN_WRONG: usize = 2;

/// What the masked names of a summary become: no letters, so nothing of the name is left to read.
pub const MASK: &str = "○○○";

/// What a question asks about its scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Park Seo-joon's character.
    Role,
    /// The scene partner (the actor).
    Partner,
    /// The scene partner's character.
    PartnerRole,
    /// The year the drama started airing.
    Year,
    /// The drama's network.
    Network,
    /// The drama's Korean title.
    KoreanTitle,
    /// The episode of the kiss, where the dataset has it.
    Episode,
    /// The drama's number of episodes.
    Episodes,
    /// Which drama the scene is from, told by its summary with the names that give it away masked.
    Drama,
}

impl Kind {
    /// Every kind, in a fixed order (the round draw's tie order).
    pub const ALL: [Kind; 9] = [
        Kind::Role,
        Kind::Partner,
        Kind::PartnerRole,
        Kind::Year,
        Kind::Network,
        Kind::KoreanTitle,
        Kind::Episode,
        Kind::Episodes,
        Kind::Drama,
    ];

    /// A stable code, for storing a round.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Role => "role",
            Kind::Partner => "partner",
            Kind::PartnerRole => "partner-role",
            Kind::Year => "year",
            Kind::Network => "network",
            Kind::KoreanTitle => "korean-title",
            Kind::Episode => "episode",
            Kind::Episodes => "episodes",
            Kind::Drama => "drama",
        }
    }

    /// The kind with this [`Kind::code`].
    pub fn from_code(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// The scene's value of this field as an option shows it in `locale` (Hangul names in Korean); `None` where
    /// the dataset has none (an unknown episode).
    pub fn value(self, scene: &Scene, locale: Locale) -> Option<String> {
        let drama = &scene.drama;
        Some(match self {
            Kind::Role => scene.role.name.get(locale).to_owned(),
            Kind::Partner => scene.partner.actor.get(locale).to_owned(),
            Kind::PartnerRole => scene.partner.role.get(locale).to_owned(),
            Kind::Year => drama.year.to_string(),
            Kind::Network => drama.network.clone(),
            Kind::KoreanTitle => drama.title_ko.clone(),
            Kind::Episode => locale.episode(scene.episode?),
            Kind::Episodes => locale.episodes(drama.episodes),
            Kind::Drama => scene.drama.title_in(locale).to_owned(),
        })
    }

    /// Every way the dataset writes this field's value for the scene, in both scripts: what a question must never
    /// contain, and what no wrong option may equal.
    pub fn aliases(self, scene: &Scene) -> Vec<String> {
        let drama = &scene.drama;
        let mut aliases = Vec::new();
        match self {
            Kind::Role => {
                aliases.extend([scene.role.name.en.clone(), scene.role.name.ko.clone()]);
                aliases.extend(scene.role.aliases.iter().cloned());
            }
            Kind::Partner => aliases.extend([
                scene.partner.actor.en.clone(),
                scene.partner.actor.ko.clone(),
            ]),
            Kind::PartnerRole => {
                aliases.extend([scene.partner.role.en.clone(), scene.partner.role.ko.clone()]);
                aliases.extend(scene.partner.aliases.iter().cloned());
            }
            Kind::Year => aliases.push(drama.year.to_string()),
            Kind::Network => aliases.push(drama.network.clone()),
            Kind::KoreanTitle => {
                aliases.extend([drama.title_ko.clone(), drama.romanization.clone()])
            }
            Kind::Episode => aliases.extend(scene.episode.map(|e| e.to_string())),
            Kind::Episodes => aliases.push(drama.episodes.to_string()),
            Kind::Drama => aliases.extend(drama_names(scene)),
        }
        for locale in Locale::ALL {
            aliases.extend(self.value(scene, locale));
        }
        aliases
    }

    /// The question's wording for the scene in `locale`.
    pub fn prompt(self, catalog: &Catalog, scene: &Scene, locale: Locale) -> String {
        let actor = catalog.actor.name.get(locale);
        let title = scene.drama.title_in(locale);
        let partner = scene.partner.actor.get(locale);
        let masked;
        let prompt = match self {
            Kind::Role => Prompt::Character { actor, title },
            Kind::Partner => Prompt::Partner { actor, title },
            Kind::PartnerRole => Prompt::Character {
                actor: partner,
                title,
            },
            Kind::Year => Prompt::Year { title },
            Kind::Network => Prompt::Network { title },
            Kind::KoreanTitle => Prompt::KoreanTitle {
                english_title: &scene.drama.title,
            },
            Kind::Episode => Prompt::Episode {
                actor,
                title,
                partner,
            },
            Kind::Episodes => Prompt::Episodes { title },
            Kind::Drama => {
                masked = mask(scene.summary.get(locale), &giveaway_names(scene));
                Prompt::Drama { summary: &masked }
            }
        };
        locale.quiz_prompt(prompt)
    }
}

/// One question: which scene it is about, what it asks, and its options as the scenes whose values they show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// What it asks.
    pub kind: Kind,
    /// The scene it is about (its id).
    pub scene: String,
    /// The options, in button order: each the id of a scene whose value of the field it shows.
    pub options: Vec<String>,
    /// The position of the right option in `options`.
    pub answer: usize,
}

impl Question {
    /// The scene asked about; `None` when the dataset no longer has it (a stored round from another dataset).
    pub fn scene<'a>(&self, catalog: &'a Catalog) -> Option<&'a Scene> {
        catalog.scene(&self.scene)
    }

    /// The question's wording in `locale`.
    pub fn prompt(&self, catalog: &Catalog, locale: Locale) -> Option<String> {
        Some(self.kind.prompt(catalog, self.scene(catalog)?, locale))
    }

    /// The options' texts in `locale`, in button order; `None` when one can no longer be read from the dataset.
    pub fn labels(&self, catalog: &Catalog, locale: Locale) -> Option<Vec<String>> {
        self.options
            .iter()
            .map(|id| self.kind.value(catalog.scene(id)?, locale))
            .collect()
    }
}

/// Every (scene index, kind) the catalog can ask: the field has a value, enough distinct wrong values exist, and
/// the wording gives nothing of the answer away in either language.
pub fn askable(catalog: &Catalog) -> Vec<(usize, Kind)> {
    (0..catalog.scenes.len())
        .flat_map(|scene| Kind::ALL.into_iter().map(move |kind| (scene, kind)))
        .filter(|&(scene, kind)| {
            wrong_pool(catalog, scene, kind).len() >= MIN_WRONG && !gives_away(catalog, scene, kind)
        })
        .collect()
}

/// A question of `kind` about scene `scene` (an index), with up to three wrong options drawn at random and the
/// options shuffled; `None` when the catalog cannot ask it (see [`askable`]).
pub fn question(
    catalog: &Catalog,
    scene: usize,
    kind: Kind,
    rng: &mut impl Rng,
) -> Option<Question> {
    let pool = wrong_pool(catalog, scene, kind);
    if pool.len() < MIN_WRONG || gives_away(catalog, scene, kind) {
        return None;
    }
    let mut options: Vec<usize> = pool
        .choose_multiple(rng, MAX_OPTIONS - 1)
        .copied()
        .collect();
    options.push(scene);
    options.shuffle(rng);
    let answer = options.iter().position(|&o| o == scene)?;
    let id = |index: usize| catalog.scenes.get(index).map(|s| s.id.clone());
    Some(Question {
        kind,
        scene: id(scene)?,
        options: options.into_iter().map(id).collect::<Option<_>>()?,
        answer,
    })
}

/// The normalized forms of a value in both languages: two values are the same option when any of these meet.
fn keys(kind: Kind, scene: &Scene) -> Option<Vec<String>> {
    Locale::ALL
        .into_iter()
        .map(|locale| kind.value(scene, locale).map(|v| normalize(&v)))
        .collect()
}

/// The scenes whose values may stand as wrong options for `scene`'s question of `kind`, one per distinct value, in
/// catalog order. Left out: scenes of the same drama (their value would answer the same wording), values equal to
/// any alias of the right answer, and episodes the drama does not have.
fn wrong_pool(catalog: &Catalog, scene: usize, kind: Kind) -> Vec<usize> {
    let Some(asked) = catalog.scenes.get(scene) else {
        return Vec::new();
    };
    if kind.value(asked, Locale::En).is_none() {
        return Vec::new();
    }
    let taken: Vec<String> = kind.aliases(asked).iter().map(|a| normalize(a)).collect();
    let drama = normalize(&asked.drama.title);
    let mut pool: Vec<(usize, Vec<String>)> = Vec::new();
    for (index, other) in catalog.scenes.iter().enumerate() {
        if index == scene || normalize(&other.drama.title) == drama {
            continue;
        }
        if kind == Kind::Episode && other.episode.is_some_and(|e| e > asked.drama.episodes) {
            continue;
        }
        let Some(other_keys) = keys(kind, other) else {
            continue;
        };
        let clashes = |keys: &[String]| keys.iter().any(|k| other_keys.contains(k));
        if clashes(&taken) || pool.iter().any(|(_, keys)| clashes(keys)) {
            continue;
        }
        pool.push((index, other_keys));
    }
    pool.into_iter().map(|(index, _)| index).collect()
}

/// Whether the question's wording, in either language, contains any alias of its answer (compared as
/// [`normalize`] compares names: case, spacing and punctuation aside).
fn gives_away(catalog: &Catalog, scene: usize, kind: Kind) -> bool {
    let Some(asked) = catalog.scenes.get(scene) else {
        return true;
    };
    Locale::ALL
        .into_iter()
        .any(|locale| contains_any(&kind.prompt(catalog, asked, locale), &kind.aliases(asked)))
}

/// Whether `text` contains any of `names`, compared as [`normalize`] compares names.
pub fn contains_any(text: &str, names: &[String]) -> bool {
    let text = normalize(text);
    names
        .iter()
        .map(|name| normalize(name))
        .any(|name| !name.is_empty() && text.contains(&name))
}

/// Every title of the scene's drama, in both scripts.
fn drama_names(scene: &Scene) -> Vec<String> {
    let drama = &scene.drama;
    let mut names = vec![
        drama.title.clone(),
        drama.title_ko.clone(),
        drama.romanization.clone(),
    ];
    names.extend(drama.alt_titles.iter().cloned());
    names
}

/// The names a summary must not show in a "which drama?" question: the drama's titles, and the names of both
/// characters (with their aliases and given names) and of the partner, in both scripts.
pub fn giveaway_names(scene: &Scene) -> Vec<String> {
    let mut names = drama_names(scene);
    for name in [&scene.role.name, &scene.partner.role] {
        names.extend(given_name(&name.en));
        names.push(name.en.clone());
    }
    names.extend([
        scene.partner.actor.en.clone(),
        scene.partner.actor.ko.clone(),
    ]);
    let hangul_names = [&scene.role.name.ko, &scene.partner.role.ko]
        .into_iter()
        .chain(&scene.role.aliases)
        .chain(&scene.partner.aliases);
    for name in hangul_names {
        names.extend(hangul_given_name(name));
        names.push(name.clone());
    }
    names
}

/// The given name summaries call a character by in English: "Young-joon" of "Lee Young-joon".
fn given_name(name: &str) -> Option<String> {
    name.split_once(' ')
        .map(|(_, given)| given.trim().to_owned())
        .filter(|given| !given.is_empty())
}

/// The given name of a three-syllable Hangul name, which is a one-syllable family name and a given name: "영준"
/// of "이영준", "요나" of "안요나".
fn hangul_given_name(name: &str) -> Option<String> {
    let syllables: Vec<char> = name.chars().collect();
    (syllables.len() == 3 && syllables.iter().all(|c| is_hangul(*c)))
        .then(|| syllables[1..].iter().collect())
}

/// `text` with every one of `names` replaced by [`MASK`], longest names first, ignoring case. A Latin name is
/// matched as whole words only ("Ara" never masks "parade"); a Hangul name anywhere, since Korean attaches its
/// particles to names ("영준의").
pub fn mask(text: &str, names: &[String]) -> String {
    let fold = |c: char| c.to_lowercase().next().unwrap_or(c);
    let mut needles: Vec<Vec<char>> = names
        .iter()
        .map(|name| name.trim().chars().map(fold).collect::<Vec<char>>())
        .filter(|name| !name.is_empty())
        .collect();
    needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    needles.dedup();
    let mut chars: Vec<char> = text.chars().collect();
    for needle in needles {
        let hangul = needle.iter().any(|c| is_hangul(*c));
        let lower: Vec<char> = chars.iter().map(|c| fold(*c)).collect();
        let word_edge = |at: Option<&char>| at.is_none_or(|c| !c.is_alphanumeric());
        let mut out = Vec::with_capacity(chars.len());
        let mut at = 0;
        while at < chars.len() {
            let end = at + needle.len();
            let found = lower.get(at..end) == Some(needle.as_slice())
                && (hangul
                    || (word_edge(at.checked_sub(1).and_then(|i| lower.get(i)))
                        && word_edge(lower.get(end))));
            if found {
                out.extend(MASK.chars());
                at = end;
            } else {
                out.push(chars[at]);
                at += 1;
            }
        }
        chars = out;
    }
    chars.into_iter().collect()
}
