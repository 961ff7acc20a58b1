//! Real mockmcp processes on 127.0.0.1 port 0, killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct Mock {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl Mock {
    /// Starts `mockmcp --port 0 <args>`.
    pub fn start(args: &[&str]) -> Mock {
        Self::start_on(0, args)
    }

    /// Starts on a given port (to bring a killed backend back where it was).
    pub fn start_on(port: u16, args: &[&str]) -> Mock {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mockmcp"))
            .args(["--port", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mockmcp");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("mockmcp prints its port");
        let port = line.trim().parse().expect("a port number");
        Mock {
            port,
            args: args.iter().map(|s| s.to_string()).collect(),
            child: Some(child),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        *self = Mock::start_on(self.port, &args);
    }

    pub async fn control(&self, method: &str, path: &str) -> Value {
        let addr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        super::http::request(addr, method, path, &[], None)
            .await
            .json()
    }
}

impl Mock {
    /// Has the mock send `notification` on every open GET stream.
    pub async fn announce(&self, notification: &Value) {
        let addr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        let body = notification.to_string();
        let r = super::http::request(
            addr,
            "POST",
            "/control/announce",
            &[],
            Some(body.as_bytes()),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.kill();
    }
}
