//! The shipped dataset's facts as Korean sources give them, and natural Korean everywhere users read it: the
//! dataset's Korean texts and every Korean text in `src/` are free of the translationese patterns below.

use std::path::{Path, PathBuf};

use scenebot::catalog::{Catalog, Scene, BUNDLED_JSON};
use serde_json::Value;

/// Translationese that reads as English under Korean words: (the pattern, what to write instead). Adding a pattern
/// is one line.
const TRANSLATIONESE: &[(&str, &str)] = &[
    ("그녀", "the person's name (혜진을, 아로를)"),
    ("로부터", "에게서, 에서, or a rewritten sentence"),
    ("원문 기사", "기사, 출처 기사"),
    ("키스 세례", "뽀뽀 세례"),
    ("20년 지기 친구", "20년 지기"),
    ("박박 커플", "박박커플"),
    ("매일 장면", "오늘의 장면, the daily feature's name"),
    ("팬 노트", "비하인드"),
    ("입력을 시작하면", "몇 글자만 입력하면"),
    ("사랑받는", "팬들이 사랑하는"),
    (
        "끝내 주지",
        "끝내 받지 못했어요 (끝내주다 is slang for \"awesome\")",
    ),
];

fn bundled() -> Catalog {
    Catalog::bundled().unwrap_or_else(|error| panic!("{error}"))
}

fn scene<'a>(catalog: &'a Catalog, id: &str) -> &'a Scene {
    catalog
        .scene(id)
        .unwrap_or_else(|| panic!("the shipped dataset has no scene {id}"))
}

#[test]
fn hwarang_names_sun_woo_and_ah_ro_without_a_surname_in_korean() {
    let catalog = bundled();
    let hwarang = scene(&catalog, "hwarang");
    assert_eq!(hwarang.role.name.ko, "선우");
    assert_eq!(hwarang.partner.role.ko, "아로");
    // The English names are the ones English sources give (the fact sheet).
    assert_eq!(hwarang.role.name.en, "Kim Sun-woo");
    assert_eq!(hwarang.partner.role.en, "Kim Ah-ro");
    for text in [&hwarang.summary.ko, &hwarang.role.about.ko] {
        assert!(
            !text.contains("김선우") && !text.contains("김아로"),
            "{text}"
        );
    }
}

#[test]
fn kill_me_heal_me_partner_is_cha_do_hyun_who_switches_into_yo_na() {
    let catalog = bundled();
    let kill_me = scene(&catalog, "kill-me-heal-me");
    assert_eq!(kill_me.partner.role.en, "Cha Do-hyun (Ahn Yo-na)");
    assert_eq!(kill_me.partner.role.ko, "차도현(안요나)");
    assert!(
        kill_me.summary.en.contains("switches into Yo-na"),
        "{}",
        kill_me.summary.en
    );
    assert!(
        kill_me.summary.ko.contains("요나로 바뀌"),
        "{}",
        kill_me.summary.ko
    );
    // Fans still find the scene by the alter's name.
    for alias in ["Ahn Yo-na", "안요나", "Yo-na"] {
        assert!(
            kill_me.partner.aliases.iter().any(|a| a == alias),
            "{alias} missing from {:?}",
            kill_me.partner.aliases
        );
    }
    // Ri-on and Ri-jin are twins; the sheet says which is older nowhere, so neither 오빠 nor 동생.
    let about = &kill_me.role.about.ko;
    assert!(about.contains("오리진과 쌍둥이 남매"), "{about}");
    assert!(
        !about.contains("오빠") && !about.contains("동생"),
        "{about}"
    );
}

#[test]
fn witchs_romance_ji_yeon_reports_for_trouble_maker_and_is_drunk() {
    let catalog = bundled();
    let witch = scene(&catalog, "witchs-romance");
    let (en, ko) = (&witch.summary.en, &witch.summary.ko);
    assert!(ko.contains("'트러블메이커'"), "{ko}");
    assert!(!ko.contains("타블로이드"), "{ko}");
    assert!(en.contains("Trouble Maker"), "{en}");
    assert!(en.contains("drunk") && !en.contains("tipsy"), "{en}");
}

#[test]
fn secretary_kim_rumours_name_the_park_park_couple_as_korean_press_writes_it() {
    let catalog = bundled();
    let note = scene(&catalog, "secretary-kim")
        .fan_note
        .as_ref()
        .map(|note| note.ko.as_str())
        .unwrap_or_default();
    assert!(note.contains("'박박커플'"), "{note}");
}

/// Every string in the dataset, with its field path.
fn dataset_strings(value: &Value, path: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(text) => out.push((path, text.clone())),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                dataset_strings(item, format!("{path}[{index}]"), out);
            }
        }
        Value::Object(fields) => {
            for (name, field) in fields {
                let path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                dataset_strings(field, path, out);
            }
        }
        _ => {}
    }
}

/// The `.rs` files under `dir`, at most `depth` folders down.
fn rust_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth > 0 {
            rust_files(&path, depth - 1, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Each place (a dataset field or a source line) where `text`, with the dramas' Korean titles taken out (a title
/// such as 그녀는 예뻤다 is a name, not our prose), shows a translationese pattern.
fn translationese_in(place: &str, text: &str, titles: &[&str], found: &mut Vec<String>) {
    let prose = titles
        .iter()
        .fold(text.to_owned(), |prose, title| prose.replace(title, ""));
    for (pattern, instead) in TRANSLATIONESE {
        if prose.contains(pattern) {
            found.push(format!("{place}: \"{pattern}\" (write {instead}): {text}"));
        }
    }
}

#[test]
fn korean_texts_avoid_translationese() {
    let catalog = bundled();
    let titles: Vec<&str> = catalog
        .scenes
        .iter()
        .map(|scene| scene.drama.title_ko.as_str())
        .collect();
    let mut found = Vec::new();

    let dataset: Value = serde_json::from_str(BUNDLED_JSON)
        .unwrap_or_else(|error| panic!("the shipped dataset is not JSON: {error}"));
    let mut strings = Vec::new();
    dataset_strings(&dataset, String::new(), &mut strings);
    assert!(strings.len() > 100, "only {} strings read", strings.len());
    for (path, text) in &strings {
        translationese_in(
            &format!("data/scenes.json {path}"),
            text,
            &titles,
            &mut found,
        );
    }

    // Every Korean text users see in the code: locale (the fixed texts), command descriptions, replies.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, 3, &mut files);
    assert!(
        files.iter().any(|file| file.ends_with("locale/mod.rs")),
        "{files:?}"
    );
    for file in &files {
        let source = std::fs::read_to_string(file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        for (number, line) in source.lines().enumerate() {
            let shown = file
                .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                .unwrap_or(file);
            let place = format!("{}:{}", shown.display(), number + 1);
            translationese_in(&place, line, &titles, &mut found);
        }
    }
    assert!(found.is_empty(), "translationese:\n{}", found.join("\n"));
}

#[test]
fn she_was_pretty_is_romanized_by_the_revised_romanization() {
    let catalog = bundled();
    let drama = &scene(&catalog, "she-was-pretty").drama;
    // RR writes 예뻤다 as "yeppeotda": it does not spell the tensed ㄷ.
    assert_eq!(drama.romanization, "Geunyeoneun Yeppeotda");
}
