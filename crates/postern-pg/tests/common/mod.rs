//! Shared by the PostgreSQL tests: the database from `POSTERN_PG_URL` (as
//! `scripts/pg-dev.sh run` sets it), one schema per test, and a TCP proxy that can be cut.
#![allow(dead_code)] // each test binary uses part of it

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postern_pg::PgSettings;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

/// The variable naming the test database.
pub const URL_VAR: &str = "POSTERN_PG_URL";

/// The test database's URL, or `None` after printing why the test is skipped.
pub fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            // Written past the test harness's capture, so the skip is seen in any run.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: no PostgreSQL (set {URL_VAR}, e.g. \
                 `../shared/tools/netns-run scripts/pg-dev.sh run cargo test -p postern-pg`)"
            );
            None
        }
    }
}

/// A fresh schema named `name` (dropped first if left over).
pub async fn fresh_schema(url: &str, name: &str) {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
    ))
    .await
    .expect("create schema");
}

/// `url` with every session's search_path set to `schema`.
pub fn in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Settings for node `node` in a fresh schema `schema` (created by the first caller of
/// [`fresh_schema`]).
pub fn settings(url: &str, schema: &str, node: &str) -> PgSettings {
    let mut s = PgSettings::new(in_schema(url, schema), node);
    s.timeout = Duration::from_secs(5);
    s
}

/// A direct connection to `schema`, for looking at the tables.
pub async fn peek(url: &str, schema: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(&in_schema(url, schema), NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    c
}

/// A TCP proxy in front of the database, which a test cuts to make it "go away".
pub struct Proxy {
    pub addr: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding 127.0.0.1:<any port> to `target` ("host:port").
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let t = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                t.lock().unwrap().push(h);
            }
        });
        Proxy {
            addr,
            tasks,
            accept,
        }
    }

    /// Cuts every connection and stops accepting (the port then refuses).
    pub fn cut(&self) {
        self.accept.abort();
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

/// `url` with its host and port replaced by `addr`.
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("url scheme");
    let (userinfo, rest) = rest.split_once('@').map_or(("", rest), |(u, r)| (u, r));
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let at = if userinfo.is_empty() { "" } else { "@" };
    format!("{scheme}://{userinfo}{at}{addr}{path}")
}

/// `host:port` of `url`.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").expect("url scheme").1;
    let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}
