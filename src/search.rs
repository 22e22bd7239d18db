//! Drama search the way fans type it.
//!
//! A query is matched against every name a fan may use for a scene: English titles, alternative titles, the Hangul
//! title, its romanization, both characters' names and aliases, the partner's name and the scene id. Matching ignores
//! case, punctuation and spacing; Hangul matches in part ("김비서") and by initial consonants ("ㄱㅂㅅ"); small typos
//! are forgiven ("secretery kim", "hwarng"). Results are ranked: whole-name match, then prefix, then a prefix of a
//! later word, then substring, then fuzzy, with a cutoff strict enough that nonsense ("zzzz", "pizza") matches nothing.
//!
//! One index serves both `/scene drama:…` (the best match, or suggestions) and autocomplete (the ranked list).

use crate::catalog::Catalog;

/// How a scene matched a query, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchKind {
    /// The query is a whole name.
    Exact,
    /// A name starts with the query.
    Prefix,
    /// A later word of a name starts with the query.
    WordPrefix,
    /// A name contains the query.
    Substring,
    /// A name is within a few typos of the query.
    Fuzzy,
}

/// One matching scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The scene's index in the catalog.
    pub scene: usize,
    /// How it matched.
    pub kind: MatchKind,
    /// Typos forgiven (0 unless fuzzy).
    pub typos: u8,
    /// Which kind of name matched (titles rank before people).
    name_rank: u8,
}

impl Hit {
    fn order(&self) -> (MatchKind, u8, u8, usize) {
        (self.kind, self.typos, self.name_rank, self.scene)
    }
}

/// The result of looking a drama up by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The best matching scene's index.
    Found(usize),
    /// Nothing matched; up to three scenes the user may have meant.
    NoMatch {
        /// Indices of the closest scenes, closest first.
        suggestions: Vec<usize>,
    },
}

/// The most suggestions a failed lookup offers.
pub const SUGGESTIONS: usize = 3;

/// Queries longer than this (in letters) are matched exactly only, never fuzzily.
const MAX_FUZZY_QUERY: usize = 48;

/// A name of a scene, prepared for matching.
#[derive(Debug, Clone)]
struct Name {
    scene: usize,
    rank: u8,
    /// Lowercase letters and digits only.
    letters: Vec<char>,
    /// Where each word starts in `letters`.
    word_starts: Vec<usize>,
    /// Initial consonants of Hangul syllables (empty when the name has no Hangul).
    initials: Vec<char>,
    /// Whether the name is written in Hangul (fuzzy matching compares like with like).
    hangul: bool,
}

/// Every name of every scene, prepared once when the catalog loads.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    names: Vec<Name>,
    scenes: usize,
}

impl SearchIndex {
    /// Prepares the names of every scene of `catalog`.
    pub fn new(catalog: &Catalog) -> SearchIndex {
        let mut names = Vec::new();
        for (scene_index, scene) in catalog.scenes.iter().enumerate() {
            let drama = &scene.drama;
            let ranked: [(u8, Vec<&str>); 4] = [
                (0, vec![scene.id.as_str(), &drama.title, &drama.title_ko]),
                (
                    1,
                    drama
                        .alt_titles
                        .iter()
                        .map(String::as_str)
                        .chain([drama.romanization.as_str()])
                        .collect(),
                ),
                (
                    2,
                    [&scene.role.name.en, &scene.role.name.ko]
                        .into_iter()
                        .chain(&scene.role.aliases)
                        .map(String::as_str)
                        .collect(),
                ),
                (
                    3,
                    [
                        &scene.partner.actor.en,
                        &scene.partner.actor.ko,
                        &scene.partner.role.en,
                        &scene.partner.role.ko,
                    ]
                    .into_iter()
                    .chain(&scene.partner.aliases)
                    .map(String::as_str)
                    .collect(),
                ),
            ];
            for (rank, texts) in ranked {
                for text in texts {
                    if let Some(name) = Name::new(scene_index, rank, text) {
                        names.push(name);
                    }
                }
            }
        }
        SearchIndex {
            names,
            scenes: catalog.scenes.len(),
        }
    }

    /// Every scene matching `query`, best first, each once. An empty query lists every scene in catalog order.
    pub fn search(&self, query: &str) -> Vec<Hit> {
        if query.trim().is_empty() {
            return (0..self.scenes)
                .map(|scene| Hit {
                    scene,
                    kind: MatchKind::Prefix,
                    typos: 0,
                    name_rank: 0,
                })
                .collect();
        }
        let query = Query::new(query);
        if query.letters.is_empty() {
            return Vec::new();
        }
        let mut best: Vec<Option<Hit>> = vec![None; self.scenes];
        for name in &self.names {
            let Some(hit) = name.matches(&query) else {
                continue;
            };
            let slot = &mut best[name.scene];
            if slot.is_none_or(|current| hit.order() < current.order()) {
                *slot = Some(hit);
            }
        }
        let mut hits: Vec<Hit> = best.into_iter().flatten().collect();
        hits.sort_by_key(Hit::order);
        hits
    }

    /// The best scene for `query`, or the closest few when nothing matches.
    pub fn lookup(&self, query: &str) -> Lookup {
        match self.search(query).first() {
            Some(hit) => Lookup::Found(hit.scene),
            None => Lookup::NoMatch {
                suggestions: self.suggestions(query),
            },
        }
    }

    /// Up to [`SUGGESTIONS`] scenes closest to `query` by string similarity, ignoring the fuzzy cutoff.
    pub fn suggestions(&self, query: &str) -> Vec<usize> {
        let query: String = Query::new(query).letters.into_iter().collect();
        let mut closest = vec![0.0_f64; self.scenes];
        for name in &self.names {
            let letters: String = name.letters.iter().collect();
            let similarity = strsim::jaro_winkler(&query, &letters);
            let slot = &mut closest[name.scene];
            *slot = slot.max(similarity);
        }
        let mut order: Vec<usize> = (0..self.scenes).collect();
        order.sort_by(|a, b| closest[*b].total_cmp(&closest[*a]).then(a.cmp(b)));
        order.truncate(SUGGESTIONS);
        order
    }
}

/// A query, prepared.
struct Query {
    letters: Vec<char>,
    /// The query is made only of Hangul initial consonants ("ㄱㅂㅅ").
    initials_only: bool,
    hangul: bool,
    max_typos: usize,
}

impl Query {
    fn new(text: &str) -> Query {
        let letters = letters_of(text);
        let initials_only = !letters.is_empty() && letters.iter().all(|c| is_initial_consonant(*c));
        let hangul = letters.iter().any(|c| is_hangul(*c));
        let max_typos = if initials_only || letters.len() > MAX_FUZZY_QUERY {
            0
        } else {
            typos_allowed(letters.len())
        };
        Query {
            letters,
            initials_only,
            hangul,
            max_typos,
        }
    }
}

/// How many typos a query of `length` letters may have: none for short queries, so nonsense stays unmatched.
fn typos_allowed(length: usize) -> usize {
    match length {
        0..=3 => 0,
        4..=7 => 1,
        8..=12 => 2,
        _ => 3,
    }
}

impl Name {
    fn new(scene: usize, rank: u8, text: &str) -> Option<Name> {
        let mut letters = Vec::new();
        let mut word_starts = Vec::new();
        let mut in_word = false;
        for c in text.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                if !in_word {
                    word_starts.push(letters.len());
                }
                letters.push(c);
                in_word = true;
            } else {
                in_word = false;
            }
        }
        if letters.is_empty() {
            return None;
        }
        let hangul = letters.iter().any(|c| is_hangul(*c));
        let initials = if hangul {
            letters
                .iter()
                .filter_map(|c| initial_consonant(*c))
                .collect()
        } else {
            Vec::new()
        };
        Some(Name {
            scene,
            rank,
            letters,
            word_starts,
            initials,
            hangul,
        })
    }

    fn matches(&self, query: &Query) -> Option<Hit> {
        let hit = |kind, typos: usize| Hit {
            scene: self.scene,
            kind,
            typos: u8::try_from(typos).unwrap_or(u8::MAX),
            name_rank: self.rank,
        };
        let q = &query.letters[..];
        if query.initials_only {
            return if self.initials.starts_with(q) {
                Some(hit(MatchKind::Prefix, 0))
            } else if contains(&self.initials, q) {
                Some(hit(MatchKind::Substring, 0))
            } else {
                None
            };
        }
        if self.letters == q {
            return Some(hit(MatchKind::Exact, 0));
        }
        if self.letters.starts_with(q) {
            return Some(hit(MatchKind::Prefix, 0));
        }
        if self.word_starts[1..]
            .iter()
            .any(|&start| self.letters[start..].starts_with(q))
        {
            return Some(hit(MatchKind::WordPrefix, 0));
        }
        if contains(&self.letters, q) {
            return Some(hit(MatchKind::Substring, 0));
        }
        if query.max_typos == 0 || query.hangul != self.hangul {
            return None;
        }
        self.word_starts
            .iter()
            .filter_map(|&start| prefix_distance(q, &self.letters[start..], query.max_typos))
            .min()
            .map(|typos| hit(MatchKind::Fuzzy, typos))
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[char], needle: &[char]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The smallest edit distance (optimal string alignment: insertions, deletions, substitutions and swaps of two
/// neighbours) between `query` and any prefix of `text`, if it is at most `max`. Comparing with prefixes lets a
/// query that is still being typed, or that names the start of a longer title, match.
fn prefix_distance(query: &[char], text: &[char], max: usize) -> Option<usize> {
    const WIDTH: usize = MAX_FUZZY_QUERY + 8;
    let m = query.len();
    let n = text.len().min(m + max);
    if m == 0 || n + max < m || n + 1 > WIDTH {
        return None;
    }
    // Rows of the DP table: two back (for swaps), previous and current.
    let mut before = [0_usize; WIDTH];
    let mut previous = [0_usize; WIDTH];
    let mut current = [0_usize; WIDTH];
    for (j, cell) in previous.iter_mut().enumerate().take(n + 1) {
        *cell = j;
    }
    for i in 1..=m {
        current[0] = i;
        let mut row_min = i;
        for j in 1..=n {
            let cost = usize::from(query[i - 1] != text[j - 1]);
            let mut value = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && query[i - 1] == text[j - 2] && query[i - 2] == text[j - 1] {
                value = value.min(before[j - 2] + 1);
            }
            current[j] = value;
            row_min = row_min.min(value);
        }
        if row_min > max {
            return None;
        }
        before = previous;
        previous = current;
    }
    // previous[j] is the distance from the whole query to text[..j]; a prefix must keep most of the query's length.
    let shortest = m.saturating_sub(max);
    previous[shortest.max(1)..=n]
        .iter()
        .copied()
        .min()
        .filter(|d| *d <= max)
}

/// `text` as names are compared: lowercase letters and digits only, so "Kill Me, Heal Me" and "kill me heal me"
/// are one name (the quiz's options must differ after it).
pub fn normalize(text: &str) -> String {
    letters_of(text).into_iter().collect()
}

/// Lowercase letters and digits of `text`, nothing else.
fn letters_of(text: &str) -> Vec<char> {
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// The 19 initial consonants, in the order Unicode composes syllables with them.
const INITIALS: [char; 19] = [
    'ㄱ', 'ㄲ', 'ㄴ', 'ㄷ', 'ㄸ', 'ㄹ', 'ㅁ', 'ㅂ', 'ㅃ', 'ㅅ', 'ㅆ', 'ㅇ', 'ㅈ', 'ㅉ', 'ㅊ', 'ㅋ',
    'ㅌ', 'ㅍ', 'ㅎ',
];

/// The initial consonant of a Hangul syllable, or the consonant itself when `c` already is one.
fn initial_consonant(c: char) -> Option<char> {
    let code = u32::from(c);
    if (0xAC00..=0xD7A3).contains(&code) {
        let index = usize::try_from((code - 0xAC00) / 588).ok()?;
        INITIALS.get(index).copied()
    } else if is_initial_consonant(c) {
        Some(c)
    } else {
        None
    }
}

fn is_initial_consonant(c: char) -> bool {
    INITIALS.contains(&c)
}

/// Whether `c` is Hangul (a syllable or a jamo): Korean names are matched without word boundaries, since
/// particles attach to them.
pub fn is_hangul(c: char) -> bool {
    matches!(u32::from(c), 0xAC00..=0xD7A3 | 0x3131..=0x318E | 0x1100..=0x11FF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> (Catalog, SearchIndex) {
        let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let index = SearchIndex::new(&catalog);
        (catalog, index)
    }

    fn best(index: &SearchIndex, catalog: &Catalog, query: &str) -> Option<String> {
        match index.lookup(query) {
            Lookup::Found(i) => Some(catalog.scenes[i].id.clone()),
            Lookup::NoMatch { .. } => None,
        }
    }

    /// (query, expected best scene id or None for no match).
    const TABLE: &[(&str, Option<&str>)] = &[
        // English titles, case, punctuation and spacing
        ("What's Wrong with Secretary Kim", Some("secretary-kim")),
        ("whats wrong with secretary kim", Some("secretary-kim")),
        ("WHAT'S-WRONG", Some("secretary-kim")),
        ("secretary kim", Some("secretary-kim")),
        ("she was pretty", Some("she-was-pretty")),
        ("shewaspretty", Some("she-was-pretty")),
        ("witch", Some("witchs-romance")),
        ("Fight for my way", Some("fight-for-my-way")),
        ("hwarang", Some("hwarang")),
        ("kill me heal me", Some("kill-me-heal-me")),
        ("Kill Me, Heal Me", Some("kill-me-heal-me")),
        // alternative titles and ids
        ("fight my way", Some("fight-for-my-way")),
        ("why secretary kim", Some("secretary-kim")),
        ("she was beautiful", Some("she-was-pretty")),
        ("kill-me-heal-me", Some("kill-me-heal-me")),
        // Hangul titles, in part, and by initial consonants
        ("김비서가 왜 그럴까", Some("secretary-kim")),
        ("김비서", Some("secretary-kim")),
        ("그녀는 예뻤다", Some("she-was-pretty")),
        ("마녀", Some("witchs-romance")),
        ("쌈 마이웨이", Some("fight-for-my-way")),
        ("화랑", Some("hwarang")),
        ("킬미힐미", Some("kill-me-heal-me")),
        ("ㄱㅂㅅ", Some("secretary-kim")),
        ("ㄱㄴㄴ", Some("she-was-pretty")),
        ("ㅋㅁㅎㅁ", Some("kill-me-heal-me")),
        // romanization
        ("geunyeoneun", Some("she-was-pretty")),
        // typos
        ("secretery kim", Some("secretary-kim")),
        ("hwarng", Some("hwarang")),
        ("kil me heel me", Some("kill-me-heal-me")),
        ("witchs romanse", Some("witchs-romance")),
        ("fihgt for my way", Some("fight-for-my-way")),
        // roles and co-stars
        ("lee young-joon", Some("secretary-kim")),
        ("park min young", Some("secretary-kim")),
        ("이영준", Some("secretary-kim")),
        ("hwang jung-eum", Some("she-was-pretty")),
        ("uhm jung-hwa", Some("witchs-romance")),
        ("ko dong-man", Some("fight-for-my-way")),
        ("go dong-man", Some("fight-for-my-way")),
        ("kim ji-won", Some("fight-for-my-way")),
        ("go ara", Some("hwarang")),
        ("아로", Some("hwarang")),
        ("ji sung", Some("kill-me-heal-me")),
        ("oh ri-on", Some("kill-me-heal-me")),
        ("yo-na", Some("kill-me-heal-me")),
        // nonsense
        ("zzzz", None),
        ("pizza", None),
        ("qwertyuiop", None),
        ("ㅋㅋㅋ", None),
        ("🦀", None),
        ("x", None),
    ];

    #[test]
    fn the_table_of_fan_queries_finds_the_right_scene() {
        let (catalog, index) = index();
        let mut failures = Vec::new();
        for (query, expected) in TABLE {
            let got = best(&index, &catalog, query);
            if got.as_deref() != *expected {
                failures.push(format!(
                    "{query:?}: expected {expected:?}, got {got:?} ({:?})",
                    index.search(query)
                ));
            }
        }
        assert!(TABLE.len() >= 30);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn nonsense_gets_suggestions_not_a_scene() {
        let (_, index) = index();
        for query in ["zzzz", "pizza"] {
            match index.lookup(query) {
                Lookup::NoMatch { suggestions } => {
                    assert_eq!(suggestions.len(), SUGGESTIONS, "{query}");
                    let mut unique = suggestions.clone();
                    unique.dedup();
                    assert_eq!(unique.len(), suggestions.len());
                }
                found => panic!("{query} matched {found:?}"),
            }
        }
    }

    #[test]
    fn a_close_miss_is_suggested_first() {
        let (catalog, index) = index();
        let suggestions = index.suggestions("hwarrrrrrang youth");
        assert_eq!(catalog.scenes[suggestions[0]].id, "hwarang");
    }

    #[test]
    fn ranking_puts_prefix_before_substring_before_fuzzy() {
        let (catalog, index) = index();
        // "kim" starts Kim Mi-so, Kim Ji-won, Kim Ah-ro, Kim Hye-jin; it is inside "secretary kim" too.
        let hits = index.search("kim");
        assert!(hits.len() >= 4, "{hits:?}");
        let kinds: Vec<MatchKind> = hits.iter().map(|h| h.kind).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(kinds, sorted);
        // typing an unfinished title lists that drama first
        let hits = index.search("she w");
        assert_eq!(catalog.scenes[hits[0].scene].id, "she-was-pretty");
        assert_eq!(hits[0].kind, MatchKind::Prefix);
    }

    #[test]
    fn an_empty_query_lists_every_scene_in_order() {
        let (catalog, index) = index();
        let hits = index.search("  ");
        assert_eq!(
            hits.iter().map(|h| h.scene).collect::<Vec<_>>(),
            (0..catalog.scenes.len()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn each_scene_appears_once() {
        let (_, index) = index();
        let hits = index.search("e");
        let mut scenes: Vec<usize> = hits.iter().map(|h| h.scene).collect();
        scenes.sort();
        scenes.dedup();
        assert_eq!(scenes.len(), hits.len());
    }

    #[test]
    fn prefix_distance_forgives_typos_and_unfinished_words() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(
            prefix_distance(&chars("hwarng"), &chars("hwarangthepoet"), 1),
            Some(1)
        );
        assert_eq!(
            prefix_distance(&chars("secertary"), &chars("secretarykim"), 2),
            Some(1)
        );
        assert_eq!(
            prefix_distance(&chars("pizza"), &chars("parkminyoung"), 1),
            None
        );
        assert_eq!(prefix_distance(&chars("abcd"), &chars("ab"), 1), None);
    }

    #[test]
    fn initial_consonants_are_read_from_syllables() {
        assert_eq!(initial_consonant('김'), Some('ㄱ'));
        assert_eq!(initial_consonant('힣'), Some('ㅎ'));
        assert_eq!(initial_consonant('ㅂ'), Some('ㅂ'));
        assert_eq!(initial_consonant('a'), None);
    }
}
