//! A throwaway PostgreSQL cluster for the tests: Debian's server binaries (`apt-get install postgresql`), a fresh
//! data directory under the temp dir, 127.0.0.1 on a free port, trust authentication, fsync off. Run as the
//! `postgres` user when the tests run as root (the server refuses root). Stopped and removed when the last test
//! holding it drops it. Each test takes a fresh database of its own.
//!
//! Without PostgreSQL the tests that need it say so ([`super::skipped`]) and pass without running, unless
//! `SCENEBOT_REQUIRE_POSTGRES=1` (set by `.ci/run`) makes them fail instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use scenebot::store::Store;

/// The variable that makes PostgreSQL mandatory for the tests.
pub const REQUIRE: &str = "SCENEBOT_REQUIRE_POSTGRES";

/// A running cluster.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    run_as: Option<&'static str>,
    databases: AtomicUsize,
}

/// A fresh database on the shared cluster, and its URL. Keeps the cluster running while held.
pub struct PgDatabase {
    /// `postgres://scenebot@127.0.0.1:PORT/NAME`.
    pub url: String,
    cluster: Arc<PgCluster>,
}

impl PgDatabase {
    /// A new, empty database; `None` (said on stderr) when PostgreSQL is not installed and not required.
    pub fn fresh(test: &str) -> Option<PgDatabase> {
        let cluster = PgCluster::shared(test)?;
        let url = cluster.create_database();
        Some(PgDatabase { url, cluster })
    }

    /// A new database on a cluster of its own that speaks TLS (`ssl=on`) with a certificate for 127.0.0.1 and
    /// localhost signed by a CA made for it ([`PgCluster::ca_file`]). `None` as [`PgDatabase::fresh`].
    pub fn on_tls_cluster(test: &str) -> Option<PgDatabase> {
        let cluster = Arc::new(PgCluster::start_with(server_bin(test)?, true));
        let url = cluster.create_database();
        Some(PgDatabase { url, cluster })
    }

    /// The cluster this database is on.
    pub fn cluster(&self) -> &PgCluster {
        &self.cluster
    }

    /// Opens a store on this database (each call: another store, with its own owner id and pool).
    pub fn open(&self) -> Store {
        Store::open(Path::new(&self.url))
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.url))
    }

    /// A new database on a cluster of its own, for a test that stops the server: the shared cluster must keep
    /// answering the other tests. `None` as [`PgDatabase::fresh`].
    pub fn on_own_cluster(test: &str) -> Option<PgDatabase> {
        let cluster = Arc::new(PgCluster::start(server_bin(test)?));
        let url = cluster.create_database();
        Some(PgDatabase { url, cluster })
    }

    /// Freezes the whole cluster (the postmaster, then every server process) with SIGSTOP, as a stalled machine:
    /// sockets stay open, nothing answers. The cluster runs again (SIGCONT) when the guard drops, whatever the
    /// test does in between, a failed assertion included.
    pub fn pause(&self) -> Paused {
        let postmaster = self.cluster.postmaster_pid();
        signal("-STOP", postmaster);
        // Stopped, the postmaster forks no new process: its children now are all there are.
        let children = children_of(postmaster);
        for child in &children {
            signal("-STOP", *child);
        }
        Paused {
            pids: std::iter::once(postmaster).chain(children).collect(),
        }
    }

    /// Runs `sql` on this database with psql; panics with psql's output on failure.
    pub fn psql(&self, sql: &str) -> String {
        self.cluster.psql(self.name(), sql)
    }

    fn name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or("postgres")
    }
}

/// Whether the tests must have PostgreSQL.
pub fn required() -> bool {
    std::env::var(REQUIRE).is_ok_and(|v| v == "1")
}

/// Where the server binaries are: `SCENEBOT_POSTGRES_BIN`, or the newest `/usr/lib/postgresql/*/bin`.
fn find_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("SCENEBOT_POSTGRES_BIN") {
        let bin = PathBuf::from(dir);
        return bin.join("initdb").exists().then_some(bin);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The server binaries; `None` (said on stderr) when PostgreSQL is not installed and not required.
fn server_bin(test: &str) -> Option<PathBuf> {
    let bin = find_bin();
    if bin.is_none() {
        assert!(
            !required(),
            "{REQUIRE}=1 but PostgreSQL is not installed (apt-get install postgresql)"
        );
        super::skipped(&format!(
            "({test}) PostgreSQL is not installed (apt-get install postgresql, or SCENEBOT_POSTGRES_BIN; \
             {REQUIRE}=1 makes this an error)"
        ));
    }
    bin
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

impl PgCluster {
    /// The cluster shared by the tests running now, started on first use.
    pub fn shared(test: &str) -> Option<Arc<PgCluster>> {
        static SHARED: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cluster) = shared.upgrade() {
            return Some(cluster);
        }
        let cluster = Arc::new(PgCluster::start(server_bin(test)?));
        *shared = Arc::downgrade(&cluster);
        Some(cluster)
    }

    fn start(bin: PathBuf) -> PgCluster {
        PgCluster::start_with(bin, false)
    }

    /// The PEM file of the CA that signed a TLS cluster's certificate (see [`PgDatabase::on_tls_cluster`]).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The client certificate and key (PEM) for the tests' user `scenebot`, signed by [`PgCluster::ca_file`]'s CA.
    pub fn client_certificate(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("client.crt"), self.dir.join("client.key"))
    }

    /// Lets clients in over TLS with a client certificate signed by the cluster's CA only (`cert` in
    /// `pg_hba.conf`, the CA as `ssl_ca_file`), and reloads the server. psql (over TCP) no longer gets in after.
    pub fn require_client_certificates(&self) {
        self.psql(
            "postgres",
            &format!(
                "ALTER SYSTEM SET ssl_ca_file = '{}'",
                self.ca_file().display()
            ),
        );
        self.write_hba("hostssl all all 127.0.0.1/32 cert\n");
    }

    /// Lets clients in over TLS only (`hostssl` in `pg_hba.conf`), and reloads the server.
    pub fn require_tls(&self) {
        self.write_hba("hostssl all all 127.0.0.1/32 trust\n");
    }

    /// Replaces `pg_hba.conf` with `rules` and reloads the server.
    fn write_hba(&self, rules: &str) {
        let hba = self.dir.join("data").join("pg_hba.conf");
        std::fs::write(&hba, rules).unwrap_or_else(|e| panic!("{}: {e}", hba.display()));
        let data = self.dir.join("data");
        let reload = self.server_command("pg_ctl", &["-D", &data.to_string_lossy(), "reload"]);
        assert!(
            reload.status.success(),
            "reload failed: {}",
            describe(&reload)
        );
    }

    /// Writes a CA (`ca.crt`) and the server's certificate for 127.0.0.1 and localhost signed by it, with its key
    /// (mode 0600, the server's user's, as PostgreSQL demands); the server options that use them.
    fn make_certificates(&self) -> String {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
        let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params
            .self_signed(&ca_key)
            .unwrap_or_else(|e| panic!("{e}"));
        let server_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .and_then(|params| params.signed_by(&server_key, &ca, &ca_key))
            .unwrap_or_else(|e| panic!("{e}"));
        let (cert, key) = (self.dir.join("server.crt"), self.dir.join("server.key"));
        // A client certificate for the tests' user, signed by the same CA (see `require_client_certificates`).
        let client_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut client_params =
            CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
        client_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "scenebot");
        let client = client_params
            .signed_by(&client_key, &ca, &ca_key)
            .unwrap_or_else(|e| panic!("{e}"));
        let (client_cert_file, client_key_file) = self.client_certificate();
        for (path, pem) in [
            (self.ca_file(), ca.pem()),
            (cert.clone(), server.pem()),
            (key.clone(), server_key.serialize_pem()),
            (client_cert_file, client.pem()),
            (client_key_file, client_key.serialize_pem()),
        ] {
            std::fs::write(&path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(user) = self.run_as {
            let chown = Command::new("chown")
                .arg(user)
                .arg(&cert)
                .arg(&key)
                .output();
            assert!(
                chown.is_ok_and(|o| o.status.success()),
                "cannot chown the certificate"
            );
        }
        format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            cert.display(),
            key.display()
        )
    }

    fn start_with(bin: PathBuf, tls: bool) -> PgCluster {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "scenebot-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let run_as = is_root().then_some("postgres");
        if let Some(user) = run_as {
            let chown = Command::new("chown").arg(user).arg(&dir).output();
            assert!(
                chown.as_ref().is_ok_and(|o| o.status.success()),
                "cannot give {} to the {user} user (is PostgreSQL installed?): {chown:?}",
                dir.display()
            );
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            port: 0,
            run_as,
            databases: AtomicUsize::new(0),
        };
        let data = cluster.dir.join("data");
        let init = cluster.server_command(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "scenebot",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        assert!(init.status.success(), "initdb failed: {}", describe(&init));
        let tls_options = if tls {
            cluster.make_certificates()
        } else {
            String::new()
        };
        // A free port can be taken by someone else before the server binds it: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap_or_else(|e| panic!("no free port: {e}"));
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=300{tls_options}",
                cluster.dir.display()
            );
            let started = cluster.server_command(
                "pg_ctl",
                &[
                    "-D",
                    &data.to_string_lossy(),
                    "-o",
                    &options,
                    "-l",
                    &cluster.dir.join("server.log").to_string_lossy(),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            );
            if started.status.success() {
                cluster.port = port;
                return cluster;
            }
        }
        let log = std::fs::read_to_string(cluster.dir.join("server.log")).unwrap_or_default();
        panic!("PostgreSQL did not start; its log:\n{log}");
    }

    /// Runs a server binary, as the `postgres` user when we are root.
    fn server_command(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&path);
                command
            }
            None => Command::new(&path),
        };
        command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()))
    }

    /// Runs `sql` on `database` with psql over TCP.
    fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "scenebot",
            ])
            .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            describe(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The postmaster's pid: the first line of `postmaster.pid` in the data directory.
    fn postmaster_pid(&self) -> u32 {
        let file = self.dir.join("data").join("postmaster.pid");
        std::fs::read_to_string(&file)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {}", file.display()))
    }

    fn create_database(&self) -> String {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::Relaxed));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        format!("postgres://scenebot@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.dir.join("data");
            let _ = self.server_command(
                "pg_ctl",
                &[
                    "-D",
                    &data.to_string_lossy(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A frozen cluster (see [`PgDatabase::pause`]); dropping it lets it run again.
pub struct Paused {
    pids: Vec<u32>,
}

impl Drop for Paused {
    fn drop(&mut self) {
        for pid in self.pids.iter().rev() {
            signal("-CONT", *pid);
        }
    }
}

/// Sends `signal` (as `kill` spells it) to `pid`; a process that is gone already is not an error.
fn signal(signal: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status();
}

/// The processes whose parent is `pid`, from `/proc/*/stat` (the parent is the field after the state).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                // The command name is in parentheses and may hold spaces: read after its closing one.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

fn describe(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
