//! The words people and tool authors use for one action or thing, in groups. A query's
//! word also looks for the other words of its group, at a lower weight than its own:
//! "remove a folder" finds `delete_directory`, "fetch the page" finds `navigate`. The
//! groups are about the kinds of mismatch between how a need is said and how a tool is
//! named, not about any one phrasing.

/// Weight of a word reached through its group, against 1.0 for the word itself.
pub const RELATED: f32 = 0.3;

const GROUPS: &[&[&str]] = &[
    &[
        "delete", "remove", "erase", "drop", "destroy", "rm", "unlink", "purge", "trash",
    ],
    &[
        "create", "make", "new", "add", "insert", "generate", "init", "open", "start",
    ],
    &[
        "list",
        "show",
        "enumerate",
        "ls",
        "browse",
        "view",
        "display",
        "overview",
    ],
    &[
        "get", "fetch", "retrieve", "read", "obtain", "load", "download", "pull", "cat",
    ],
    &[
        "search", "find", "look", "lookup", "query", "locate", "discover", "grep",
    ],
    &[
        "update", "edit", "modify", "change", "alter", "patch", "set", "rename", "replace",
    ],
    &["write", "save", "store", "put", "upload", "persist"],
    &["send", "post", "publish", "notify", "message", "tell"],
    &[
        "run", "execute", "exec", "invoke", "launch", "trigger", "perform",
    ],
    &[
        "stop",
        "kill",
        "terminate",
        "halt",
        "cancel",
        "abort",
        "close",
    ],
    &["file", "document", "doc"],
    &["directory", "folder", "dir"],
    &["repository", "repo", "project", "codebase"],
    &["issue", "ticket", "bug", "task"],
    &["pull", "pr", "merge"],
    &["comment", "reply", "note", "annotate"],
    &["page", "website", "site", "url", "web", "webpage", "link"],
    &["navigate", "visit", "goto", "browse", "go"],
    &["screenshot", "capture", "snapshot", "screen"],
    &["click", "press", "tap"],
    &["type", "fill", "enter", "input"],
    &["time", "clock", "hour", "date", "now"],
    &["timezone", "zone", "tz"],
    &["convert", "translate", "transform"],
    &["database", "db", "sql", "table"],
    &["row", "record", "entry"],
    &["user", "member", "person", "people", "account"],
    &["image", "picture", "photo"],
    &["diff", "difference", "compare", "change"],
    &["log", "history"],
    &["commit", "checkin"],
    &["error", "failure", "exception", "problem"],
    &["weather", "forecast", "temperature"],
    &["calendar", "event", "meet", "schedule"],
    &["email", "mail", "inbox"],
    &["container", "pod", "docker"],
    &["memory", "remember", "recall", "knowledge"],
    &["paper", "article", "publication"],
    &["summary", "summarize", "summarise"],
    &["count", "number", "total"],
    &["move", "mv", "relocate"],
    &["copy", "duplicate", "clone", "cp"],
    &["size", "length", "big"],
];

/// The other words of the groups `word` (folded) is in.
pub fn related(word: &str) -> impl Iterator<Item = &'static str> + '_ {
    GROUPS
        .iter()
        .filter(move |g| g.contains(&word))
        .flat_map(|g| g.iter().copied())
        .filter(move |w| *w != word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_reaches_its_group_and_not_itself() {
        let r: Vec<_> = related("remove").collect();
        assert!(r.contains(&"delete") && !r.contains(&"remove"), "{r:?}");
        assert_eq!(related("xyzzy").count(), 0);
        // Every group's words are folded already (as the index's words are).
        for g in GROUPS {
            for w in *g {
                assert_eq!(super::super::text::fold(w), *w, "{w}");
            }
        }
    }
}
