//! The REST front door: one handler for every request (faults, validation, records) and the route table.

mod commands;
mod guilds;
mod interactions;
mod messages;
mod polls;
mod threads;

pub(crate) use threads::thread_summary;

pub(crate) mod limits;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::super::openapi::SpecViolation;
use super::json::{channel_json, route_is_public, user_json};
use super::records::{GatewayLog, Recorded, ViolationSource};
use super::rules::error_tree;
use super::state::{FaultKind, Shared, State};
use limits::bucket_headers;

/// Message flags.
pub(crate) const FLAG_SUPPRESS_EMBEDS: u64 = 1 << 2;

pub(crate) const FLAG_EPHEMERAL: u64 = 1 << 6;

pub(crate) const FLAG_LOADING: u64 = 1 << 7;

pub(crate) const FLAG_SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;

pub(crate) const FLAG_IS_COMPONENTS_V2: u64 = 1 << 15;

/// A REST answer.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
    pub(crate) headers: Vec<(String, String)>,
    /// Sent instead of `body` (Cloudflare's HTML pages).
    pub(crate) raw: Option<(String, &'static str)>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
            raw: None,
        }
    }

    pub(crate) fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    pub(crate) fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
            raw: None,
        }
    }

    pub(crate) fn error(status: u16, code: u64, message: &str) -> Reply {
        Reply::json(status, json!({"message": message, "code": code}))
    }

    pub(crate) fn not_found() -> Reply {
        Reply::error(404, 0, "404: Not Found")
    }

    pub(crate) fn unknown_channel() -> Reply {
        Reply::error(404, 10003, "Unknown Channel")
    }

    pub(crate) fn unknown_message() -> Reply {
        Reply::error(404, 10008, "Unknown Message")
    }

    pub(crate) fn unknown_webhook() -> Reply {
        Reply::error(404, 10015, "Unknown Webhook")
    }

    pub(crate) fn unknown_interaction() -> Reply {
        Reply::error(404, 10062, "Unknown interaction")
    }

    pub(crate) fn missing_access() -> Reply {
        Reply::error(403, 50001, "Missing Access")
    }

    pub(crate) fn missing_permissions() -> Reply {
        Reply::error(403, 50013, "Missing Permissions")
    }

    /// Discord's 429: its body (`retry_after` in seconds, `global`; no `code`), `Retry-After` in whole seconds
    /// rounded up, the scope, and `bucket`'s headers (none for the global limit).
    pub(crate) fn rate_limited(
        retry_after: f64,
        scope: &str,
        bucket: Vec<(String, String)>,
    ) -> Reply {
        let global = scope == "global";
        let mut headers = bucket;
        headers.push((
            "retry-after".to_owned(),
            format!("{}", retry_after.ceil() as u64),
        ));
        headers.push(("x-ratelimit-scope".to_owned(), scope.to_owned()));
        if global {
            headers.push(("x-ratelimit-global".to_owned(), "true".to_owned()));
        }
        Reply {
            status: 429,
            body: Some(json!({
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": global,
            })),
            headers,
            raw: None,
        }
    }

    /// 400 50035 with Discord's nested `errors` tree.
    pub(crate) fn invalid_form_body(errors: &[SpecViolation]) -> Reply {
        Reply::json(
            400,
            json!({"code": 50035, "message": "Invalid Form Body", "errors": error_tree(errors)}),
        )
    }
}

pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) body: &'a Value,
}

impl State {
    /// Answers one REST request (without faults).
    pub(crate) fn handle(
        &mut self,
        req: &Request<'_>,
        authorization: Option<&str>,
        body_error: Option<&str>,
    ) -> Reply {
        let Some(segments) = route_segments(req.path) else {
            return Reply::not_found();
        };
        let method = req.method;

        if !route_is_public(method, &segments) && !self.token_ok_header(authorization) {
            return Reply::error(401, 0, "401: Unauthorized");
        }
        if let Some(error) = body_error {
            return Reply::error(400, 50109, error);
        }
        if let Some(spec) = self.spec.clone() {
            match spec.check_request(method, req.path, req.body) {
                Ok(errors) if errors.is_empty() => {}
                Ok(errors) => {
                    let reply = Reply::invalid_form_body(&errors);
                    self.violation(ViolationSource::OpenApi, req, errors);
                    return reply;
                }
                Err(unknown) => {
                    // Not an operation Discord documents: recorded; answered as the fake would.
                    let error = SpecViolation {
                        instance_path: String::new(),
                        code: "UNKNOWN_ROUTE".to_owned(),
                        message: unknown,
                    };
                    self.violation(ViolationSource::OpenApi, req, vec![error]);
                }
            }
        }
        self.route(req, &segments)
    }

    pub(crate) fn route(&mut self, req: &Request<'_>, s: &[&str]) -> Reply {
        let id = |i: usize| s.get(i).and_then(|v| v.parse::<u64>().ok());
        // A guild the bot left, and its channels, still exist: Discord answers Missing Access.
        let left = match s {
            ["guilds", ..] => id(1).is_some_and(|g| self.left_guilds.iter().any(|l| l.id == g)),
            ["channels", ..] => id(1).is_some_and(|c| {
                self.left_guilds
                    .iter()
                    .any(|l| l.channels.iter().any(|ch| ch.id == c))
            }),
            _ => false,
        };
        if left {
            return Reply::missing_access();
        }
        match (req.method, s) {
            ("GET", ["gateway"]) => Reply::ok(json!({"url": self.gateway_url()})),
            ("GET", ["gateway", "bot"]) => {
                let used = self.count_log(|e| matches!(e, GatewayLog::Identified { .. }));
                Reply::ok(json!({
                    "url": self.gateway_url(),
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000usize.saturating_sub(used),
                        "reset_after": 86_400_000,
                        "max_concurrency": 1,
                    },
                }))
            }
            ("GET", ["users", "@me"]) => {
                let mut user = user_json(&self.bot_user);
                user["verified"] = json!(true);
                user["mfa_enabled"] = json!(false);
                user["email"] = Value::Null;
                user["flags"] = json!(0);
                user["locale"] = json!("en-US");
                user["premium_type"] = json!(0);
                Reply::ok(user)
            }
            ("GET", ["users", _]) => match id(1).and_then(|u| self.users.get(&u)) {
                Some(user) => Reply::ok(user_json(user)),
                None => Reply::error(404, 10013, "Unknown User"),
            },
            ("GET", ["oauth2", "applications", "@me"] | ["applications", "@me"]) => {
                Reply::ok(self.application_json())
            }
            (
                _,
                ["applications", _, "commands", ..]
                | ["applications", _, "guilds", _, "commands", ..],
            ) => self.commands_route(req, s),
            ("POST", ["interactions", _, token, "callback"]) => match id(1) {
                Some(interaction) => self.interaction_callback(interaction, token, req.body),
                None => Reply::unknown_interaction(),
            },
            (_, ["webhooks", _, token, ..]) => self.webhook_route(req, id(1), token, &s[3..]),
            ("GET", ["channels", _]) => match id(1).and_then(|c| Some((c, self.channel_value(c)?)))
            {
                // Discord answers Missing Access for a channel the bot cannot view.
                Some((c, _))
                    if self
                        .bot_permissions_in(c)
                        .is_some_and(|p| p & super::permissions::VIEW_CHANNEL == 0) =>
                {
                    Reply::missing_access()
                }
                Some((_, channel)) => Reply::ok(channel),
                None => Reply::unknown_channel(),
            },
            ("POST", ["channels", _, "typing"]) => {
                match id(1).and_then(|c| self.channel_value(c)) {
                    Some(_) => Reply::no_content(),
                    None => Reply::unknown_channel(),
                }
            }
            (_, ["channels", _, "messages", ..]) => match id(1) {
                Some(channel) => self.messages_route(req, channel, &s[3..]),
                None => Reply::unknown_channel(),
            },
            ("POST", ["channels", _, "polls", _, "expire"]) => match (id(1), id(3)) {
                (Some(channel), Some(message)) => self.expire_poll(channel, message),
                _ => Reply::unknown_message(),
            },
            ("GET", ["channels", _, "polls", _, "answers", _]) => match (id(1), id(3), id(5)) {
                (Some(channel), Some(message), Some(answer)) => {
                    self.poll_voters(req, channel, message, answer)
                }
                _ => Reply::unknown_message(),
            },
            ("GET", ["guilds", _, ..]) => self.guild_route(req, s),
            _ => Reply::not_found(),
        }
    }

    pub(crate) fn channel_value(&self, channel: u64) -> Option<Value> {
        if let Some((gi, ci)) = self.find_channel(channel) {
            let guild = &self.guilds[gi];
            return Some(channel_json(&guild.channels[ci], Some(guild.id)));
        }
        let user = self.dm_channels.get(&channel)?;
        Some(json!({
            "id": channel.to_string(),
            "type": 1,
            "flags": 0,
            "last_message_id": null,
            "recipients": [self.user_json(*user)],
        }))
    }
}

pub(crate) async fn rest(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let method = method.as_str().to_ascii_uppercase();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (json_body, body_error) = if body.is_empty() {
        (Value::Null, None)
    } else if content_type.starts_with("multipart/") {
        (
            Value::String(String::from_utf8_lossy(&body).into_owned()),
            Some("The fake Discord does not accept multipart bodies (attachments)"),
        )
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) => (value, None),
            Err(_) => (
                Value::String(String::from_utf8_lossy(&body).into_owned()),
                Some("The request body contains invalid JSON."),
            ),
        }
    };
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let recorded_headers: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| name.as_str() != "authorization")
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();

    let (fault, latency) = {
        let mut st = shared.lock();
        (st.take_fault(&method, &path), st.rest_latency)
    };
    let authorized = shared.lock().token_ok_header(authorization.as_deref());
    let reply = match fault.clone() {
        Some(FaultKind::Status {
            status,
            retry_after,
            global,
        }) => fault_reply(status, retry_after, global),
        Some(FaultKind::CloudflareBan) => Some(cloudflare_ban()),
        Some(FaultKind::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            None
        }
        Some(FaultKind::HoldAnswer(_) | FaultKind::ReplaceBody(_)) | None => None,
    };
    let segments = route_segments(&path).unwrap_or_default();
    let admission = shared
        .lock()
        .limiter
        .admit(&method, &segments, authorized, arrived);
    let reply = match (reply, admission.refused) {
        (Some(reply), _) | (None, Some(reply)) => reply,
        (None, None) => {
            let req = Request {
                method: &method,
                path: &path,
                query: &query,
                body: &json_body,
            };
            let mut reply = shared
                .lock()
                .handle(&req, authorization.as_deref(), body_error);
            reply.headers.extend(admission.headers);
            reply
        }
    };
    shared.with(|st| {
        st.limiter.answered(&reply);
        st.record(Recorded {
            index: 0,
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            headers: recorded_headers,
            authorized,
            body: json_body,
            status: reply.status,
            response: reply.body.clone().unwrap_or(Value::Null),
            arrived,
        });
    });
    if let Some(FaultKind::HoldAnswer(hold)) = &fault {
        tokio::time::sleep(*hold).await;
    }
    if let Some((min, max)) = latency {
        tokio::time::sleep(random_between(min, max)).await;
    }
    let mut reply = reply;
    if let Some(FaultKind::ReplaceBody(raw_json)) = fault {
        reply.raw = Some((raw_json, "application/json"));
    }
    into_response(reply)
}

/// A REST path's segments after `/api/v10` (`None` for a path outside the API).
fn route_segments(path: &str) -> Option<Vec<&str>> {
    let route = path.strip_prefix("/api/v10")?;
    Some(
        route
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// A uniform random duration in `[min, max]` (`min` when `max` is smaller).
fn random_between(min: Duration, max: Duration) -> Duration {
    let low = u64::try_from(min.as_micros()).unwrap_or(u64::MAX);
    let high = u64::try_from(max.as_micros()).unwrap_or(u64::MAX).max(low);
    Duration::from_micros(rand::random_range(low..=high))
}

pub(crate) fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match (reply.raw, reply.body) {
        (Some((text, content_type)), _) => {
            let mut r = (status, text).into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(content_type));
            r
        }
        (None, Some(body)) => {
            let mut r = (status, body.to_string()).into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            r
        }
        (None, None) => status.into_response(),
    };
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Cloudflare's answer to a client it has banned for too many invalid requests: 429, an HTML page (error 1015),
/// `Retry-After` at most, and no `X-RateLimit-*` header and no JSON, unlike Discord's own 429.
pub(crate) fn cloudflare_ban() -> Reply {
    Reply {
        status: 429,
        body: None,
        headers: vec![("retry-after".to_owned(), "600".to_owned())],
        raw: Some((
            "<!DOCTYPE html>\n<html><head><title>Access denied | discord.com used Cloudflare to restrict access</title>\
             </head><body><h1>Error 1015</h1><h2>You are being rate limited</h2>\
             <p>The owner of this website (discord.com) has banned you temporarily from accessing this website.</p>\
             </body></html>\n"
                .to_owned(),
            "text/html",
        )),
    }
}

/// Discord's answer for an injected failure.
pub(crate) fn fault_reply(status: u16, retry_after: f64, global: bool) -> Option<Reply> {
    let reply = match status {
        429 => {
            let scope = if global { "global" } else { "user" };
            let bucket = bucket_headers(5, 0, Duration::from_secs_f64(retry_after.max(0.0)));
            Reply::rate_limited(retry_after, scope, bucket)
        }
        502 => Reply {
            status,
            body: None,
            headers: Vec::new(),
            raw: Some((
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad \
                 Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
                    .to_owned(),
                "text/html",
            )),
        },
        500 => Reply::error(500, 0, "500: Internal Server Error"),
        503 => Reply::error(503, 0, "503: Service Unavailable"),
        other => Reply::error(other, 0, &format!("{other}: injected failure")),
    };
    Some(reply)
}
