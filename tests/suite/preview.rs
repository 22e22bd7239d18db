//! `scenebot preview` and `scenebot complete`: for every command, the JSON printed is the interaction callback the
//! bot would send, and it validates against Discord's OpenAPI description (when `SCENEBOT_OPENAPI_SPEC` is set).

use serde_json::Value;

use crate::support::openapi::ApiSpec;
use crate::support::run;

/// The callback route every preview body is checked against.
const CALLBACK: &str = "/interactions/1/token/callback";

fn json_of(args: &[&str]) -> Value {
    let output = run(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "scenebot {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "scenebot {args:?} printed no JSON ({error}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Validates `body` when the spec is available; says plainly when it is not.
fn validate(spec: Option<&ApiSpec>, what: &str, body: &Value) {
    match spec {
        Some(spec) => {
            if let Err(error) = spec.validate_request("POST", CALLBACK, body) {
                panic!("{what}: Discord would reject this body:\n{error}\nbody: {body:#}");
            }
        }
        None => crate::support::skipped(&format!(
            "SCENEBOT_OPENAPI_SPEC is not set: the OpenAPI validation of {what}"
        )),
    }
}

#[test]
fn every_command_previews_a_body_discord_accepts() {
    let spec = ApiSpec::from_env();
    let mut lines: Vec<String> = [
        "/scene",
        "/scene drama:pizza",
        "/scenes",
        "/seealso",
        "/about",
        "/quiz start",
        "/quiz start questions:1",
        "/quiz start questions:10",
        "/anniversaries",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for id in [
        "secretary-kim",
        "she-was-pretty",
        "witchs-romance",
        "fight-for-my-way",
        "hwarang",
        "kill-me-heal-me",
    ] {
        lines.push(format!("/scene drama:{id}"));
    }
    for line in &lines {
        for locale in ["en-US", "ko"] {
            let body = json_of(&["preview", line, "--locale", locale]);
            assert_eq!(body["type"], 4, "{line}");
            assert_eq!(
                body["data"]["allowed_mentions"]["parse"],
                serde_json::json!([]),
                "{line}"
            );
            validate(
                spec.as_deref(),
                &format!("preview {line} --locale {locale}"),
                &body,
            );
        }
    }
}

#[test]
fn korean_previews_are_korean() {
    let body = json_of(&["preview", "/scene drama:hwarang", "--locale", "ko"]);
    let title = body["data"]["embeds"][0]["title"]
        .as_str()
        .unwrap_or_default();
    assert!(title.contains("화랑"), "{title}");
}

/// The Korean texts the native editor's review fixed, as `scenebot preview --locale ko` prints them, and none of
/// the texts they replaced.
#[test]
fn korean_previews_show_the_reviewed_texts() {
    let catalog = scenebot::catalog::Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
    let date: Vec<u32> = catalog
        .revision
        .split('-')
        .filter_map(|part| part.parse().ok())
        .collect();
    let revised = format!("최종 수정 {}년 {}월 {}일", date[0], date[1], date[2]);
    let text_of = |line: &str| {
        let output = run(&["preview", line, "--locale", "ko", "--text"]);
        assert_eq!(output.status.code(), Some(0), "{line}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    for (line, shown, replaced) in [
        (
            "/about",
            &[
                "팬들이 사랑하는 박서준 배우의",
                "`/favorite`으로 최애 장면 투표를 열고",
                "`/daily`로 오늘의 장면 게시를",
                &revised,
                "`/about` · `/anniversaries` · `/favorite` · `/daily`",
            ][..],
            &["`/favorite`로", "매일 장면", "사랑받는", "최종 수정 2026-"][..],
        ),
        (
            "/scene drama:witchs-romance",
            &[
                "## 비하인드",
                "극 중 나이 차(열네 살)보다 다섯 살 더 난다",
                "기어이 동하를",
                "밀쳐 내며 2회가 끝난다",
                "## 다른 영문 제목",
                "## 드라마\nWitch's Romance\n2014",
                "[🔗 관련 기사 검색 ↗",
            ][..],
            &[
                "팬 노트",
                "극 중 인물들보다",
                "굳이",
                "그 회가",
                "Manyeoui Yeonae",
                "함께 보기",
            ][..],
        ),
        (
            "/scenes",
            &["[menu: 장면을 골라 보세요"][..],
            &["장면 열기"][..],
        ),
        (
            "/scene drama:pizza",
            &[
                "혹시 이 중에 찾는 드라마가 있나요?",
                "`drama` 옵션에 몇 글자만 입력하면",
            ][..],
            &["입력을 시작하면"][..],
        ),
    ] {
        let text = text_of(line);
        for expected in shown {
            assert!(
                text.contains(expected),
                "{line}: {expected:?} missing from\n{text}"
            );
        }
        for old in replaced {
            assert!(!text.contains(old), "{line}: {old:?} is still in\n{text}");
        }
    }
}

#[test]
fn autocomplete_previews_are_valid_and_ranked() {
    let spec = ApiSpec::from_env();
    for (partial, first) in [
        ("", "secretary-kim"),
        ("hwarng", "hwarang"),
        ("ㅋㅁㅎㅁ", "kill-me-heal-me"),
    ] {
        let body = json_of(&["complete", partial]);
        assert_eq!(body["type"], 8);
        let choices = body["data"]["choices"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !choices.is_empty() && choices.len() <= 25,
            "{partial}: {choices:?}"
        );
        assert_eq!(choices[0]["value"], first, "{partial}");
        validate(spec.as_deref(), &format!("complete {partial:?}"), &body);
    }
}

#[test]
fn text_preview_reads_like_the_card() {
    let output = run(&["preview", "/scene drama:fight for my way", "--text"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    for expected in [
        "# 🥊 Fight for My Way",
        "Episode 10",
        "[🔀 Another scene]",
        "See also ↗ https://",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
}

/// `/quiz start` previews a round's first question in both languages: the same for the same seed, a question whose
/// answers close in 20 to 45 seconds, one button per option.
#[test]
fn quiz_start_previews_a_question_in_both_languages() {
    for (locale, header, closes) in [
        ("en-US", "# ❓ Question 1 of 3", "⏱️ Answers close <t:"),
        ("ko", "# ❓ 3문제 중 1번", "⏱️ <t:"),
    ] {
        let args = [
            "preview",
            "/quiz start questions:3",
            "--seed",
            "4",
            "--locale",
            locale,
            "--text",
        ];
        let output = run(&args);
        assert_eq!(output.status.code(), Some(0), "{locale}");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        for expected in [header, closes, ":R>", "[A · ", "[B · ", "[C · "] {
            assert!(
                text.contains(expected),
                "{locale}: {expected:?} missing from\n{text}"
            );
        }
        let body = json_of(&args[..args.len() - 1]);
        let again = json_of(&args[..args.len() - 1]);
        assert_eq!(
            body["data"]["components"], again["data"]["components"],
            "{locale}: the same seed, the same question"
        );
    }
}

#[test]
fn a_bad_preview_line_is_exit_2_with_a_reason() {
    for (line, reason) in [
        ("scene", "starts with '/'"),
        ("/dance", "unknown command"),
        ("/scene film:x", "has no option \"film\""),
        ("/quiz", "needs a subcommand: start"),
        ("/quiz start questions:11", "a number from 1 to 10"),
    ] {
        let output = run(&["preview", line]);
        assert_eq!(output.status.code(), Some(2), "{line}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(reason), "{line}: {stderr}");
    }
}

/// `preview /daily --date D`: the post of that local date, the anniversary and birthday cards in both languages,
/// exactly as the channel receives it (validated against `POST /channels/{id}/messages`), and readable with --text.
#[test]
fn daily_previews_show_the_anniversary_and_birthday_cards_in_both_languages() {
    let spec = ApiSpec::from_env();
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "2026-12-16",
            "en-US",
            &[
                "[post in the channel]",
                "# 🎂 Happy birthday, Park Seo-joon!",
                "**Park Seo-joon turns 38 today**",
                "Born Park Yong-kyu on 16 December 1988 in Seoul, South Korea.",
                "[en.wikipedia.org](https://en.wikipedia.org/wiki/Park_Seo-joon)",
                "[🎬 A scene to celebrate]",
            ],
        ),
        (
            "2026-12-16",
            "ko",
            &[
                "# 🎂 박서준 배우, 생일 축하해요!",
                "**오늘은 박서준 배우의 38번째 생일이에요**",
                "올해 만 38세가 됐어요. 본명은 박용규예요.",
                "## 날짜 출처",
            ],
        ),
        (
            "2026-01-07",
            "en-US",
            &[
                "**11 years ago today, *Kill Me, Heal Me* premiered on MBC**",
                "Aired in Korea: 7 January – 12 March 2015",
                "Air dates are Korean broadcast dates",
                "[💋 See the scene]",
            ],
        ),
        (
            "2026-01-07",
            "ko",
            &[
                "**11년 전 오늘, MBC '킬미, 힐미' 첫 방송**",
                "국내 방영: 2015년 1월 7일 ~ 3월 12일",
                "방영일은 한국 방송 기준이에요",
            ],
        ),
        (
            "2027-06-20",
            "en-US",
            &[
                "**10 years ago today, episode 10 of *Fight for My Way* aired this kiss on KBS2**",
                "Episode 10 · 20 June 2017",
            ],
        ),
        (
            "2027-06-20",
            "ko",
            &["**10년 전 오늘 KBS2에서 방송된 '쌈, 마이웨이' 10회의 키스신**"],
        ),
    ];
    for (date, locale, expected) in cases {
        let args = ["preview", "/daily", "--date", date, "--locale", locale];
        let body = json_of(&args);
        assert!(
            body.get("type").is_none(),
            "a channel message, not a callback"
        );
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        let custom_id = body["components"][0]["components"][0]["custom_id"]
            .as_str()
            .unwrap_or_default();
        assert!(
            custom_id.starts_with(&format!("scene:day:daily-{date}:")),
            "{custom_id}"
        );
        match spec.as_deref() {
            Some(spec) => {
                if let Err(error) = spec.validate_request("POST", "/channels/1/messages", &body) {
                    panic!("{args:?}: Discord would reject this body:\n{error}");
                }
            }
            None => crate::support::skipped(
                "SCENEBOT_OPENAPI_SPEC is not set: the daily preview's validation",
            ),
        }
        let output = run(&[&args[..], &["--text"]].concat());
        let text = String::from_utf8_lossy(&output.stdout);
        for line in expected {
            assert!(
                text.contains(line),
                "{args:?}: {line:?} missing from\n{text}"
            );
        }
    }
    // An ordinary day is the scene a new bag draws: an ordinary card with its marker.
    let ordinary = json_of(&["preview", "/daily", "--date", "2026-12-08", "--seed", "1"]);
    let custom_id = ordinary["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or_default();
    assert!(
        custom_id.starts_with("scene:post:daily-2026-12-08:"),
        "{custom_id}"
    );
    // Scene cards show the drama's Korean air dates too.
    let output = run(&[
        "preview",
        "/scene drama:hwarang",
        "--text",
        "--locale",
        "ko",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("국내 방영: 2016년 12월 19일 ~ 2017년 2월 21일"),
        "{text}"
    );
}

/// `preview /anniversaries --date D`: the next eight special days from that date in UTC (a preview has no server),
/// each a Discord timestamp (noon UTC, the same date from UTC−11 to UTC+11) and its line, in both languages.
#[test]
fn anniversaries_preview_lists_the_next_days_with_discord_timestamps() {
    let spec = ApiSpec::from_env();
    // 8 December 2026: next come the birthday (16 December) and Hwarang's premiere (19 December).
    let birthday = 1_797_422_400; // 2026-12-16T12:00:00Z
    let premiere = 1_797_681_600; // 2026-12-19T12:00:00Z
    for (locale, first, second, zone) in [
        (
            "en-US",
            "Park Seo-joon turns 38",
            "10 years since *Hwarang: The Poet Warrior Youth* premiered on KBS2",
            "Days in UTC",
        ),
        (
            "ko",
            "박서준 배우의 38번째 생일",
            "KBS2 '화랑' 첫 방송 10주년",
            "UTC 기준",
        ),
    ] {
        let body = json_of(&[
            "preview",
            "/anniversaries",
            "--date",
            "2026-12-08",
            "--locale",
            locale,
        ]);
        validate(spec.as_deref(), "preview /anniversaries", &body);
        let embed = &body["data"]["embeds"][0];
        let lines: Vec<&str> = embed["description"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .collect();
        assert_eq!(lines.len(), 8, "{lines:?}");
        assert_eq!(
            lines[0],
            format!("<t:{birthday}:D> (<t:{birthday}:R>) · {first}")
        );
        assert_eq!(
            lines[1],
            format!("<t:{premiere}:D> (<t:{premiere}:R>) · {second}")
        );
        let footer = embed["footer"]["text"].as_str().unwrap_or_default();
        assert!(footer.starts_with(zone), "{footer}");
    }
}

#[test]
fn a_bad_daily_date_is_exit_2_with_a_reason() {
    for (args, reason) in [
        (
            &["preview", "/daily", "--date", "2026-02-30"][..],
            "must be a date written YYYY-MM-DD",
        ),
        (
            &["preview", "/about", "--date", "2026-12-16"][..],
            "--date goes with \"/daily\"",
        ),
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
}
