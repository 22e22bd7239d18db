//! Request validation against Discord's official OpenAPI 3.1 description.
//!
//! [`ApiSpec`] loads the description from the file named by `SCENEBOT_OPENAPI_SPEC`
//! (`/work/shared/discord-api-spec/openapi.json` on the project's machines), matches a concrete
//! request path such as `/api/v10/interactions/123/tok/callback` to its path template
//! (`/interactions/{interaction_id}/{interaction_token}/callback`), and validates a JSON request
//! body against that operation's `requestBody` `application/json` schema with `jsonschema`
//! (draft 2020-12). `#/components/...` references resolve against the whole description, and one
//! compiled validator is cached per operation.
//!
//! What it checks: that the route and method exist in the description, that a body is present when
//! the description requires one, and every constraint the body schema states (types, lengths,
//! item counts, enums, patterns, required fields).
//!
//! What it does not check, on purpose:
//! - Query strings, headers and path parameters are not validated; multipart and form bodies are
//!   not validated (only `application/json`).
//! - Discord coerces numbers given as strings (`"8"` where the description says `integer`, e.g.
//!   `default_member_permissions`, which Discord's documentation itself types as a string) and
//!   integers given where a snowflake string is expected; such type mismatches are accepted, as
//!   Discord accepts them. A `oneOf` that several branches satisfy is accepted too: the
//!   description marks its unions `x-discord-union` and Discord picks a branch.
//! - Rules Discord enforces that the description does not state are out of scope here. For
//!   example the description caps every poll text at 300 characters, while Discord allows only
//!   55 for an answer; the 6000-character total over a message's embeds is not in it either.
//!   The fake Discord checks those separately.

#![allow(dead_code)] // Shared test support: each test file uses a part of it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, JsonType, Registry, ValidationError, Validator};
use serde_json::{json, Value};

/// The environment variable that names the OpenAPI description file.
pub const SPEC_ENV: &str = "SCENEBOT_OPENAPI_SPEC";

/// The URI under which the description is registered for `$ref` resolution. Nothing is fetched
/// from it: the document is held in memory.
const SPEC_URI: &str = "urn:scenebot:discord-openapi";

/// Key of a synthetic array added to the in-memory copy of the description. It holds every
/// operation's JSON request-body schema so that a validator can `$ref` it by index (the path
/// templates' braces and slashes make direct JSON pointers into `paths` awkward).
const BODIES_KEY: &str = "x-scenebot-request-bodies";

/// Path prefixes stripped before matching a concrete path to a template.
const API_PREFIXES: [&str; 3] = ["/api/v10", "/api/v9", "/api"];

/// Discord's OpenAPI description, ready to validate request bodies.
pub struct ApiSpec {
    path: PathBuf,
    templates: Vec<PathTemplate>,
    registry: Registry,
    validators: Mutex<HashMap<usize, Arc<Validator>>>,
}

impl fmt::Debug for ApiSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiSpec")
            .field("path", &self.path)
            .field("templates", &self.templates.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct PathTemplate {
    template: String,
    segments: Vec<Segment>,
    operations: HashMap<String, Operation>,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug)]
struct Operation {
    operation_id: Option<String>,
    /// Index into the synthetic body-schema array, when the operation takes a JSON body.
    body: Option<usize>,
    body_required: bool,
}

/// The template and operation a concrete request matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch {
    /// The path template, e.g. `/channels/{channel_id}/messages`.
    pub template: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The operation's `operationId`, e.g. `create_message`.
    pub operation_id: Option<String>,
    /// Path parameters by name, e.g. `channel_id -> "123"`.
    pub params: Vec<(String, String)>,
}

/// One constraint of the request-body schema that a body broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecViolation {
    /// JSON pointer into the body, e.g. `/data/embeds/0/title` (empty for the body itself).
    pub instance_path: String,
    /// A Discord-style error code, e.g. `BASE_TYPE_MAX_LENGTH`.
    pub code: String,
    /// What is wrong, e.g. `"…" is longer than 256 characters`.
    pub message: String,
}

impl fmt::Display for SpecViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.instance_path.is_empty() {
            "(body)"
        } else {
            &self.instance_path
        };
        write!(f, "{path}: {} [{}]", self.message, self.code)
    }
}

impl ApiSpec {
    /// Loads the description named by `SCENEBOT_OPENAPI_SPEC`.
    ///
    /// Returns `None` when the variable is unset or empty (callers then say that spec validation
    /// is skipped). Panics, naming the path, when it is set but the file cannot be read or parsed:
    /// a test run that asked for validation must not silently go without it.
    pub fn from_env() -> Option<Arc<ApiSpec>> {
        let path = std::env::var_os(SPEC_ENV)?;
        if path.is_empty() {
            return None;
        }
        match ApiSpec::load(&path) {
            Ok(spec) => Some(Arc::new(spec)),
            Err(error) => {
                panic!("{SPEC_ENV} is set but the OpenAPI description cannot be used: {error}")
            }
        }
    }

    /// Loads and indexes the description at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<ApiSpec, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let document: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        ApiSpec::from_document(document, path.to_path_buf())
    }

    /// Indexes an already parsed description (`origin` is only used in messages).
    pub fn from_document(mut document: Value, origin: PathBuf) -> Result<ApiSpec, String> {
        let paths = document
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{} has no `paths` object", origin.display()))?;

        let mut templates = Vec::new();
        let mut bodies = Vec::new();
        for (template, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            let mut operations = HashMap::new();
            for (method, op) in item {
                if !matches!(
                    method.as_str(),
                    "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                ) {
                    continue;
                }
                let request_body = op.get("requestBody");
                let schema = request_body
                    .and_then(|b| b.get("content"))
                    .and_then(|c| c.get("application/json"))
                    .and_then(|j| j.get("schema"));
                let body = schema.map(|schema| {
                    bodies.push(schema.clone());
                    bodies.len() - 1
                });
                let body_required = request_body
                    .and_then(|b| b.get("required"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let operation_id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                operations.insert(
                    method.to_ascii_uppercase(),
                    Operation {
                        operation_id,
                        body,
                        body_required,
                    },
                );
            }
            let segments = split_path(template)
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') && s.len() > 2 {
                        Segment::Param(s[1..s.len() - 1].to_owned())
                    } else {
                        Segment::Literal(s.to_owned())
                    }
                })
                .collect();
            templates.push(PathTemplate {
                template: template.clone(),
                segments,
                operations,
            });
        }

        match document.as_object_mut() {
            Some(root) => {
                root.insert(BODIES_KEY.to_owned(), Value::Array(bodies));
            }
            None => return Err(format!("{} is not a JSON object", origin.display())),
        }
        let resource = Draft::Draft202012.create_resource(document);
        let registry = Registry::options()
            .draft(Draft::Draft202012)
            .build([(SPEC_URI, resource)])
            .map_err(|e| format!("cannot index {} for $ref resolution: {e}", origin.display()))?;

        Ok(ApiSpec {
            path: origin,
            templates,
            registry,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// The file the description was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Matches a concrete request to a path template and operation.
    ///
    /// `path` may carry the `/api/v10` prefix and a query string; both are ignored. Literal
    /// segments win over parameters (`/messages/@original` matches its own template, not
    /// `/messages/{message_id}`). Errs naming the path, or the method and the methods the path
    /// has.
    pub fn match_route(&self, method: &str, path: &str) -> Result<RouteMatch, String> {
        let (_, template) = self.find(method, path)?;
        let method = method.to_ascii_uppercase();
        let operation_id = template
            .operations
            .get(&method)
            .and_then(|op| op.operation_id.clone());
        let params = template
            .segments
            .iter()
            .zip(split_path(strip_api_prefix(strip_query(path))))
            .filter_map(|(seg, value)| match seg {
                Segment::Param(name) => Some((name.clone(), value.to_owned())),
                Segment::Literal(_) => None,
            })
            .collect();
        Ok(RouteMatch {
            template: template.template.clone(),
            method,
            operation_id,
            params,
        })
    }

    /// Validates `body` for `method path`.
    ///
    /// `Ok(())` when the body satisfies the operation's JSON request-body schema, or when the
    /// operation has no body schema and `body` is `null` (absent) or `{}`. Otherwise `Err` with
    /// one line per violation, each starting with its instance path; or `Err` naming an unknown
    /// path or method.
    pub fn validate_request(&self, method: &str, path: &str, body: &Value) -> Result<(), String> {
        let violations = self.check_request(method, path, body)?;
        if violations.is_empty() {
            return Ok(());
        }
        let template = self
            .match_route(method, path)
            .map(|m| m.template)
            .unwrap_or_else(|_| path.to_owned());
        let mut text = format!(
            "{} {} ({template}): the body breaks {} constraint(s) of Discord's OpenAPI description:",
            method.to_ascii_uppercase(),
            path,
            violations.len()
        );
        for violation in &violations {
            text.push_str("\n  ");
            text.push_str(&violation.to_string());
        }
        Err(text)
    }

    /// Like [`ApiSpec::validate_request`], but returns the violations one by one (empty when the
    /// body is valid). `Err` only for an unknown route or a schema that does not compile.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Result<Vec<SpecViolation>, String> {
        let (index, template) = self.find(method, path)?;
        let method_upper = method.to_ascii_uppercase();
        let Some(operation) = template.operations.get(&method_upper) else {
            return Err(format!(
                "{method_upper} {} is not an operation",
                template.template
            ));
        };
        let Some(body_index) = operation.body else {
            let empty = body.is_null() || body.as_object().is_some_and(|o| o.is_empty());
            return Ok(if empty {
                Vec::new()
            } else {
                vec![SpecViolation {
                    instance_path: String::new(),
                    code: "BODY_NOT_EXPECTED".to_owned(),
                    message: format!(
                        "{method_upper} {} takes no JSON body, but one was sent",
                        template.template
                    ),
                }]
            });
        };
        if body.is_null() {
            return Ok(if operation.body_required {
                vec![SpecViolation {
                    instance_path: String::new(),
                    code: "BASE_TYPE_REQUIRED".to_owned(),
                    message: format!(
                        "{method_upper} {} requires a JSON body, but none was sent",
                        template.template
                    ),
                }]
            } else {
                Vec::new()
            });
        }
        let validator = self.validator(index, &method_upper, body_index)?;
        let mut violations = Vec::new();
        for error in validator.iter_errors(body) {
            collect_violations(&error, &mut violations, 0);
        }
        violations.dedup();
        Ok(violations)
    }

    fn find(&self, method: &str, path: &str) -> Result<(usize, &PathTemplate), String> {
        let concrete: Vec<&str> = split_path(strip_api_prefix(strip_query(path))).collect();
        let mut best: Option<(usize, usize)> = None; // (index, literal matches)
        for (index, template) in self.templates.iter().enumerate() {
            if template.segments.len() != concrete.len() {
                continue;
            }
            let mut literals = 0;
            let fits = template
                .segments
                .iter()
                .zip(&concrete)
                .all(|(seg, value)| match seg {
                    Segment::Literal(lit) => {
                        literals += 1;
                        lit == value
                    }
                    Segment::Param(_) => !value.is_empty(),
                });
            if fits && best.is_none_or(|(_, n)| literals > n) {
                best = Some((index, literals));
            }
        }
        let Some((index, _)) = best else {
            return Err(format!(
                "{} {path}: no path template in Discord's OpenAPI description matches",
                method.to_ascii_uppercase()
            ));
        };
        let template = &self.templates[index];
        if !template
            .operations
            .contains_key(&method.to_ascii_uppercase())
        {
            let mut known: Vec<&str> = template.operations.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(format!(
                "{} {path}: {} has no {} operation (it has {})",
                method.to_ascii_uppercase(),
                template.template,
                method.to_ascii_uppercase(),
                known.join(", ")
            ));
        }
        Ok((index, template))
    }

    fn validator(
        &self,
        template_index: usize,
        method: &str,
        body_index: usize,
    ) -> Result<Arc<Validator>, String> {
        if let Some(found) = self.lock_validators().get(&body_index) {
            return Ok(Arc::clone(found));
        }
        // Compiled outside the lock; two threads may compile the same schema once each.
        let schema = json!({ "$ref": format!("{SPEC_URI}#/{BODIES_KEY}/{body_index}") });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(self.registry.clone())
            .build(&schema)
            .map_err(|e| {
                format!(
                    "the request-body schema of {method} {} does not compile: {e}",
                    self.templates[template_index].template
                )
            })?;
        let validator = Arc::new(validator);
        self.lock_validators()
            .insert(body_index, Arc::clone(&validator));
        Ok(validator)
    }

    fn lock_validators(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Arc<Validator>>> {
        self.validators
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn strip_query(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

fn strip_api_prefix(path: &str) -> &str {
    for prefix in API_PREFIXES {
        if let Some(rest) = path.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with('/') {
                return rest;
            }
        }
    }
    path
}

fn split_path(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty())
}

/// Longest message kept for one violation; `jsonschema` quotes the offending value in full.
const MAX_MESSAGE_CHARS: usize = 300;
/// Depth limit for walking nested `anyOf`/`oneOf` contexts.
const MAX_UNION_DEPTH: usize = 8;

/// Turns one `jsonschema` error into violations, applying Discord's leniencies (see the module
/// documentation) and expanding failed unions into the errors of the branch that was meant.
fn collect_violations(error: &ValidationError<'_>, out: &mut Vec<SpecViolation>, depth: usize) {
    match &error.kind {
        ValidationErrorKind::Type { kind } if coercible(&error.instance, kind) => {}
        ValidationErrorKind::OneOfMultipleValid { .. } => {}
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context }
            if depth < MAX_UNION_DEPTH =>
        {
            let branches: Vec<Vec<SpecViolation>> = context
                .iter()
                .map(|branch| {
                    let mut found = Vec::new();
                    for inner in branch {
                        collect_violations(inner, &mut found, depth + 1);
                    }
                    found
                })
                .collect();
            if branches.iter().any(Vec::is_empty) {
                return; // some branch accepts the value once Discord's coercions apply
            }
            // Branches rejected on a discriminator (`type`) or on the JSON type of the value
            // itself are not the ones the sender meant; report the others.
            let here = error.instance_path.as_str();
            let discriminator = format!("{here}/type");
            let meant: Vec<&Vec<SpecViolation>> = branches
                .iter()
                .filter(|found| {
                    !found.iter().any(|v| {
                        v.instance_path == discriminator
                            || (v.instance_path == here && v.code == "BASE_TYPE_BAD_TYPE")
                    })
                })
                .collect();
            if meant.is_empty() {
                out.push(violation_from(error));
            } else {
                for found in meant {
                    out.extend(found.iter().cloned());
                }
            }
        }
        _ => out.push(violation_from(error)),
    }
}

/// Discord coerces digit strings to integers and integers to snowflake strings.
fn coercible(instance: &Value, expected: &TypeKind) -> bool {
    let wants = |ty: JsonType| match expected {
        TypeKind::Single(single) => *single == ty,
        TypeKind::Multiple(set) => set.contains(ty),
    };
    match instance {
        Value::String(s) => {
            (wants(JsonType::Integer) || wants(JsonType::Number))
                && !s.is_empty()
                && s.len() <= 20
                && s.bytes().all(|b| b.is_ascii_digit())
        }
        Value::Number(n) => wants(JsonType::String) && n.is_u64(),
        _ => false,
    }
}

fn violation_from(error: &ValidationError<'_>) -> SpecViolation {
    let code = match &error.kind {
        ValidationErrorKind::MaxLength { .. } | ValidationErrorKind::MaxItems { .. } => {
            "BASE_TYPE_MAX_LENGTH"
        }
        ValidationErrorKind::MinLength { .. } | ValidationErrorKind::MinItems { .. } => {
            "BASE_TYPE_MIN_LENGTH"
        }
        ValidationErrorKind::Maximum { .. } | ValidationErrorKind::ExclusiveMaximum { .. } => {
            "NUMBER_TYPE_MAX"
        }
        ValidationErrorKind::Minimum { .. } | ValidationErrorKind::ExclusiveMinimum { .. } => {
            "NUMBER_TYPE_MIN"
        }
        ValidationErrorKind::Required { .. } => "BASE_TYPE_REQUIRED",
        ValidationErrorKind::Type { .. } => "BASE_TYPE_BAD_TYPE",
        ValidationErrorKind::Enum { .. } | ValidationErrorKind::Constant { .. } => {
            "BASE_TYPE_CHOICES"
        }
        ValidationErrorKind::Pattern { .. } => "STRING_TYPE_REGEX",
        ValidationErrorKind::MaxProperties { .. } => "DICT_TYPE_MAX_LENGTH",
        ValidationErrorKind::AdditionalProperties { .. } => "UNKNOWN_FIELD",
        ValidationErrorKind::UniqueItems => "BASE_TYPE_UNIQUE",
        ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => {
            "UNION_TYPE_CHOICES"
        }
        _ => "BASE_TYPE_INVALID",
    };
    let length = || match &*error.instance {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        _ => 0,
    };
    let mut message = match &error.kind {
        // Discord's wording, with the length that was sent instead of the whole value.
        ValidationErrorKind::MaxLength { limit } | ValidationErrorKind::MaxItems { limit } => {
            format!("Must be {limit} or fewer in length (got {}).", length())
        }
        ValidationErrorKind::MinLength { limit } | ValidationErrorKind::MinItems { limit } => {
            format!("Must be {limit} or more in length (got {}).", length())
        }
        _ => error.to_string(),
    };
    if message.chars().count() > MAX_MESSAGE_CHARS {
        message = message.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
    }
    SpecViolation {
        instance_path: error.instance_path.as_str().to_owned(),
        code: code.to_owned(),
        message,
    }
}
