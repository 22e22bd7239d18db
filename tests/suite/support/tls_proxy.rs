//! Discord reached the default way, through a corporate-style proxy: a CONNECT proxy on 127.0.0.1 that tunnels
//! `discord.com:443` to a TLS front presenting a `discord.com` certificate signed by a test certificate authority,
//! which forwards the decrypted bytes to the fake Discord. The bot runs without `DISCORD_API_URL`, so serenity's
//! own rate limiter is on, and finds its way with the standard `HTTPS_PROXY` and `SSL_CERT_FILE`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::TempDir;

/// The proxy, the TLS front, and the test CA's certificate file.
pub struct DiscordBehindProxy {
    /// `http://127.0.0.1:PORT`: the value for `HTTPS_PROXY`.
    pub proxy_url: String,
    /// The CA certificate (PEM): the value for `SSL_CERT_FILE`.
    pub ca_file: std::path::PathBuf,
    /// Every CONNECT target asked for.
    pub connects: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DiscordBehindProxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl DiscordBehindProxy {
    /// Starts both in front of the fake Discord listening on `fake` (its plain HTTP address).
    pub async fn start(fake: SocketAddr) -> DiscordBehindProxy {
        let dir = TempDir::new();
        let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params
            .self_signed(&ca_key)
            .unwrap_or_else(|e| panic!("{e}"));
        let leaf_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let leaf = CertificateParams::new(vec!["discord.com".to_owned()])
            .and_then(|params| params.signed_by(&leaf_key, &ca, &ca_key))
            .unwrap_or_else(|e| panic!("{e}"));
        let ca_file = dir.path.join("test-ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap_or_else(|e| panic!("{e}"));

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| {
                builder.with_no_client_auth().with_single_cert(
                    vec![leaf.der().clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
                )
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let front = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let front_addr = front.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let front_task = tokio::spawn(async move {
            while let Ok((stream, _)) = front.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let Ok(mut plain) = TcpStream::connect(fake).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });

        let connects = Arc::new(Mutex::new(Vec::new()));
        let proxy = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let proxy_addr = proxy.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let seen = Arc::clone(&connects);
        let proxy_task = tokio::spawn(async move {
            while let Ok((mut client, _)) = proxy.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let Some(target) = read_connect(&mut client).await else {
                        let _ = client
                            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                            .await;
                        return;
                    };
                    if let Ok(mut seen) = seen.lock() {
                        seen.push(target.clone());
                    }
                    // Only Discord's API host is tunnelled, and only to the TLS front.
                    if target != "discord.com:443" {
                        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
                        return;
                    }
                    let Ok(mut upstream) = TcpStream::connect(front_addr).await else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                        return;
                    };
                    if client
                        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                        .await
                        .is_ok()
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        DiscordBehindProxy {
            proxy_url: format!("http://{proxy_addr}"),
            ca_file,
            connects,
            _dir: dir,
            tasks: vec![front_task, proxy_task],
        }
    }
}

/// Reads a `CONNECT host:port HTTP/1.1` request head (bounded to 8 KiB) and returns `host:port`.
async fn read_connect(client: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || client.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.split_whitespace();
    (words.next()? == "CONNECT").then(|| words.next().map(str::to_owned))?
}
