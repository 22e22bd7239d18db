//! Issue 27's quiz at scale (`-- quiz`): N servers (default 1,000) each start a `/quiz start questions:5` round at
//! (nearly) the same moment, and 5 members of each server answer every question, a mix of right and wrong, one of
//! them clicking a second time (which must not count). The release bot runs as its own process on SQLite against
//! the fake Discord enforcing Discord's rate limits with 50–150 ms per REST answer, as in the fan-out
//! ([`super::fanout`]).
//!
//! Everything is measured at the fake, from the requests it records, read as they arrive
//! ([`FakeDiscord::requests_since`]): each question is a follow-up on the round's interaction token, and its reveal
//! the PATCH of that follow-up, timed against the question's deadline (its `<t:…:R>` timestamp); the answers
//! clicked, acknowledged ("Locked in"), counted at the reveals ("N answered · M right", who was first right), in the
//! round's scores and on the server's board (read from the store once the bot is stopped, the one use of the store
//! API here); the requests counted toward the global limit, by route; the bot's RSS every second from /proc; and a
//! `/scene` a second from the first server. Every wait is bounded (`--timeout`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use scenebot::quiz::round::{POINTS_FIRST, POINTS_RIGHT};
use scenebot::store::Store;

use super::fake_discord::{
    button_ids, permissions, FakeDiscord, FakeGuild, FakeMember, FakeOptions, InteractionRef,
    RateLimits, Recorded,
};
use super::fanout::{
    arg_value, guild_id, probe_latencies, quantile, route_counts, rss_mb, start_bot, Launch,
};

/// Questions per round (the command's default).
const QUESTIONS: i64 = 5;
/// Members answering in each server.
const MEMBERS: u64 = 5;
/// The first member's id; server `i`'s members are `FIRST_MEMBER + 8 i + k`.
const FIRST_MEMBER: u64 = 1_171_000_000_000_000_000;
/// A member's permissions in the channel: nothing special.
const MEMBER: u64 = permissions::VIEW_CHANNEL | permissions::SEND_MESSAGES;
/// Issue 27's bound on a reveal's lateness.
const REVEAL_BOUND_S: f64 = 2.0;
/// How often the driver reads the fake's new requests and sends the clicks that are due.
const TICK: Duration = Duration::from_millis(50);
/// Clicks land at least this long before a question's deadline (they are answers, not late ones).
const CLICK_MARGIN_S: f64 = 2.0;
/// The latest a click is planned after its question is seen.
const CLICK_SPREAD_S: f64 = 12.0;
/// After the last round's scores, how long we keep watching for a second copy of anything.
const QUIET: Duration = Duration::from_secs(5);
/// Start-up bound of the bot (commands registered, every GUILD_CREATE handled).
const START: Duration = Duration::from_secs(120);

/// What to run, from the command line.
pub struct Quiz {
    /// Servers, each with its round.
    servers: u64,
    /// The bound on the rounds; by default 360 s + 50 ms per server.
    timeout: Option<Duration>,
}

impl Quiz {
    /// `quiz [--servers N] [--timeout S]`; `None` when not asked for.
    pub fn from_args(args: &[String]) -> Option<Quiz> {
        if !args.iter().any(|a| a == "quiz") {
            return None;
        }
        Some(Quiz {
            servers: arg_value(args, "--servers").map_or(1_000, |n| n.max(1)),
            timeout: arg_value(args, "--timeout").map(Duration::from_secs),
        })
    }
}

/// Member `k` of server `server`.
fn member(server: usize, k: u64) -> u64 {
    FIRST_MEMBER + 8 * server as u64 + k
}

/// Runs the rounds and prints the tables.
pub async fn run(options: Quiz) {
    let servers = options.servers;
    let dir = std::env::temp_dir().join(format!("scenebot-quiz-{}-{servers}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let database = dir.join("quiz.sqlite3");
    let guilds: Vec<FakeGuild> = (0..servers)
        .map(|i| {
            let mut guild = FakeGuild::standard(guild_id(i), guild_id(i) + 2);
            guild.members.extend((0..MEMBERS).map(|k| FakeMember {
                user_id: member(i as usize, k),
                roles: Vec::new(),
                nick: None,
            }));
            guild
        })
        .collect();
    let channels: Vec<u64> = guilds.iter().map(|g| g.channels[0].id).collect();
    let fake = FakeDiscord::start(FakeOptions {
        guilds,
        heartbeat_interval: Duration::from_millis(41_250),
        rate_limits: Some(RateLimits::discord()),
        rest_latency: Some((Duration::from_millis(50), Duration::from_millis(150))),
        ..FakeOptions::default()
    })
    .await;
    let health = free_loopback_port();
    let launch = Launch {
        index: 0,
        processes: 1,
        global_rate: 50,
        health,
    };
    let mut bot = start_bot(&fake, &database, &dir, launch);
    fake.wait_for_request(
        |r| r.method == "PUT" && r.route().ends_with("/commands"),
        START,
    )
    .await;
    // Every GUILD_CREATE comes before this interaction on the one shard: once it is answered, all are handled.
    let ready = fake
        .slash("scene")
        .in_guild(guild_id(0), channels[0])
        .send()
        .await;
    fake.wait_callback(ready.id, START).await;
    let pid = bot.id().unwrap_or(0);
    let mut driver = Driver::new(&fake, rss_mb(pid));
    let at_start = fake.rate_stats();
    for (i, &channel) in channels.iter().enumerate() {
        let start = fake
            .slash("quiz")
            .subcommand("start")
            .option_int("questions", QUESTIONS)
            .user(member(i, 0))
            .member_permissions(MEMBER)
            .in_guild(guild_id(i as u64), channel)
            .send()
            .await;
        driver.add_server(start);
    }
    eprintln!(
        "{servers} rounds asked for in {:.0} ms",
        driver.anchor.0.elapsed().as_secs_f64() * 1000.0
    );
    let timeout = options
        .timeout
        .unwrap_or(Duration::from_secs(360) + Duration::from_millis(servers * 50));
    let finished = driver.drive(&mut bot, &channels, timeout, &dir).await;
    let end = fake.rate_stats();
    let metrics = match health {
        Some(addr) => scrape(addr).await,
        None => String::new(),
    };
    let _ = bot.kill().await;
    let _ = bot.wait().await;
    let boards = read_boards(&database, &driver);
    let global_429s = end.global_limited - at_start.global_limited;
    print_report(&driver, finished, &boards, global_429s, servers);
    print_profile(&metrics);
    drop(driver);
    fake.shutdown(Duration::from_secs(10)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A question as its follow-up showed it, and its reveal.
struct Question {
    server: usize,
    /// The answers' deadline, unix seconds (the message's `<t:…:R>`).
    deadline: i64,
    /// The answer buttons' custom ids, in order.
    options: Vec<String>,
    /// The first edit of the message: the reveal.
    reveal: Option<RevealSeen>,
    /// Edits of the message in all (1 expected).
    edits: usize,
}

/// What a reveal showed.
struct RevealSeen {
    /// When the edit arrived, unix seconds.
    at: f64,
    /// The option marked right (the green button).
    right: Option<usize>,
    /// "N answered · M right".
    answered: Option<u64>,
    right_count: Option<u64>,
    /// Who was first right.
    first_right: Option<u64>,
}

/// A click the driver sent.
struct Click {
    message: u64,
    member: u64,
    option: usize,
    /// A second click by a member who answered already.
    second: bool,
    sent: Instant,
    /// Sent before the question's deadline (by the fake's clock, which stamps the interaction id).
    in_time: bool,
    ack: Option<Ack>,
}

/// How the bot answered a click.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ack {
    LockedIn,
    Already,
    TooLate,
    /// Any other text (an internal error, "nothing was counted").
    Other(String),
    /// The callback was refused (late, twice): the member saw nothing.
    Refused(u16),
}

/// A click to send at a moment.
struct Planned {
    message: u64,
    member: u64,
    option: usize,
    second: bool,
    deadline: i64,
}

/// One server's round as seen at the fake.
struct Server {
    start: InteractionRef,
    /// The start's callback: its status, its type (4 a reply, 5 deferred), and milliseconds from the command.
    started: Option<(u16, u64, f64)>,
    /// Its scores messages (1 expected): their lines.
    scores: Vec<String>,
}

/// The driver: reads the fake's requests as they come, clicks, and keeps what it saw.
struct Driver<'a> {
    fake: &'a FakeDiscord,
    /// A moment on both clocks, to turn a request's arrival into unix time.
    anchor: (Instant, SystemTime),
    servers: Vec<Server>,
    by_token: HashMap<String, usize>,
    starts: HashMap<u64, usize>,
    questions: HashMap<u64, Question>,
    clicks: HashMap<u64, Click>,
    plan: BTreeMap<(Instant, u64), Planned>,
    planned: u64,
    probes: Vec<InteractionRef>,
    probe_ids: HashSet<u64>,
    probe_callbacks: Vec<Recorded>,
    /// Index of the next request to read.
    next: usize,
    /// Requests the fake dropped before we read them.
    dropped: usize,
    /// Requests counted toward the global limit (by route), and when each arrived (unix seconds).
    counted: Vec<Recorded>,
    counted_at: Vec<f64>,
    /// Interaction-endpoint requests of the rounds (follow-ups, edits, callbacks).
    exempt: usize,
    /// Milliseconds from each click to its accepted callback.
    ack_ms: Vec<f64>,
    rss_at_start: f64,
    rss_max: f64,
    /// The most file descriptors (sockets to the fake, mostly) the bot held at once.
    fds_max: usize,
}

impl<'a> Driver<'a> {
    fn new(fake: &'a FakeDiscord, rss_at_start: f64) -> Self {
        let next = fake.requests_since(0).last().map_or(0, |r| r.index + 1);
        Driver {
            fake,
            anchor: (Instant::now(), SystemTime::now()),
            servers: Vec::new(),
            by_token: HashMap::new(),
            starts: HashMap::new(),
            questions: HashMap::new(),
            clicks: HashMap::new(),
            plan: BTreeMap::new(),
            planned: 0,
            probes: Vec::new(),
            probe_ids: HashSet::new(),
            probe_callbacks: Vec::new(),
            next,
            dropped: 0,
            counted: Vec::new(),
            counted_at: Vec::new(),
            exempt: 0,
            ack_ms: Vec::new(),
            rss_at_start,
            rss_max: rss_at_start,
            fds_max: 0,
        }
    }

    fn add_server(&mut self, start: InteractionRef) {
        let index = self.servers.len();
        self.by_token.insert(start.token.clone(), index);
        self.starts.insert(start.id, index);
        self.servers.push(Server {
            start,
            started: None,
            scores: Vec::new(),
        });
    }

    /// Unix seconds of an instant.
    fn unix(&self, at: Instant) -> f64 {
        let base = self
            .anchor
            .1
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        match at.checked_duration_since(self.anchor.0) {
            Some(after) => base + after.as_secs_f64(),
            None => base - self.anchor.0.duration_since(at).as_secs_f64(),
        }
    }

    /// Runs until every round has its scores (and a quiet spell after) or `timeout`; whether all finished.
    async fn drive(
        &mut self,
        bot: &mut tokio::process::Child,
        channels: &[u64],
        timeout: Duration,
        dir: &Path,
    ) -> bool {
        let pid = bot.id().unwrap_or(0);
        let deadline = Instant::now() + timeout;
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_second = Instant::now();
        let mut done_at: Option<Instant> = None;
        loop {
            ticker.tick().await;
            self.read_requests();
            self.send_due_clicks().await;
            let now = Instant::now();
            if now >= next_second {
                next_second = now + Duration::from_secs(1);
                let (rss, fds) = (rss_mb(pid), open_fds(pid));
                self.rss_max = self.rss_max.max(rss);
                self.fds_max = self.fds_max.max(fds);
                let revealed = self
                    .questions
                    .values()
                    .filter(|q| q.reveal.is_some())
                    .count();
                eprintln!(
                    "{:>4.0} s: RSS {rss:.1} MB, {fds} fds, {} questions, {revealed} revealed, {} clicks",
                    self.anchor.0.elapsed().as_secs_f64(),
                    self.questions.len(),
                    self.clicks.len()
                );
                if let Ok(Some(status)) = bot.try_wait() {
                    panic!(
                        "the bot exited ({status}); its log: {}",
                        dir.join("bot-0.log").display()
                    );
                }
                if done_at.is_none() {
                    let probe = self
                        .fake
                        .slash("scene")
                        .in_guild(guild_id(0), channels[0])
                        .send()
                        .await;
                    self.probe_ids.insert(probe.id);
                    self.probes.push(probe);
                }
            }
            match done_at {
                None if self.all_done() => done_at = Some(now),
                Some(at) if now >= at + QUIET => return true,
                _ => {}
            }
            if now >= deadline {
                eprintln!("the rounds did not finish within {timeout:?}");
                return false;
            }
        }
    }

    /// Every round answered and, if it started, ended with its scores.
    fn all_done(&self) -> bool {
        self.servers.iter().all(|s| match s.started {
            None => false,
            Some((status, _, _)) => !(200..300).contains(&status) || !s.scores.is_empty(),
        })
    }

    /// Reads the requests that arrived since the last read.
    fn read_requests(&mut self) {
        let fresh = self.fake.requests_since(self.next);
        if let Some(first) = fresh.first() {
            self.dropped += first.index.saturating_sub(self.next);
        }
        if let Some(last) = fresh.last() {
            self.next = last.index + 1;
        }
        for request in fresh {
            self.take(request);
        }
    }

    fn take(&mut self, request: Recorded) {
        let ok = (200..300).contains(&request.status);
        let segments: Vec<&str> = request.route().trim_matches('/').split('/').collect();
        let exempt = matches!(
            segments.as_slice(),
            ["interactions", _, _, "callback"] | ["webhooks", _, _, ..]
        );
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["webhooks", _, token]) if ok => {
                let token = (*token).to_owned();
                self.followup(&token, &request);
            }
            ("PATCH", ["webhooks", _, _, "messages", message]) if ok => {
                if let Ok(message) = message.parse::<u64>() {
                    self.edit(message, &request);
                }
            }
            ("POST", ["interactions", id, _, "callback"]) => {
                if let Ok(id) = id.parse::<u64>() {
                    self.callback(id, request.clone());
                }
            }
            _ => {}
        }
        if exempt {
            self.exempt += 1;
        } else if request.authorized {
            self.counted_at.push(self.unix(request.arrived));
            self.counted.push(request);
        }
    }

    /// A follow-up on a round's token: a question (answer buttons), the scores (🏁), or the intro after a deferral.
    fn followup(&mut self, token: &str, request: &Recorded) {
        let Some(&server) = self.by_token.get(token) else {
            return;
        };
        let message = &request.response;
        let options = button_ids(message);
        if options
            .first()
            .is_some_and(|id| id.starts_with("quiz:answer:"))
        {
            let Some(id) = message["id"].as_str().and_then(|id| id.parse::<u64>().ok()) else {
                return;
            };
            let position = options[0]
                .split(':')
                .nth(3)
                .and_then(|p| p.parse::<usize>().ok())
                .unwrap_or(usize::MAX);
            let description = message["embeds"][0]["description"]
                .as_str()
                .unwrap_or_default();
            let Some(deadline) = relative_timestamp(description) else {
                eprintln!("a question without a deadline: {message}");
                return;
            };
            self.plan_clicks(server, id, position, deadline, options.len());
            self.questions.insert(
                id,
                Question {
                    server,
                    deadline,
                    options,
                    reveal: None,
                    edits: 0,
                },
            );
        } else if message["embeds"][0]["title"]
            .as_str()
            .is_some_and(|t| t.contains('🏁'))
        {
            let lines = message["embeds"][0]["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            self.servers[server].scores.push(lines);
        }
    }

    /// Five members each click one option (member `k` the option `(k + question + server) % n`, so every question
    /// gets right and wrong answers), at random moments well before the deadline; member 0 clicks again a second
    /// later, another option.
    fn plan_clicks(
        &mut self,
        server: usize,
        message: u64,
        position: usize,
        deadline: i64,
        options: usize,
    ) {
        let now = Instant::now();
        let left = deadline as f64 - self.unix(now) - CLICK_MARGIN_S;
        let spread = left.clamp(0.3, CLICK_SPREAD_S);
        let mut rng = rand::rng();
        let mut first_of_0 = 0.0;
        for k in 0..MEMBERS {
            let after = rng.random_range(0.2..=spread.max(0.21));
            if k == 0 {
                first_of_0 = after;
            }
            let option = (k as usize + position + server) % options.max(1);
            self.schedule(
                now,
                after,
                Planned {
                    message,
                    member: member(server, k),
                    option,
                    second: false,
                    deadline,
                },
            );
        }
        let option = (position + server + 1) % options.max(1);
        let after = (first_of_0 + 1.0).min(left.max(first_of_0 + 0.2));
        self.schedule(
            now,
            after,
            Planned {
                message,
                member: member(server, 0),
                option,
                second: true,
                deadline,
            },
        );
    }

    fn schedule(&mut self, now: Instant, after_s: f64, planned: Planned) {
        self.planned += 1;
        let at = now + Duration::from_secs_f64(after_s.max(0.0));
        self.plan.insert((at, self.planned), planned);
    }

    async fn send_due_clicks(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.plan.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let planned = entry.remove();
            let Some(custom_id) = self
                .questions
                .get(&planned.message)
                .and_then(|q| q.options.get(planned.option))
                .cloned()
            else {
                continue;
            };
            let interaction = self
                .fake
                .click(&custom_id, planned.message, planned.member, MEMBER)
                .await;
            let in_time = self.unix(interaction.sent_at) < planned.deadline as f64;
            self.clicks.insert(
                interaction.id,
                Click {
                    message: planned.message,
                    member: planned.member,
                    option: planned.option,
                    second: planned.second,
                    sent: interaction.sent_at,
                    in_time,
                    ack: None,
                },
            );
        }
    }

    /// An edit of a round's message: the first of a question's is its reveal.
    fn edit(&mut self, message: u64, request: &Recorded) {
        let at = self.unix(request.arrived);
        let Some(question) = self.questions.get_mut(&message) else {
            return;
        };
        question.edits += 1;
        if question.reveal.is_some() {
            return;
        }
        let shown = &request.response;
        let right = shown["components"][0]["components"]
            .as_array()
            .and_then(|buttons| buttons.iter().position(|b| b["style"] == 3));
        let tally = numbers(
            shown["embeds"][0]["fields"][1]["value"]
                .as_str()
                .unwrap_or(""),
        );
        let first_right = shown["embeds"][0]["fields"][2]["value"]
            .as_str()
            .and_then(|v| v.strip_prefix("<@"))
            .and_then(|v| v.strip_suffix('>'))
            .and_then(|v| v.parse::<u64>().ok());
        question.reveal = Some(RevealSeen {
            at,
            right,
            answered: tally.first().copied(),
            right_count: tally.get(1).copied(),
            first_right,
        });
    }

    fn callback(&mut self, id: u64, request: Recorded) {
        let ok = (200..300).contains(&request.status);
        if let Some(click) = self.clicks.get_mut(&id) {
            if click.ack.is_some() {
                // The member saw the first answer; a second callback is the fake's to refuse.
                return;
            }
            let text = request.body["data"]["content"].as_str().unwrap_or_default();
            let ack = if !ok {
                Ack::Refused(request.status)
            } else if text.starts_with("Locked in") {
                Ack::LockedIn
            } else if text.starts_with("You already answered") {
                Ack::Already
            } else if text.starts_with("Too late") {
                Ack::TooLate
            } else {
                Ack::Other(text.to_owned())
            };
            if ok {
                let waited = request.arrived.saturating_duration_since(click.sent);
                self.ack_ms.push(waited.as_secs_f64() * 1000.0);
            }
            click.ack = Some(ack);
        } else if let Some(&server) = self.starts.get(&id) {
            let kind = request.body["type"].as_u64().unwrap_or(0);
            let server = &mut self.servers[server];
            let waited = request
                .arrived
                .saturating_duration_since(server.start.sent_at);
            server
                .started
                .get_or_insert((request.status, kind, waited.as_secs_f64() * 1000.0));
        } else if self.probe_ids.contains(&id) {
            self.probe_callbacks.push(request);
        }
    }
}

/// How many file descriptors process `pid` holds (0 when /proc cannot say).
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// The unix seconds of the first `<t:…>` timestamp in `text`.
fn relative_timestamp(text: &str) -> Option<i64> {
    let rest = &text[text.find("<t:")? + 3..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?]
        .parse()
        .ok()
}

/// The whole numbers in `text`, in order.
fn numbers(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Each server's board once the bot is stopped (`None` where it could not be read).
fn read_boards(database: &Path, driver: &Driver<'_>) -> Vec<Option<scenebot::store::Board>> {
    let store = match Store::open(database) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("cannot open the store to read the boards: {error}");
            return driver.servers.iter().map(|_| None).collect();
        }
    };
    (0..driver.servers.len())
        .map(|i| {
            store
                .quiz_board(guild_id(i as u64), member(i, 0), 10)
                .map_err(|error| eprintln!("server {i}'s board: {error}"))
                .ok()
        })
        .collect()
}

/// A player's points, right answers and first right answers.
type Points = (u64, u64, u64);

/// The answers' story: what the members did against what the bot showed and stored.
#[derive(Default)]
struct Answers {
    /// First clicks sent, and of them before the deadline.
    clicked: usize,
    clicked_in_time: usize,
    /// First clicks acknowledged "Locked in", told "too late", refused or never answered, answered otherwise.
    locked_in: usize,
    told_late: usize,
    unanswered: usize,
    other: usize,
    /// Second clicks, told "already answered", and wrongly "locked in".
    seconds: usize,
    seconds_already: usize,
    seconds_locked: usize,
    /// The reveals' "N answered", summed.
    counted: u64,
    /// Per question: in-time first clicks not counted; counts beyond the members who clicked.
    lost: u64,
    twice: u64,
    /// Reveals whose "M right" or first right differ from the clicks.
    right_differs: usize,
    first_differs: usize,
    /// Servers whose scores message (or board) differs from the clicks; servers with more than one scores message.
    scores_differ: usize,
    scores_twice: usize,
    boards_differ: usize,
}

impl Answers {
    fn of(driver: &Driver<'_>, boards: &[Option<scenebot::store::Board>]) -> Answers {
        let mut a = Answers::default();
        let mut by_question: HashMap<u64, Vec<(u64, &Click)>> = HashMap::new();
        for (id, click) in &driver.clicks {
            by_question
                .entry(click.message)
                .or_default()
                .push((*id, click));
            if click.second {
                a.seconds += 1;
                match click.ack {
                    Some(Ack::Already) => a.seconds_already += 1,
                    Some(Ack::LockedIn) => a.seconds_locked += 1,
                    _ => {}
                }
                continue;
            }
            a.clicked += 1;
            a.clicked_in_time += usize::from(click.in_time);
            match &click.ack {
                Some(Ack::LockedIn) => a.locked_in += 1,
                Some(Ack::TooLate) => a.told_late += 1,
                None | Some(Ack::Refused(_)) => a.unanswered += 1,
                Some(Ack::Already | Ack::Other(_)) => a.other += 1,
            }
        }
        let mut expected: Vec<HashMap<u64, Points>> = vec![HashMap::new(); driver.servers.len()];
        for (message, question) in &driver.questions {
            let Some(reveal) = &question.reveal else {
                continue;
            };
            let mut firsts: Vec<&(u64, &Click)> = by_question
                .get(message)
                .map(|clicks| clicks.iter().filter(|(_, c)| !c.second).collect())
                .unwrap_or_default();
            firsts.sort_by_key(|(id, _)| *id);
            let in_time = firsts.iter().filter(|(_, c)| c.in_time).count() as u64;
            let counted = reveal.answered.unwrap_or(0);
            a.counted += counted;
            a.lost += in_time.saturating_sub(counted);
            a.twice += counted.saturating_sub(firsts.len() as u64);
            let locked: Vec<&Click> = firsts
                .iter()
                .map(|(_, c)| *c)
                .filter(|c| c.ack == Some(Ack::LockedIn))
                .collect();
            let right: Vec<&&Click> = locked
                .iter()
                .filter(|c| Some(c.option) == reveal.right)
                .collect();
            if reveal.right_count != Some(right.len() as u64) {
                a.right_differs += 1;
            }
            let first = right.first().map(|c| c.member);
            if reveal.first_right != first {
                a.first_differs += 1;
            }
            let points = &mut expected[question.server];
            for click in &locked {
                let entry = points.entry(click.member).or_default();
                if Some(click.option) == reveal.right {
                    entry.0 += u64::from(POINTS_RIGHT);
                    entry.1 += 1;
                }
                if first == Some(click.member) {
                    entry.0 += u64::from(POINTS_FIRST);
                    entry.2 += 1;
                }
            }
        }
        for (i, server) in driver.servers.iter().enumerate() {
            if server.scores.len() > 1 {
                a.scores_twice += 1;
            }
            if let Some(lines) = server.scores.first() {
                if scores_listed(lines) != expected[i] {
                    a.scores_differ += 1;
                }
            }
            if server.scores.is_empty() {
                continue;
            }
            let on_board: HashMap<u64, Points> = boards
                .get(i)
                .and_then(Option::as_ref)
                .filter(|board| board.rounds == 1)
                .map(|board| {
                    board
                        .top
                        .iter()
                        .map(|row| (row.user, (row.points, row.right, row.firsts)))
                        .collect()
                })
                .unwrap_or_default();
            if on_board != expected[i] {
                a.boards_differ += 1;
            }
        }
        a
    }
}

/// The players in a scores message: `**1.** <@id> · 2 points (1 right, 1 first)` per line.
fn scores_listed(lines: &str) -> HashMap<u64, Points> {
    lines
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find("<@")? + 2..];
            let close = rest.find('>')?;
            let user = rest[..close].parse::<u64>().ok()?;
            match numbers(&rest[close..])[..] {
                [points, right, first, ..] => Some((user, (points, right, first))),
                _ => None,
            }
        })
        .collect()
}

/// The most of `times` (unix seconds) within any one second.
fn peak_per_second(times: &[f64]) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut start = 0;
    let mut peak = 0;
    for end in 0..sorted.len() {
        while sorted[end] - sorted[start] >= 1.0 {
            start += 1;
        }
        peak = peak.max(end + 1 - start);
    }
    peak
}

fn print_report(
    driver: &Driver<'_>,
    finished: bool,
    boards: &[Option<scenebot::store::Board>],
    global_429s: u64,
    servers: u64,
) {
    let answered: Vec<(u16, u64, f64)> = driver.servers.iter().filter_map(|s| s.started).collect();
    let started = answered
        .iter()
        .filter(|(status, _, _)| (200..300).contains(status))
        .count();
    let deferred = answered.iter().filter(|(_, kind, _)| *kind == 5).count();
    let mut start_ms: Vec<f64> = answered.iter().map(|(_, _, ms)| *ms).collect();
    start_ms.sort_by(f64::total_cmp);
    let mut lateness: Vec<f64> = driver
        .questions
        .values()
        .filter_map(|q| Some(q.reveal.as_ref()?.at - q.deadline as f64))
        .collect();
    lateness.sort_by(f64::total_cmp);
    let revealed = lateness.len();
    let over = lateness.iter().filter(|l| **l > REVEAL_BOUND_S).count();
    let early = lateness.iter().filter(|l| **l < 0.0).count();
    let edited_twice = driver.questions.values().filter(|q| q.edits > 1).count();
    let asked = driver.questions.len();
    println!(
        "## Quiz: {servers} servers each start a {QUESTIONS}-question round at once, {MEMBERS} members answer every \
         question (one SQLite process; fake: Discord's rate limits, 50–150 ms per REST answer)\n"
    );
    header(&[
        "servers",
        "rounds started (deferred)",
        "/quiz start → answer p50 / p99 ms",
        "questions asked",
        "revealed",
        "reveal − deadline p50 / p99 / max s",
        &format!("over {REVEAL_BOUND_S} s"),
        "before the deadline",
        "edited twice",
        "finished",
    ]);
    row(&[
        servers.to_string(),
        format!("{started} ({deferred})"),
        format!(
            "{:.0} / {:.0}",
            quantile(&start_ms, 0.5),
            quantile(&start_ms, 0.99)
        ),
        format!("{asked} of {}", started as i64 * QUESTIONS),
        revealed.to_string(),
        format!(
            "{:.2} / {:.2} / {:.2}",
            quantile(&lateness, 0.5),
            quantile(&lateness, 0.99),
            quantile(&lateness, 1.0)
        ),
        over.to_string(),
        early.to_string(),
        edited_twice.to_string(),
        (if finished { "yes" } else { "no (timeout)" }).to_owned(),
    ]);
    let a = Answers::of(driver, boards);
    let mut ack_ms = driver.ack_ms.clone();
    ack_ms.sort_by(f64::total_cmp);
    println!();
    header(&[
        "answers clicked (in time)",
        "locked in",
        "told too late",
        "unanswered",
        "other",
        "counted at the reveals",
        "lost",
        "counted twice",
        "second clicks: told \"already\" / locked in",
        "reveals whose right count / first right differ",
        "scores messages that differ (twice)",
        "boards that differ",
        "click → answer p50 / p99 ms",
    ]);
    row(&[
        format!("{} ({})", a.clicked, a.clicked_in_time),
        a.locked_in.to_string(),
        a.told_late.to_string(),
        a.unanswered.to_string(),
        a.other.to_string(),
        a.counted.to_string(),
        a.lost.to_string(),
        a.twice.to_string(),
        format!(
            "{}: {} / {}",
            a.seconds, a.seconds_already, a.seconds_locked
        ),
        format!("{} / {}", a.right_differs, a.first_differs),
        format!("{} ({})", a.scores_differ, a.scores_twice),
        a.boards_differ.to_string(),
        format!(
            "{:.0} / {:.0}",
            quantile(&ack_ms, 0.5),
            quantile(&ack_ms, 0.99)
        ),
    ]);
    let scene_ms = probe_latencies(&driver.probe_callbacks, &driver.probes);
    let first = driver.counted_at.iter().copied().reduce(f64::min);
    let last = driver.counted_at.iter().copied().reduce(f64::max);
    let span = first.zip(last).map(|(lo, hi)| hi - lo);
    println!();
    header(&[
        "requests counted toward the global limit",
        "peak in any 1 s",
        "global 429s",
        "interaction-endpoint requests (callbacks, follow-ups, edits)",
        "RSS before the rounds MB",
        "max RSS MB",
        "max open fds",
        "/scene p50 / p99 ms (n)",
        "requests the fake dropped unread",
    ]);
    row(&[
        format!(
            "{}{}",
            driver.counted.len(),
            span.map_or(String::new(), |s| format!(" over {s:.0} s"))
        ),
        peak_per_second(&driver.counted_at).to_string(),
        global_429s.to_string(),
        driver.exempt.to_string(),
        format!("{:.1}", driver.rss_at_start),
        format!("{:.1}", driver.rss_max),
        driver.fds_max.to_string(),
        format!(
            "{:.0} / {:.0} ({})",
            quantile(&scene_ms, 0.5),
            quantile(&scene_ms, 0.99),
            scene_ms.len()
        ),
        driver.dropped.to_string(),
    ]);
    if !driver.counted.is_empty() {
        println!("\nCounted requests by route:\n");
        header(&["route", "requests"]);
        let counted: Vec<&Recorded> = driver.counted.iter().collect();
        for (route, count) in route_counts(&counted) {
            println!("| `{route}` | {count} |");
        }
    }
    println!(
        "\nreveal − deadline: the reveal's edit arriving at the fake, less the question's deadline (its `<t:…:R>`); \
         lost: clicks sent before the deadline that the reveal did not count; counted twice: a reveal counting more \
         answers than members clicked; unanswered: no callback, or one the fake refused (after 3 s); deferred: \
         /quiz start answered with a deferral (the bot defers 1.5 s after the interaction was made)."
    );
}

/// A free port on 127.0.0.1 for the bot's `/metrics` (free when asked; `None` if none could be had).
fn free_loopback_port() -> Option<std::net::SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .ok()
}

/// The bot's `/metrics` text (empty when it cannot be read within 5 s).
async fn scrape(addr: std::net::SocketAddr) -> String {
    let client = reqwest::Client::new();
    let fetched = client
        .get(format!("http://{addr}/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match fetched {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => {
            eprintln!("cannot read the bot's /metrics: {error}");
            String::new()
        }
    }
}

/// Where the bot's time went, from its own `/metrics`: how old the interactions were when it received them, and
/// the mean time of each store call site and REST route (waits for a turn included).
fn print_profile(metrics: &str) {
    if metrics.is_empty() {
        return;
    }
    println!("\n### Where the bot's time went (its /metrics at the end)\n");
    let ages: Vec<(f64, u64)> = metrics
        .lines()
        .filter(|l| l.starts_with("scenebot_interaction_age_seconds_bucket{kind=\"command\""))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let count = l.rsplit(' ').next()?.parse().ok()?;
            Some((le.parse().unwrap_or(f64::INFINITY), count))
        })
        .collect();
    if let Some(&(_, total)) = ages.last() {
        let bound = |q: f64| {
            ages.iter()
                .find(|(_, count)| *count as f64 >= q * total as f64)
                .map_or(f64::NAN, |(le, _)| *le)
        };
        println!(
            "Commands' age when the bot received them (snowflake to receipt, {total} commands): p50 ≤ {} s, p99 ≤ {} s \
             (histogram bounds).\n",
            bound(0.5),
            bound(0.99)
        );
    }
    header(&["metric", "label", "calls", "mean ms"]);
    for (name, label) in [
        ("scenebot_store_call_seconds", "site"),
        ("scenebot_discord_request_seconds", "route"),
        ("scenebot_interaction_seconds", "command"),
    ] {
        for line in metrics
            .lines()
            .filter(|l| l.starts_with(&format!("{name}_sum{{")))
        {
            let Some((labels, sum)) = line.rsplit_once(' ') else {
                continue;
            };
            let labels = &labels[name.len() + 4..];
            let count_line = format!("{name}_count{labels} ");
            let count = metrics
                .lines()
                .find_map(|l| l.strip_prefix(&count_line))
                .and_then(|c| c.trim().parse::<f64>().ok())
                .unwrap_or(0.0);
            let value = labels
                .split(&format!("{label}=\""))
                .nth(1)
                .and_then(|v| v.split('"').next())
                .unwrap_or(labels);
            let mean = sum.parse::<f64>().unwrap_or(f64::NAN) / count.max(1.0) * 1000.0;
            println!("| {name} | `{value}` | {count:.0} | {mean:.1} |");
        }
    }
}

/// Prints a markdown table's header row and its separator.
fn header(columns: &[&str]) {
    println!("| {} |", columns.join(" | "));
    println!("|{}", "---|".repeat(columns.len()));
}

/// Prints one markdown table row.
fn row(cells: &[String]) {
    println!("| {} |", cells.join(" | "));
}
