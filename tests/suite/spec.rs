//! Proves `support::openapi`: route matching and body validation against Discord's description.
//!
//! These tests need `SCENEBOT_OPENAPI_SPEC`; without it each prints that it is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test assertions

use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};

use crate::support::openapi::ApiSpec;

/// The description, loaded once for all tests of this file.
fn spec() -> Option<Arc<ApiSpec>> {
    static SPEC: OnceLock<Option<Arc<ApiSpec>>> = OnceLock::new();
    let spec = SPEC.get_or_init(ApiSpec::from_env).clone();
    if spec.is_none() {
        crate::support::skipped("SCENEBOT_OPENAPI_SPEC is not set: nothing is validated");
    }
    spec
}

fn long(n: usize) -> String {
    "가".repeat(n)
}

#[test]
fn a_create_message_callback_is_valid() {
    let Some(spec) = spec() else { return };
    let path = "/api/v10/interactions/1234567890123456789/aW50ZXJhY3Rpb246dG9rZW4/callback";
    spec.validate_request("POST", path, &json!({"type": 4, "data": {"content": "hi"}}))
        .unwrap();
    // Same without the API prefix, and a deferral with the ephemeral flag.
    let bare = "/interactions/1/tok/callback";
    spec.validate_request("POST", bare, &json!({"type": 5, "data": {"flags": 64}}))
        .unwrap();
    // Autocomplete with 25 choices is the maximum.
    let choices: Vec<Value> = (0..25)
        .map(|i| json!({"name": format!("c{i}"), "value": format!("{i}")}))
        .collect();
    spec.validate_request(
        "POST",
        bare,
        &json!({"type": 8, "data": {"choices": choices}}),
    )
    .unwrap();
}

#[test]
fn real_constraints_fail_with_their_instance_paths() {
    let Some(spec) = spec() else { return };
    let callback = "/api/v10/interactions/1/tok/callback";

    let title = json!({"type": 4, "data": {"embeds": [{"title": long(300)}]}});
    let err = spec.validate_request("POST", callback, &title).unwrap_err();
    assert!(err.contains("/data/embeds/0/title"), "{err}");
    assert!(err.contains("BASE_TYPE_MAX_LENGTH"), "{err}");
    assert!(
        err.contains("Must be 256 or fewer in length (got 300)."),
        "{err}"
    );

    let content = json!({"type": 4, "data": {"content": long(2001)}});
    let err = spec
        .validate_request("POST", callback, &content)
        .unwrap_err();
    assert!(err.contains("/data/content"), "{err}");

    let choices: Vec<Value> = (0..26)
        .map(|i| json!({"name": format!("c{i}"), "value": format!("{i}")}))
        .collect();
    let err = spec
        .validate_request(
            "POST",
            callback,
            &json!({"type": 8, "data": {"choices": choices}}),
        )
        .unwrap_err();
    assert!(err.contains("/data/choices"), "{err}");

    // A poll question over 300 characters, 11 answers, and a duration over 768 hours.
    let messages = "/api/v10/channels/1/messages";
    let answers: Vec<Value> = (0..11)
        .map(|i| json!({"poll_media": {"text": format!("answer {i}")}}))
        .collect();
    let poll = json!({"poll": {
        "question": {"text": long(301)},
        "answers": answers,
        "duration": 769,
    }});
    let found = spec.check_request("POST", messages, &poll).unwrap();
    let paths: Vec<&str> = found.iter().map(|v| v.instance_path.as_str()).collect();
    assert!(paths.contains(&"/poll/question/text"), "{found:#?}");
    assert!(paths.contains(&"/poll/answers"), "{found:#?}");
    assert!(paths.contains(&"/poll/duration"), "{found:#?}");

    // A command name over 32 characters in a bulk overwrite.
    let commands = json!([{"name": "a".repeat(33), "description": "d", "type": 1}]);
    let err = spec.validate_request("PUT", "/api/v10/applications/1/commands", &commands);
    assert!(err.unwrap_err().contains("/0/name"));
}

#[test]
fn the_spec_does_not_know_the_55_character_answer_limit() {
    let Some(spec) = spec() else { return };
    // Discord allows 55 characters per answer; the description says 300 for all poll media. The
    // fake Discord enforces the 55 itself.
    let poll = json!({"poll": {
        "question": {"text": "Best scene?"},
        "answers": [{"poll_media": {"text": long(100)}}, {"poll_media": {"text": "b"}}],
    }});
    spec.validate_request("POST", "/api/v10/channels/1/messages", &poll)
        .unwrap();
}

#[test]
fn discord_coercions_are_accepted() {
    let Some(spec) = spec() else { return };
    // The description types default_member_permissions as an integer; Discord documents it as
    // a string and serenity sends a string.
    let commands = json!([{
        "name": "scene", "description": "Show a scene", "type": 1,
        "default_member_permissions": "8",
        "options": [{"type": 3, "name": "drama", "description": "Drama", "required": true,
                     "autocomplete": true}],
    }]);
    spec.validate_request(
        "PUT",
        "/api/v10/applications/1/guilds/2/commands",
        &commands,
    )
    .unwrap();
    // But a non-numeric string is still wrong.
    let bad = json!([{"name": "scene", "description": "d", "default_member_permissions": "admin"}]);
    let err = spec
        .validate_request("PUT", "/api/v10/applications/1/commands", &bad)
        .unwrap_err();
    assert!(err.contains("/0/default_member_permissions"), "{err}");
}

#[test]
fn routes_match_their_templates() {
    let Some(spec) = spec() else { return };
    let cases = [
        (
            "POST",
            "/api/v10/channels/10/messages",
            "/channels/{channel_id}/messages",
        ),
        (
            "PUT",
            "/api/v10/applications/1/commands",
            "/applications/{application_id}/commands",
        ),
        (
            "PUT",
            "/api/v10/applications/1/guilds/2/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        ),
        (
            "POST",
            "/api/v10/channels/1/polls/2/expire",
            "/channels/{channel_id}/polls/{message_id}/expire",
        ),
        (
            "POST",
            "/api/v10/webhooks/1/tok?wait=true",
            "/webhooks/{webhook_id}/{webhook_token}",
        ),
        (
            "PATCH",
            "/api/v10/webhooks/1/tok/messages/@original",
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        ),
        (
            "PATCH",
            "/api/v10/webhooks/1/tok/messages/99",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        ),
        (
            "GET",
            "/api/v10/oauth2/applications/@me",
            "/oauth2/applications/@me",
        ),
        ("GET", "/api/v10/gateway/bot", "/gateway/bot"),
    ];
    for (method, path, template) in cases {
        let found = spec.match_route(method, path).unwrap();
        assert_eq!(found.template, template, "{method} {path}");
    }
    let expire = spec
        .match_route("POST", "/api/v10/channels/5/polls/6/expire")
        .unwrap();
    assert_eq!(
        expire.params,
        vec![
            ("channel_id".into(), "5".into()),
            ("message_id".into(), "6".into())
        ]
    );

    // No body schema and no body: fine. A followup and an edit of @original validate.
    spec.validate_request("POST", "/api/v10/channels/1/polls/2/expire", &Value::Null)
        .unwrap();
    spec.validate_request(
        "POST",
        "/api/v10/webhooks/1/tok",
        &json!({"content": "later"}),
    )
    .unwrap();
    spec.validate_request(
        "PATCH",
        "/api/v10/webhooks/1/tok/messages/@original",
        &json!({"content": "edited", "embeds": []}),
    )
    .unwrap();
    let err = spec
        .validate_request(
            "PATCH",
            "/api/v10/webhooks/1/tok/messages/@original",
            &json!({"embeds": [{"description": long(4097)}]}),
        )
        .unwrap_err();
    assert!(err.contains("/embeds/0/description"), "{err}");
}

#[test]
fn unknown_routes_and_methods_are_named() {
    let Some(spec) = spec() else { return };
    let err = spec
        .validate_request("GET", "/api/v10/scenes/1", &Value::Null)
        .unwrap_err();
    assert!(err.contains("/api/v10/scenes/1"), "{err}");
    let err = spec
        .validate_request("PUT", "/api/v10/channels/1/messages", &json!({}))
        .unwrap_err();
    assert!(
        err.contains("PUT") && err.contains("/channels/{channel_id}/messages"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = ApiSpec::load("/nonexistent/openapi.json").unwrap_err();
    assert!(err.contains("/nonexistent/openapi.json"), "{err}");
}
