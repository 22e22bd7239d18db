//! Bad input through the fake Discord against the real bot: interaction payloads with missing, odd or stale
//! fields, and hostile text in `/scene drama:` and its autocomplete (6,000 characters, control characters,
//! right-to-left text, zero-width joiners, mentions, markdown). Each is answered politely (an error reply is
//! ephemeral) or ignored with a log line, never fatally: the process stays up and a later `/scene` works. Every
//! reply mentions nobody, escapes what it echoes, and fits Discord's limits.

use serde_json::{json, Value};

use crate::gateway::{callback_attempts, id_of};
use crate::support::fake_discord::{FakeDiscord, FakeOptions};
use crate::support::harness::{title, Harness, T};

/// What the bot does with an interaction.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    /// A scene card (type 4 with an embed) whose title contains this.
    Card(&'static str),
    /// A private, polite text reply (type 4, flags 64) containing this.
    Polite(&'static str),
    /// An autocomplete answer (type 8) with no choices.
    NoChoices,
    /// No reply; the bot logs a line containing this.
    Ignored(&'static str),
    /// serenity cannot read the payload (it becomes an `Unknown` event): no reply, the bot's handlers never see
    /// it. The bot logs its type (never its values) at warn level.
    Unreadable,
}

/// The log line the bot writes (`bot::health`, at warn level) for a dispatch serenity could not deserialize:
/// serenity's own debug line prints the event whole, interaction token included, so the log filter drops it.
const UNREADABLE: &str = "a gateway event of type INTERACTION_CREATE could not be parsed";
/// The English reply to a command that is no longer registered.
const NO_LONGER: &str = "no longer available";

/// The bot with serenity's debug log on, so an unreadable dispatch leaves a trace to wait for.
async fn start() -> Harness {
    Harness::start_with(
        FakeOptions::default(),
        vec![(
            "RUST_LOG",
            "scenebot=debug,serenity=debug,poise=info".to_owned(),
        )],
    )
    .await
}

/// Removes a top-level field.
fn without(mut payload: Value, field: &str) -> Value {
    if let Some(object) = payload.as_object_mut() {
        object.remove(field);
    }
    payload
}

/// Sets `data.options`.
fn with_options(mut payload: Value, options: Value) -> Value {
    payload["data"]["options"] = options;
    payload
}

/// Sends `payload` and checks the bot does what `expected` says; then the process must still run.
async fn check(harness: &mut Harness, case: &str, payload: Value, expected: Outcome) {
    let id = id_of(&payload);
    let logged_before = match expected {
        Outcome::Ignored(needle) => harness.bot.log_count(needle),
        Outcome::Unreadable => harness.bot.log_count(UNREADABLE),
        _ => 0,
    };
    harness.fake.send_interaction(payload);
    match expected {
        Outcome::Card(want) => {
            let reply = harness.fake.wait_callback(id, T).await;
            assert_eq!(reply["type"], 4, "{case}: {reply:#}");
            let title = title(&reply);
            assert!(!title.is_empty() && title.contains(want), "{case}: {title}");
            assert_eq!(
                reply["data"]["allowed_mentions"]["parse"],
                json!([]),
                "{case}"
            );
        }
        Outcome::Polite(want) => {
            let reply = harness.fake.wait_callback(id, T).await;
            assert_eq!(reply["type"], 4, "{case}: {reply:#}");
            assert_eq!(reply["data"]["flags"], 64, "{case}: private: {reply:#}");
            let content = reply["data"]["content"].as_str().unwrap_or_default();
            assert!(content.contains(want), "{case}: {content}");
            assert_eq!(
                reply["data"]["allowed_mentions"]["parse"],
                json!([]),
                "{case}"
            );
        }
        Outcome::NoChoices => {
            let reply = harness.fake.wait_callback(id, T).await;
            assert_eq!(reply["type"], 8, "{case}: {reply:#}");
            assert_eq!(reply["data"]["choices"], json!([]), "{case}: {reply:#}");
        }
        Outcome::Ignored(needle) => {
            harness
                .bot
                .wait_log_count(needle, logged_before + 1, T)
                .await;
        }
        Outcome::Unreadable => {
            harness
                .bot
                .wait_log_count(UNREADABLE, logged_before + 1, T)
                .await;
        }
    }
    if matches!(expected, Outcome::Ignored(_) | Outcome::Unreadable) {
        // The handler has finished (it logged why it did not answer): no answer can follow.
        assert!(
            callback_attempts(&harness.fake, id) == 0,
            "{case}: ignored, yet answered"
        );
    }
    assert!(harness.bot.is_running(), "{case}: the bot died");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_interactions_are_answered_politely_or_ignored_never_fatal() {
    let mut harness = start().await;
    let scene = |fake: &FakeDiscord| fake.slash("scene").option_str("drama", "hwarang").payload();
    let typing = |fake: &FakeDiscord| {
        fake.autocomplete("scene")
            .focused_str("drama", "hw")
            .payload()
    };
    let fake = &harness.fake;
    let mut unknown_locale = scene(fake);
    unknown_locale["locale"] = json!("xx");
    let mut empty_locale = scene(fake);
    empty_locale["locale"] = json!("");
    let mut number_locale = scene(fake);
    number_locale["locale"] = json!(42);
    let mut extra_field = scene(fake);
    extra_field["surprise"] = json!({"nested": [1, 2, {"deeper": null}]});
    let mut stale_name = scene(fake);
    stale_name["data"]["name"] = json!("kisses");
    let mut user_command = scene(fake);
    user_command["data"]["type"] = json!(2);
    let cases: Vec<(&str, Value, Outcome)> = vec![
        (
            "no locale",
            without(scene(fake), "locale"),
            Outcome::Unreadable,
        ),
        ("locale xx", unknown_locale, Outcome::Card("Hwarang")),
        ("locale empty", empty_locale, Outcome::Card("Hwarang")),
        ("locale a number", number_locale, Outcome::Unreadable),
        (
            "no member in a guild",
            without(scene(fake), "member"),
            Outcome::Card("Hwarang"),
        ),
        (
            "no app_permissions",
            without(scene(fake), "app_permissions"),
            Outcome::Card("Hwarang"),
        ),
        (
            "no entitlements",
            without(scene(fake), "entitlements"),
            Outcome::Unreadable,
        ),
        (
            "an unknown top-level field",
            extra_field,
            Outcome::Card("Hwarang"),
        ),
        (
            "drama as an integer option (a stale option type)",
            with_options(
                scene(fake),
                json!([{"name": "drama", "type": 4, "value": 42}]),
            ),
            Outcome::Polite(NO_LONGER),
        ),
        (
            "drama a string option with a number value",
            with_options(
                scene(fake),
                json!([{"name": "drama", "type": 3, "value": 42}]),
            ),
            Outcome::Unreadable,
        ),
        (
            "drama null",
            with_options(
                scene(fake),
                json!([{"name": "drama", "type": 3, "value": null}]),
            ),
            Outcome::Unreadable,
        ),
        (
            "options an object",
            with_options(scene(fake), json!({})),
            Outcome::Unreadable,
        ),
        (
            "an option the command does not have",
            with_options(
                scene(fake),
                json!([{"name": "season", "type": 3, "value": "2"}]),
            ),
            Outcome::Card(""),
        ),
        (
            "drama and an option the command does not have",
            with_options(
                scene(fake),
                json!([
                    {"name": "drama", "type": 3, "value": "hwarang"},
                    {"name": "season", "type": 4, "value": 2}
                ]),
            ),
            Outcome::Card("Hwarang"),
        ),
        (
            "drama twice",
            with_options(
                scene(fake),
                json!([
                    {"name": "drama", "type": 3, "value": "hwarang"},
                    {"name": "drama", "type": 3, "value": "witch"}
                ]),
            ),
            Outcome::Card(""),
        ),
        (
            "an unknown command (a stale registration)",
            stale_name,
            Outcome::Polite(NO_LONGER),
        ),
        (
            "a user command named scene",
            user_command,
            Outcome::Polite(NO_LONGER),
        ),
        (
            "autocomplete of an option the command does not have",
            with_options(
                typing(fake),
                json!([{"name": "season", "type": 3, "value": "x", "focused": true}]),
            ),
            Outcome::NoChoices,
        ),
        (
            "autocomplete with nothing focused",
            with_options(
                typing(fake),
                json!([{"name": "drama", "type": 3, "value": "hw"}]),
            ),
            Outcome::Ignored("no option is focused"),
        ),
        (
            "autocomplete of an integer",
            with_options(
                typing(fake),
                json!([{"name": "drama", "type": 4, "value": 7, "focused": true}]),
            ),
            Outcome::Unreadable,
        ),
    ];
    for (case, payload, expected) in cases {
        check(&mut harness, case, payload, expected).await;
    }
    let after = harness.scene(Some("fight for my way")).await;
    assert!(title(&after).contains("Fight for My Way"), "{after:#}");
    assert!(harness.bot.is_running());
}

/// An autocomplete for a command that is no longer registered must get an (empty) autocomplete answer, not a
/// message: Discord refuses a type-4 answer to an autocomplete interaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_of_an_unknown_command_gets_an_empty_autocomplete_answer() {
    let harness = start().await;
    let mut payload = harness
        .fake
        .autocomplete("scene")
        .focused_str("drama", "hw")
        .payload();
    payload["data"]["name"] = json!("kisses");
    let interaction = harness.fake.send_interaction(payload);
    let reply = harness.fake.wait_callback(interaction.id, T).await;
    assert_eq!(reply["type"], 8, "{reply:#}");
    assert_eq!(reply["data"]["choices"], json!([]), "{reply:#}");
}

/// A `/scene` whose `drama` option no longer has the registered type (an integer where a string is expected: a
/// client with a stale registration) gets the same polite private reply as an unknown command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_option_type_gets_a_polite_private_reply() {
    let harness = start().await;
    let payload = with_options(
        harness.fake.slash("scene").payload(),
        json!([{"name": "drama", "type": 4, "value": 42}]),
    );
    let interaction = harness.fake.send_interaction(payload);
    let reply = harness.fake.wait_callback(interaction.id, T).await;
    assert_eq!(reply["type"], 4, "{reply:#}");
    assert_eq!(reply["data"]["flags"], 64, "{reply:#}");
    assert!(
        reply["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains(NO_LONGER),
        "{reply:#}"
    );
}

/// Text a user may type, each with a name for messages.
fn hostile_inputs() -> Vec<(&'static str, String)> {
    vec![
        ("6,000 letters", "x".repeat(6000)),
        ("6,000 characters of @everyone", "@everyone ".repeat(600)),
        ("6,000 Hangul syllables", "박".repeat(6000)),
        (
            "control characters",
            "hw\u{0}a\u{7}r\u{1b}[31ma\u{8}ng\r\n\t\u{7f}\u{85}".to_owned(),
        ),
        (
            "right-to-left text and overrides",
            "\u{202e}gnaraw\u{202c} שלום עולם مرحبا \u{2067}@everyone\u{2069}".to_owned(),
        ),
        (
            "zero-width joiners",
            "@\u{200d}everyone hwa\u{200d}rang \u{200b}<\u{200d}@&123> 👨\u{200d}👩\u{200d}👧"
                .to_owned(),
        ),
        ("@everyone", "@everyone".to_owned()),
        ("@here", "@here".to_owned()),
        ("a role mention", "<@&123>".to_owned()),
        ("a user mention", "<@123> <@!123>".to_owned()),
        (
            "a channel, an emoji and a command mention",
            "<#123> <:x:123> </scene:123> <t:0:R>".to_owned(),
        ),
        ("bold markdown", "**x**".to_owned()),
        ("a masked link", "[link](https://evil.example)".to_owned()),
        (
            "every markdown sign",
            "# h\n> q `c` ```x``` ||s|| ~~d~~ __u__ *i* \\@everyone \\<@&123> -# small".to_owned(),
        ),
        (
            "everything at once",
            "**@everyone** [<@&123>](https://evil.example) \u{202e}<@123>\u{200d} ".repeat(80),
        ),
    ]
}

/// Characters outside a backslash escape: each escapes the one after it.
fn unescaped(text: &str) -> Vec<char> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
        } else {
            out.push(c);
        }
    }
    out
}

/// A message reply to hostile input is safe: it mentions nobody, echoes nothing raw, and fits.
fn assert_safe_message(case: &str, reply: &Value) {
    assert_eq!(reply["type"], 4, "{case}: {reply:#}");
    let data = &reply["data"];
    let mentions = &data["allowed_mentions"];
    assert_eq!(mentions["parse"], json!([]), "{case}: {reply:#}");
    for list in ["users", "roles"] {
        assert!(
            mentions[list].is_null() || mentions[list] == json!([]),
            "{case}: {list} listed: {reply:#}"
        );
    }
    let content = data["content"].as_str().unwrap_or_default();
    assert!(
        content.chars().count() <= 2000,
        "{case}: {} characters",
        content.chars().count()
    );
    if data["embeds"].as_array().is_none_or(Vec::is_empty) {
        assert_eq!(
            data["flags"], 64,
            "{case}: a text reply is private: {reply:#}"
        );
    }
    let raw: Vec<char> = unescaped(content)
        .into_iter()
        .filter(|c| matches!(c, '@' | '<'))
        .collect();
    assert!(
        raw.is_empty(),
        "{case}: unescaped {raw:?} in the content:\n{content}"
    );
    // What the bot echoes sits between “ and ” on the first line; no markdown sign may be live there.
    let first_line = content.lines().next().unwrap_or_default();
    if let (Some(open), Some(close)) = (first_line.find('“'), first_line.rfind('”')) {
        let quoted = &first_line[open + '“'.len_utf8()..close];
        let live: Vec<char> = unescaped(quoted)
            .into_iter()
            .filter(|c| "*_~`|>#[]()@<".contains(*c))
            .collect();
        assert!(
            live.is_empty(),
            "{case}: live markdown {live:?} in {quoted:?}"
        );
        assert!(
            quoted.chars().count() <= 100,
            "{case}: the echo is cut short: {quoted:?}"
        );
        assert!(
            !quoted.chars().any(char::is_control),
            "{case}: control characters echoed: {quoted:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_drama_text_gets_safe_replies() {
    let harness = start().await;
    for (case, text) in hostile_inputs() {
        for locale in ["en-US", "ko"] {
            let interaction = harness
                .fake
                .slash("scene")
                .option_str("drama", &text)
                .locale(locale)
                .send()
                .await;
            let reply = harness.fake.wait_callback(interaction.id, T).await;
            assert_safe_message(&format!("{case} ({locale})"), &reply);
        }
    }
    let after = harness.scene(Some("hwarang")).await;
    assert!(title(&after).contains("Hwarang"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_autocomplete_text_gets_bounded_choices() {
    let harness = start().await;
    for (case, text) in hostile_inputs() {
        let interaction = harness
            .fake
            .autocomplete("scene")
            .focused_str("drama", &text)
            .send()
            .await;
        let reply = harness.fake.wait_callback(interaction.id, T).await;
        assert_eq!(reply["type"], 8, "{case}: {reply:#}");
        let choices = reply["data"]["choices"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(choices.len() <= 25, "{case}: {} choices", choices.len());
        for choice in &choices {
            let name = choice["name"].as_str().unwrap_or_default();
            let value = choice["value"].as_str().unwrap_or_default();
            assert!(
                (1..=100).contains(&name.chars().count()),
                "{case}: choice name {name:?}"
            );
            assert!(
                (1..=100).contains(&value.chars().count()),
                "{case}: choice value {value:?}"
            );
            assert!(
                !name.contains('@') && !name.contains('<'),
                "{case}: the input leaked into a choice: {name:?}"
            );
        }
    }
    let after = harness.scene(Some("hwarang")).await;
    assert!(title(&after).contains("Hwarang"));
}
