//! Helpers: a running exporter process, a plain HTTP client, free ports.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_valwatch")
}

pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

pub fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// `GET path` over HTTP/1.0; returns status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A running `valwatch run`; killed if the test panics.
pub struct Exporter {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Exporter {
    pub fn start(config: &Path, state_dir: &Path, log: &Path) -> Exporter {
        let addr = free_addr();
        let log_file = std::fs::File::create(log).expect("log file");
        let child = Command::new(binary())
            .args(["run", "--config"])
            .arg(config)
            .args(["--listen", &addr.to_string(), "--state-dir"])
            .arg(state_dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn valwatch");
        let exporter = Exporter {
            child,
            addr,
            log: log.to_path_buf(),
        };
        exporter.wait_until(Duration::from_secs(30), |e| {
            matches!(http_get(e.addr, "/healthz"), Ok((200, _)))
        });
        exporter
    }

    pub fn wait_until(&self, limit: Duration, mut done: impl FnMut(&Exporter) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < limit,
                "condition not met within {limit:?}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn metrics(&self) -> String {
        let (status, body) = http_get(self.addr, "/metrics").expect("scrape");
        assert_eq!(status, 200, "{body}");
        body
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit (at most `limit`).
    pub fn terminate(mut self, limit: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, start.elapsed());
            }
            assert!(
                start.elapsed() < limit,
                "no exit within {limit:?}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A configuration whose nodes are unreachable (a closed port on 127.0.0.1).
pub fn unreachable_config(dir: &Path) -> PathBuf {
    let closed = free_addr();
    let path = dir.join("valwatch.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[server]
save_interval_seconds = 1

[[ethereum]]
name = "eth-test"
beacon = ["http://apiuser:SECRETPASS@{closed}/", "http://{closed}/v2/SECRETKEY"]
poll_interval_seconds = 1

[[cosmos]]
name = "cosmos-test"
rpc = ["http://{closed}?token=SECRETTOKEN"]
poll_interval_seconds = 1
"#
        ),
    )
    .expect("write config");
    path
}
