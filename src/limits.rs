//! Discord's size limits, and the dataset's own limits derived from where each text is shown.
//!
//! Discord counts characters, so every limit here is in `char`s. Rendering clamps every text to its limit
//! ([`clamp`]) so a message always fits; validation refuses data that would need clamping, so nothing is cut in
//! practice.

/// Embed title.
pub const EMBED_TITLE: usize = 256;
/// Embed description.
pub const EMBED_DESCRIPTION: usize = 4096;
/// Embed field name.
pub const EMBED_FIELD_NAME: usize = 256;
/// Embed field value.
pub const EMBED_FIELD_VALUE: usize = 1024;
/// Embed footer text.
pub const EMBED_FOOTER: usize = 2048;
/// Embed author name.
pub const EMBED_AUTHOR: usize = 256;
/// All embeds of one message together.
pub const EMBED_TOTAL: usize = 6000;
/// Fields in one embed.
pub const EMBED_FIELDS: usize = 25;
/// Message content.
pub const MESSAGE_CONTENT: usize = 2000;
/// Poll question text.
pub const POLL_QUESTION: usize = 300;
/// Poll answer text.
pub const POLL_ANSWER: usize = 55;
/// Poll answers in one poll.
pub const POLL_ANSWERS: usize = 10;
/// Autocomplete or command choices.
pub const CHOICES: usize = 25;
/// A choice's name.
pub const CHOICE_NAME: usize = 100;
/// A string choice's value.
pub const CHOICE_VALUE: usize = 100;
/// A button's label.
pub const BUTTON_LABEL: usize = 80;
/// A link button's URL.
pub const BUTTON_URL: usize = 512;
/// A component's custom id.
pub const CUSTOM_ID: usize = 100;
/// Options in a select menu.
pub const SELECT_OPTIONS: usize = 25;
/// A thread's name (channel names are 1 to 100 characters).
pub const THREAD_NAME: usize = 100;
/// A select option's label, value or description.
pub const SELECT_TEXT: usize = 100;
/// A select menu's placeholder.
pub const SELECT_PLACEHOLDER: usize = 150;

/// Scenes in a dataset: each must fit in one select menu and one autocomplete list.
pub const MAX_SCENES: usize = SELECT_OPTIONS;
/// A scene id; it travels inside custom ids and autocomplete values.
pub const SCENE_ID: usize = 40;
/// A drama title: shown after an emoji in select labels and autocomplete names (≤ 100 with the year).
pub const DRAMA_TITLE: usize = 80;
/// An alternative title (listed in a field).
pub const ALT_TITLE: usize = 100;
/// A person's or character's name (field values, select descriptions).
pub const PERSON_NAME: usize = 40;
/// The phrase saying who Park Seo-joon's character is (a field value).
pub const ROLE_ABOUT: usize = 200;
/// A scene summary: the card's description.
pub const SUMMARY: usize = EMBED_DESCRIPTION;
/// A fan note: one field value.
pub const FAN_NOTE: usize = EMBED_FIELD_VALUE;
/// The text about the See Also item: its card's description.
pub const SEE_ALSO_ABOUT: usize = EMBED_DESCRIPTION;
/// The source article's title, in footers.
pub const SOURCE_TITLE: usize = 300;
/// The source site's name, in footers.
pub const SOURCE_SITE: usize = 60;
/// A network's name.
pub const NETWORK: usize = 40;
/// An emoji, in chars (flags and ZWJ sequences take several).
pub const EMOJI_CHARS: usize = 8;
/// The earliest plausible year of a drama.
pub const FIRST_YEAR: u16 = 1950;
/// The latest plausible year of a drama.
pub const LAST_YEAR: u16 = 2100;
/// The most episodes a drama may have.
pub const MAX_EPISODES: u16 = 500;

/// `text` cut to at most `max` characters, with an ellipsis where it was cut.
pub fn clamp(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Between the items of a list shown on one line (alternative titles): its length counts against the field's limit.
pub const LIST_SEPARATOR: &str = " · ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_counts_characters_not_bytes() {
        assert_eq!(clamp("박서준", 3), "박서준");
        assert_eq!(clamp("박서준입니다", 3), "박서…");
        assert_eq!(clamp("abcdef", 4), "abc…");
        assert_eq!(clamp("", 5), "");
    }
}
