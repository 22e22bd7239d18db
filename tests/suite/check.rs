//! `scenebot check`: the shipped dataset passes; each broken dataset gets its own precise message and exit code 2.

use serde_json::{json, Value};

use crate::support::{run, shipped_dataset, TempFile};

#[test]
fn the_shipped_dataset_passes_with_a_summary_table() {
    let output = run(&["check"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("valid (schema 2"), "{stdout}");
    // The dates, each drama's Korean run and the three dated kiss episodes, and where they come from.
    for line in [
        "aired in Korea",
        "2015-01-07 – 2015-03-12 13   2015-02-18",
        "2016-12-19 – 2017-02-21 -    -",
        "Born: 1988-12-16 (https://en.wikipedia.org/wiki/Park_Seo-joon)",
        "witchs-romance     ep aired: http://www.osen.co.kr/article/G1109833268",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from\n{stdout}");
    }
    for id in [
        "secretary-kim",
        "she-was-pretty",
        "witchs-romance",
        "fight-for-my-way",
        "hwarang",
        "kill-me-heal-me",
    ] {
        assert!(stdout.contains(id), "{id} missing from\n{stdout}");
    }
    let file = TempFile::new("scenes.json", &shipped_dataset());
    assert_eq!(run(&["check", file.arg()]).status.code(), Some(0));
}

/// A broken dataset: the shipped one changed by `edit`, or raw text.
enum Broken {
    Edit(fn(&mut Value)),
    /// The field `key` taken out of the object at a JSON pointer.
    Remove(&'static str, &'static str),
    Text(fn(&str) -> String),
}

/// (what is broken, how, the messages expected on stderr).
fn table() -> Vec<(&'static str, Broken, Vec<&'static str>)> {
    vec![
        (
            "syntax error: a truncated file",
            Broken::Text(|text| text.chars().take(text.chars().count() / 2).collect()),
            vec!["line ", "column ", "EOF while parsing"],
        ),
        (
            "syntax error: a trailing comma",
            Broken::Text(|text| {
                // A second comma at the end of line 3 (the revision), whatever the revision's date.
                text.replacen("\n  \"actor\"", ",\n  \"actor\"", 1)
            }),
            vec!["line 3, column", "key must be a string"],
        ),
        (
            "trailing garbage after the document",
            Broken::Text(|text| format!("{text}\n{{}}")),
            vec!["trailing characters"],
        ),
        (
            "wrong type",
            Broken::Edit(|v| v["scenes"][0]["drama"]["year"] = json!("2018")),
            vec!["scenes[0].drama.year: invalid type: string \"2018\", expected u16"],
        ),
        (
            "missing field",
            Broken::Remove("/scenes/1", "summary"),
            vec!["scenes[1]: missing field `summary`"],
        ),
        (
            "unknown field (a typo)",
            Broken::Edit(|v| v["scenes"][2]["drama"]["titel"] = json!("x")),
            vec!["scenes[2].drama.titel: unknown field `titel`, expected one of `title`"],
        ),
        (
            "duplicate id",
            Broken::Edit(|v| v["scenes"][1]["id"] = json!("secretary-kim")),
            vec!["scenes[1].id: \"secretary-kim\" is already used by scenes[0]"],
        ),
        (
            "over-long Korean poll label",
            Broken::Edit(|v| v["scenes"][0]["poll_label"]["ko"] = json!("가".repeat(56))),
            vec!["scenes[0].poll_label.ko: is 56 characters; at most 55"],
        ),
        (
            "Korean poll label used twice",
            Broken::Edit(|v| v["scenes"][4]["poll_label"]["ko"] = v["scenes"][2]["poll_label"]["ko"].clone()),
            vec!["scenes[4].poll_label.ko: \"마녀의 연애: 나이를 알게 된 그날 밤\" is already used by scenes[2]; each scene needs its own"],
        ),
        (
            "English poll label used twice",
            Broken::Edit(|v| v["scenes"][1]["poll_label"]["en"] = v["scenes"][0]["poll_label"]["en"].clone()),
            vec!["scenes[1].poll_label.en: \"Secretary Kim: the passionate kiss\" is already used by scenes[0]"],
        ),
        (
            "poll label in one language only (the old format)",
            Broken::Edit(|v| v["scenes"][0]["poll_label"] = json!("Secretary Kim: the passionate kiss")),
            vec!["scenes[0].poll_label: invalid type: string \"Secretary Kim: the passionate kiss\", expected struct Text"],
        ),
        (
            "poll label without its Korean text",
            Broken::Remove("/scenes/3/poll_label", "ko"),
            vec!["scenes[3].poll_label: missing field `ko`"],
        ),
        (
            "empty scene list",
            Broken::Edit(|v| v["scenes"] = json!([])),
            vec!["scenes: the list is empty"],
        ),
        (
            "bad colour",
            Broken::Edit(|v| v["scenes"][3]["color"] = json!("#12345")),
            vec!["scenes[3].color: \"#12345\" must be a colour written #RRGGBB"],
        ),
        (
            "year out of range",
            Broken::Edit(|v| v["scenes"][3]["drama"]["year"] = json!(1899)),
            vec!["scenes[3].drama.year: 1899 is out of range"],
        ),
        (
            "empty text",
            Broken::Edit(|v| v["scenes"][0]["summary"]["ko"] = json!("  ")),
            vec!["scenes[0].summary.ko: is empty"],
        ),
        (
            "unsupported schema version",
            Broken::Edit(|v| v["schema_version"] = json!(3)),
            vec!["schema_version: 3 is not supported (this build reads versions 1 to 2)"],
        ),
        (
            "id that is not a slug",
            Broken::Edit(|v| v["scenes"][0]["id"] = json!("Secretary Kim")),
            vec!["scenes[0].id: \"Secretary Kim\" must be 1 to 40 characters"],
        ),
        (
            "episode beyond the drama's episodes",
            Broken::Edit(|v| v["scenes"][2]["episode"] = json!(99)),
            vec!["scenes[2].episode: 99 is out of range"],
        ),
        (
            "link that is not https",
            Broken::Edit(|v| v["see_also"]["url"] = json!("ftp://example.com/x")),
            vec!["see_also.url: \"ftp://example.com/x\" must be an https:// URL"],
        ),
        (
            "not an emoji",
            Broken::Edit(|v| v["scenes"][5]["emoji"] = json!("abc")),
            vec!["scenes[5].emoji: \"abc\" must be one unicode emoji"],
        ),
        (
            "a card over Discord's 6,000 characters",
            Broken::Edit(|v| {
                v["scenes"][4]["summary"]["en"] = json!("a".repeat(4096));
                v["scenes"][4]["fan_note"] = json!({"en": "n".repeat(1024), "ko": "노트"});
                v["scenes"][4]["drama"]["alt_titles"] = json!(vec!["t".repeat(100); 9]);
            }),
            vec![
                "scenes[4]: the en-US card is",
                "Discord allows 6000 per message",
            ],
        ),
        (
            "alternative titles too long together",
            Broken::Edit(|v| {
                v["scenes"][4]["drama"]["alt_titles"] = json!(vec!["t".repeat(100); 11])
            }),
            vec!["scenes[4].drama.alt_titles: together"],
        ),
        (
            "null where an object belongs",
            Broken::Edit(|v| v["actor"] = Value::Null),
            vec!["actor: invalid type: null, expected struct Actor"],
        ),
        (
            "a date without a source",
            Broken::Remove("/scenes/3/episode_aired", "source"),
            vec!["scenes[3].episode_aired.source: the date has no source"],
        ),
        (
            "a birth date without a source",
            Broken::Remove("/actor", "born_source"),
            vec!["actor.born_source: the birth date has no source"],
        ),
        (
            "an episode date outside its drama's air dates",
            Broken::Edit(|v| v["scenes"][5]["episode_aired"]["date"] = json!("2015-03-13")),
            vec!["scenes[5].episode_aired.date: 2015-03-13 is outside the drama's air dates (2015-01-07 to 2015-03-12)"],
        ),
        (
            "a date in the future",
            Broken::Edit(|v| {
                v["scenes"][1]["drama"]["year"] = json!(2099);
                v["scenes"][1]["drama"]["aired"] = json!({"first": "2099-01-01", "last": "2099-03-01", "source": "https://example.com/"});
            }),
            vec!["scenes[1].drama.aired.first: 2099-01-01 is in the future (today is "],
        ),
        (
            "a drama whose last air date is before its first",
            Broken::Edit(|v| v["scenes"][0]["drama"]["aired"]["last"] = json!("2018-06-01")),
            vec!["scenes[0].drama.aired.last: 2018-06-01 is before the first air date 2018-06-06"],
        ),
        (
            "a date that is no date",
            Broken::Edit(|v| v["scenes"][0]["drama"]["aired"]["first"] = json!("2018-02-30")),
            vec!["scenes[0].drama.aired.first: \"2018-02-30\" must be a date written YYYY-MM-DD"],
        ),
        (
            "every problem reported at once",
            Broken::Edit(|v| {
                v["scenes"][0]["color"] = json!("red");
                v["scenes"][1]["drama"]["year"] = json!(3000);
            }),
            vec![
                "(2 problems)",
                "scenes[0].color",
                "scenes[1].drama.year: 3000 is out of range",
            ],
        ),
    ]
}

#[test]
fn every_broken_dataset_gets_its_message_and_exit_code_2() {
    let shipped = shipped_dataset();
    let table = table();
    assert!(table.len() >= 15);
    let mut failures = Vec::new();
    for (what, broken, expected) in table {
        let text = match broken {
            Broken::Text(change) => change(&shipped),
            edit => {
                let mut value: Value =
                    serde_json::from_str(&shipped).unwrap_or_else(|e| panic!("{e}"));
                match edit {
                    Broken::Edit(edit) => edit(&mut value),
                    Broken::Remove(pointer, key) => {
                        let object = value.pointer_mut(pointer).and_then(Value::as_object_mut);
                        assert!(object.and_then(|o| o.remove(key)).is_some(), "{what}");
                    }
                    Broken::Text(_) => {}
                }
                serde_json::to_string_pretty(&value).unwrap_or_default()
            }
        };
        let file = TempFile::new("scenes.json", &text);
        let output = run(&["check", file.arg()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(2) {
            failures.push(format!("{what}: exit {:?}\n{stderr}", output.status.code()));
        }
        if stderr.contains("panicked") {
            failures.push(format!("{what}: panicked\n{stderr}"));
        }
        for message in expected {
            if !stderr.contains(message) {
                failures.push(format!("{what}: expected {message:?} in\n{stderr}"));
            }
        }
        if !stderr.contains(file.arg()) {
            failures.push(format!("{what}: the message must name the file\n{stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// An operator's version-1 file (the shipped one without its dates) still passes, and the table says it has none.
#[test]
fn a_version_1_file_still_passes_without_dates() {
    let mut value: Value =
        serde_json::from_str(&shipped_dataset()).unwrap_or_else(|e| panic!("{e}"));
    value["schema_version"] = json!(1);
    value["actor"]
        .as_object_mut()
        .map(|actor| actor.remove("born_source"));
    for scene in value["scenes"].as_array_mut().into_iter().flatten() {
        scene
            .as_object_mut()
            .map(|scene| scene.remove("episode_aired"));
        scene["drama"]
            .as_object_mut()
            .map(|drama| drama.remove("aired"));
    }
    let file = TempFile::new("scenes.json", &value.to_string());
    let output = run(&["check", file.arg()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("valid (schema 1"), "{stdout}");
    assert!(
        stdout.contains("No dates: schema 1 predates them"),
        "{stdout}"
    );
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let output = run(&["check", "/nonexistent/scenes.json"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/scenes.json") && stderr.contains("cannot read the file"),
        "{stderr}"
    );
}
