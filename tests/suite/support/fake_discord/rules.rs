//! Discord rules the OpenAPI description does not state, and Discord's nested `errors` tree.

use serde_json::{json, Map, Value};

use super::super::openapi::SpecViolation;

pub(crate) fn rule(path: &str, code: &str, message: &str) -> SpecViolation {
    SpecViolation {
        instance_path: path.to_owned(),
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

pub(crate) fn prefix_errors(errors: &[SpecViolation], prefix: &str) -> Vec<SpecViolation> {
    errors
        .iter()
        .map(|e| SpecViolation {
            instance_path: format!("{prefix}{}", e.instance_path),
            ..e.clone()
        })
        .collect()
}

/// Checks a message-like body (create, edit, followup, callback data).
pub(crate) fn message_rules(body: &Value) -> Vec<SpecViolation> {
    let mut errors = Vec::new();
    if let Some(content) = body.get("content").and_then(Value::as_str) {
        if content.chars().count() > 2000 {
            errors.push(rule(
                "/content",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2000 or fewer in length.",
            ));
        }
    }
    if let Some(embeds) = body.get("embeds").and_then(Value::as_array) {
        let total: usize = embeds.iter().map(embed_length).sum();
        if total > 6000 {
            errors.push(rule(
                "/embeds",
                "MAX_EMBED_SIZE_EXCEEDED",
                &format!(
                    "Embed size exceeds maximum size of 6000 (the embeds hold {total} characters)"
                ),
            ));
        }
    }
    if let Some(answers) = body.pointer("/poll/answers").and_then(Value::as_array) {
        for (i, answer) in answers.iter().enumerate() {
            if let Some(text) = answer.pointer("/poll_media/text").and_then(Value::as_str) {
                if text.chars().count() > 55 {
                    errors.push(rule(
                        &format!("/poll/answers/{i}/poll_media/text"),
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 55 or fewer in length.",
                    ));
                }
            }
        }
    }
    if let Some(components) = body.get("components") {
        let mut ids = Vec::new();
        collect_custom_ids(components, "/components", &mut ids);
        for (i, (path, id)) in ids.iter().enumerate() {
            if ids[..i].iter().any(|(_, earlier)| earlier == id) {
                errors.push(rule(
                    &format!("{path}/custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                ));
            }
        }
        check_buttons(components, "/components", &mut errors);
    }
    errors
}

pub(crate) fn message_is_empty(body: &Value) -> bool {
    let has_text = body
        .get("content")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.trim().is_empty());
    let non_empty = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    let has_poll = body.get("poll").is_some_and(|p| !p.is_null());
    !(has_text
        || non_empty("embeds")
        || non_empty("components")
        || non_empty("sticker_ids")
        || non_empty("attachments")
        || has_poll)
}

/// Characters counted toward the 6000 limit: title, description, field names and values,
/// footer text, author name (leading and trailing whitespace trimmed).
pub(crate) fn embed_length(embed: &Value) -> usize {
    let text = |pointer: &str| {
        embed
            .pointer(pointer)
            .and_then(Value::as_str)
            .map_or(0, |s| s.trim().chars().count())
    };
    let fields: usize = embed
        .get("fields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .map(|f| {
                    let part = |k: &str| {
                        f.get(k)
                            .and_then(Value::as_str)
                            .map_or(0, |s| s.trim().chars().count())
                    };
                    part("name") + part("value")
                })
                .sum()
        })
        .unwrap_or(0);
    text("/title") + text("/description") + text("/footer/text") + text("/author/name") + fields
}

/// (JSON path, custom_id) of every component below `value`.
pub(crate) fn collect_custom_ids(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    let Some(list) = value.as_array() else { return };
    for (i, component) in list.iter().enumerate() {
        let here = format!("{path}/{i}");
        if let Some(id) = component.get("custom_id").and_then(Value::as_str) {
            out.push((here.clone(), id.to_owned()));
        }
        if let Some(children) = component.get("components") {
            collect_custom_ids(children, &format!("{here}/components"), out);
        }
        if let Some(accessory) = component.get("accessory") {
            collect_custom_ids(
                &Value::Array(vec![accessory.clone()]),
                &format!("{here}/accessory"),
                out,
            );
        }
    }
}

/// Link buttons (style 5) need a `url` and no `custom_id`; other buttons a `custom_id`.
pub(crate) fn check_buttons(value: &Value, path: &str, errors: &mut Vec<SpecViolation>) {
    let Some(list) = value.as_array() else { return };
    for (i, component) in list.iter().enumerate() {
        let here = format!("{path}/{i}");
        if component.get("type").and_then(Value::as_u64) == Some(2) {
            let style = component.get("style").and_then(Value::as_u64).unwrap_or(0);
            let has = |k: &str| component.get(k).is_some_and(|v| !v.is_null());
            if style == 5 && (!has("url") || has("custom_id")) {
                errors.push(rule(
                    &here,
                    "BUTTON_COMPONENT_INVALID",
                    "A link button needs a url and no custom_id",
                ));
            }
            if (1..=4).contains(&style) && !has("custom_id") {
                errors.push(rule(
                    &format!("{here}/custom_id"),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ));
            }
        }
        if let Some(children) = component.get("components") {
            check_buttons(children, &format!("{here}/components"), errors);
        }
    }
}

/// Discord's nested `errors` object: `{"data": {"embeds": {"0": {"title": {"_errors": [...]}}}}}`.
pub(crate) fn error_tree(errors: &[SpecViolation]) -> Value {
    let mut root = Map::new();
    for error in errors {
        let keys: Vec<&str> = error
            .instance_path
            .split('/')
            .filter(|k| !k.is_empty())
            .collect();
        insert_error(
            &mut root,
            &keys,
            json!({"code": error.code, "message": error.message}),
        );
    }
    Value::Object(root)
}

pub(crate) fn insert_error(node: &mut Map<String, Value>, keys: &[&str], error: Value) {
    match keys.split_first() {
        None => {
            let list = node.entry("_errors").or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(error);
            }
        }
        Some((key, rest)) => {
            let child = node
                .entry((*key).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Some(child) = child.as_object_mut() {
                insert_error(child, rest, error);
            }
        }
    }
}
