//! PostgreSQL over TLS against the tests' own server with `ssl=on` and a certificate made for it: `sslmode` and
//! `sslrootcert` as libpq reads them, and a certificate that does not check out is a setting to fix (exit 1).

use std::path::Path;

use scenebot::store::{Store, StoreError};

use crate::store_contract::new_poll;
use crate::support::bot::{BotOptions, BotProcess};
use crate::support::harness::T;
use crate::support::postgres::PgDatabase;

/// Opens a store on `url` off the async runtime (the store blocks).
async fn open(url: String) -> Result<Store, StoreError> {
    tokio::task::spawn_blocking(move || Store::open(Path::new(&url)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_and_require_connect_over_tls_and_the_store_works() -> Result<(), StoreError> {
    let Some(database) =
        PgDatabase::on_tls_cluster("verify_full_and_require_connect_over_tls_and_the_store_works")
    else {
        return Ok(());
    };
    let ca = database.cluster().ca_file();
    let verify_full = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        database.url,
        ca.display()
    );
    let store = open(verify_full).await?;
    let inserted = tokio::task::spawn_blocking(move || {
        let poll = store.insert_poll(&new_poll(1, 1_000))?;
        Ok::<_, StoreError>((poll, store.open_polls()?))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))?;
    let (Ok(poll), polls) = inserted else {
        panic!("no open poll yet");
    };
    assert_eq!(polls.iter().map(|p| p.id).collect::<Vec<_>>(), [poll.id]);
    // The bot's sessions are encrypted: the server says so.
    let encrypted = database.psql(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE ssl AND datname = current_database()",
    );
    assert_ne!(encrypted, "0", "no TLS session on the server");
    // verify-ca with the same CA, and require without one, connect too.
    for query in [
        format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
        "sslmode=require".to_owned(),
    ] {
        let store = open(format!("{}?{query}", database.url)).await;
        assert!(store.is_ok(), "{query}: {:?}", store.err());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_stops_the_bot_with_exit_1() {
    let Some(database) =
        PgDatabase::on_tls_cluster("a_certificate_from_another_ca_stops_the_bot_with_exit_1")
    else {
        return;
    };
    // Another cluster's CA: a real CA certificate that did not sign this server's.
    let Some(other) =
        PgDatabase::on_tls_cluster("a_certificate_from_another_ca_stops_the_bot_with_exit_1")
    else {
        return;
    };
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        database.url.replace("scenebot@", "scenebot:hunter2@"),
        other.cluster().ca_file().display()
    );
    let error = open(url.clone()).await.err();
    assert!(
        matches!(&error, Some(StoreError::Misconfigured(text)) if text.contains("sslrootcert")),
        "{error:?}"
    );
    let mut options = BotOptions::new("http://127.0.0.1:9", "not.a.real-token");
    options.env.push(("SCENEBOT_DATABASE", url));
    let mut bot = BotProcess::start(options);
    assert_eq!(bot.wait_exit(T).await.code(), Some(1), "{}", bot.logs());
    let line = bot.wait_log("cannot open the database", T).await;
    assert!(
        line.contains("invalid peer certificate") && line.contains("sslrootcert"),
        "{line}"
    );
    assert!(!bot.logs().contains("hunter2"), "{}", bot.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_disable_against_a_tls_only_server_is_refused_with_what_to_fix() {
    let Some(database) = PgDatabase::on_tls_cluster(
        "sslmode_disable_against_a_tls_only_server_is_refused_with_what_to_fix",
    ) else {
        return;
    };
    database.cluster().require_tls();
    // pg_ctl reload returns before the server has read the file: wait, boundedly, until plain connections are
    // refused.
    let deadline = std::time::Instant::now() + T;
    let error = loop {
        match open(format!("{}?sslmode=disable", database.url)).await {
            Err(error) => break error,
            Ok(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Ok(_) => panic!("plain connections still accepted after {T:?}"),
        }
    };
    assert!(
        matches!(&error, StoreError::Misconfigured(text) if text.contains("no encryption") && text.contains("sslmode=require")),
        "{error:?}"
    );
    // Over TLS it is let in.
    let store = open(format!("{}?sslmode=require", database.url)).await;
    assert!(store.is_ok(), "{:?}", store.err());
}

/// `sslmode=prefer` as libpq does it: a server that offers TLS but whose handshake fails (here: only CBC cipher
/// suites, which rustls does not speak) gets a plain connection, unless `sslrootcert` asks for its certificate to be
/// checked: then the bot stops with what to fix, never trading a check for no TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_connects_plain_after_a_failed_handshake_but_never_with_sslrootcert() {
    let Some(database) = PgDatabase::on_tls_cluster(
        "prefer_connects_plain_after_a_failed_handshake_but_never_with_sslrootcert",
    ) else {
        return;
    };
    for setting in [
        "ALTER SYSTEM SET ssl_max_protocol_version = 'TLSv1.2'",
        "ALTER SYSTEM SET ssl_ciphers = 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA'",
        "SELECT pg_reload_conf()",
    ] {
        database.psql(setting);
    }
    // The handshake does fail: require says so.
    let required = open(format!("{}?sslmode=require", database.url)).await;
    assert!(
        matches!(&required, Err(StoreError::Misconfigured(fix)) if fix.contains("TLS handshake")),
        "require: {:?}",
        required.err()
    );
    let store = open(format!("{}?sslmode=prefer", database.url))
        .await
        .unwrap_or_else(|e| panic!("prefer did not fall back to a plain connection: {e}"));
    let polls = tokio::task::spawn_blocking(move || store.open_polls())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(polls.is_ok_and(|polls| polls.is_empty()));
    let ca = database.cluster().ca_file();
    let checked = open(format!(
        "{}?sslmode=prefer&sslrootcert={}",
        database.url,
        ca.display()
    ))
    .await;
    assert!(
        matches!(&checked, Err(StoreError::Misconfigured(fix)) if fix.contains("TLS handshake")),
        "prefer with sslrootcert: {:?}",
        checked.err()
    );
}

/// A server that authenticates clients by certificate (`cert` in `pg_hba.conf`): `sslcert` and `sslkey` present
/// the bot's, signed by the server's CA, and the store works; without them the server refuses the bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_gets_in_where_the_server_demands_one() {
    let Some(database) =
        PgDatabase::on_tls_cluster("a_client_certificate_gets_in_where_the_server_demands_one")
    else {
        return;
    };
    let cluster = database.cluster();
    cluster.require_client_certificates();
    let ca = cluster.ca_file();
    let (cert, key) = cluster.client_certificate();
    let checked = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        database.url,
        ca.display()
    );
    let refused = open(checked.clone()).await;
    assert!(
        refused.is_err(),
        "the server let in a client without a certificate"
    );
    let store = open(format!(
        "{checked}&sslcert={}&sslkey={}",
        cert.display(),
        key.display()
    ))
    .await
    .unwrap_or_else(|e| panic!("the client certificate was not accepted: {e}"));
    let polls = tokio::task::spawn_blocking(move || store.open_polls())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(polls.is_ok_and(|polls| polls.is_empty()));
}

/// Issue 29.6: `sslmode=prefer` with `sslrootcert` asks for the server's certificate to be checked, so a server (or
/// whoever answers for it) that says it has no TLS gets no plain connection: it is refused with what to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_with_sslrootcert_never_goes_plain_when_the_server_offers_no_tls() {
    let (Some(tls), Some(plain)) = (
        PgDatabase::on_tls_cluster("prefer_with_sslrootcert_never_goes_plain (tls)"),
        PgDatabase::fresh("prefer_with_sslrootcert_never_goes_plain (plain)"),
    ) else {
        return;
    };
    let ca = tls.cluster().ca_file();
    let checked = open(format!(
        "{}?sslmode=prefer&sslrootcert={}",
        plain.url,
        ca.display()
    ))
    .await;
    assert!(
        matches!(&checked, Err(StoreError::Misconfigured(fix)) if fix.contains("TLS")),
        "prefer with sslrootcert against a plain server: {:?}",
        checked.err()
    );
    // Without sslrootcert, prefer is libpq's: plain when the server has no TLS.
    let store = open(format!("{}?sslmode=prefer", plain.url)).await;
    assert!(store.is_ok(), "{:?}", store.err());
}
