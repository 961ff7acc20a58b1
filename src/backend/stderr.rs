//! A stdio child's stderr: each line logged (cut to a length, at most so many a second),
//! and its last few lines kept, so that a child that dies says why where an operator
//! looks first (the server's `last_error`), not only in the gateway's log.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Longest stderr line logged (the rest is cut), and lines logged per second at most.
const MAX_LOG_LINE: usize = 2048;
const LOG_LINES_PER_SEC: u32 = 50;
/// Lines kept for the server's `last_error`, and how much of each.
const KEPT_LINES: usize = 4;
const MAX_KEPT_LINE: usize = 300;

/// A child's last stderr lines (and the first that names an error: Node.js prints its
/// error first and a stack after it), and the task that reads them.
#[derive(Default)]
pub struct Stderr {
    last: Mutex<VecDeque<String>>,
    first_error: Mutex<Option<String>>,
    reader: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Stderr {
    /// Reads `stderr` until it ends (the child and its group are gone): every line
    /// logged under `name`, the last ones kept.
    pub fn read(self: &std::sync::Arc<Self>, name: String, stderr: tokio::process::ChildStderr) {
        let me = self.clone();
        let task = tokio::spawn(async move { me.log(name, stderr).await });
        *self.reader.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// The last lines, once the stream has ended (at most `wait` for that), as one
    /// line: `«…» «…»`; empty when it wrote none.
    pub async fn last_lines(&self, wait: Duration) -> String {
        let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(r) = reader {
            let _ = tokio::time::timeout(wait, r).await;
        }
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        let mut shown: Vec<String> = Vec::with_capacity(KEPT_LINES + 2);
        if let Some(f) = first.as_ref().filter(|f| !last.contains(f)) {
            shown.push(format!("«{f}»"));
            shown.push("…".into());
        }
        shown.extend(last.iter().map(|l| format!("«{l}»")));
        shown.join(" ")
    }

    fn keep(&self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let cut = match line.char_indices().nth(MAX_KEPT_LINE) {
            Some((i, _)) => format!("{}…", &line[..i]),
            None => line.to_string(),
        };
        {
            let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
            if first.is_none() && cut.to_ascii_lowercase().contains("error") {
                *first = Some(cut.clone());
            }
        }
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.len() == KEPT_LINES {
            last.pop_front();
        }
        last.push_back(cut);
    }

    async fn log(&self, name: String, stderr: tokio::process::ChildStderr) {
        let mut reader = BufReader::new(stderr);
        let mut line = Vec::new();
        let mut window = tokio::time::Instant::now();
        let mut logged = 0u32;
        let mut dropped = 0u64;
        loop {
            line.clear();
            match (&mut reader)
                .take(MAX_LOG_LINE as u64 * 4)
                .read_until(b'\n', &mut line)
                .await
            {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line[..line.len().min(MAX_LOG_LINE)]);
            self.keep(&text);
            if window.elapsed() >= Duration::from_secs(1) {
                if dropped > 0 {
                    tracing::warn!(backend = %name, dropped, "server stderr lines not logged (rate limit)");
                }
                window = tokio::time::Instant::now();
                logged = 0;
                dropped = 0;
            }
            if logged >= LOG_LINES_PER_SEC {
                dropped += 1;
                continue;
            }
            logged += 1;
            tracing::info!(backend = %name, "stderr: {}", text.trim_end());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_lines_are_kept_cut_and_in_order_after_the_first_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let s = Stderr::default();
        for i in 0..6 {
            s.keep(&format!("line {i}\n"));
        }
        s.keep("   ");
        s.keep(&"x".repeat(1000));
        let last = rt.block_on(s.last_lines(Duration::ZERO));
        assert!(
            last.starts_with("«line 2» «line 3» «line 4» «line 5»")
                || last.starts_with("«line 3» «line 4» «line 5» «xxx"),
            "{last}"
        );
        assert!(last.ends_with("…»") && last.len() < 400, "{last}");
        s.keep("TypeError: the first error");
        for i in 0..4 {
            s.keep(&format!("at frame {i}"));
        }
        let last = rt.block_on(s.last_lines(Duration::ZERO));
        assert_eq!(
            last,
            "«TypeError: the first error» … «at frame 0» «at frame 1» «at frame 2» «at frame 3»"
        );
    }
}
