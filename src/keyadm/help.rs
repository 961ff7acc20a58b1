//! `keyadm COMMAND --help`: the part of keyadm's help that speaks of one command (its
//! lines of the command list, and the flag tables it takes), cut from the one help text
//! so the two cannot disagree.

use super::args::HELP;

/// The flag tables of the help's end, and the commands that take them.
const TABLES: [(&str, &[&str]); 2] = [("LIMITS", &["keys"]), ("NAMESPACE FLAGS", &["namespaces"])];

/// The help of `topic` (a command's first word: `keys`, `servers`, `registry`, …), or
/// `None` when no command starts with it.
pub fn help_for(topic: &str) -> Option<String> {
    let lines = command_lines(topic);
    if lines.is_empty() {
        return None;
    }
    let mut out = format!(
        "keyadm {topic} — one part of keyadm's help (all of it: keyadm --help)\n\n\
         usage: keyadm [--database-url URL] [--data-dir DIR] [--config FILE] {topic} …\n\n"
    );
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    for (title, takers) in TABLES {
        if takers.contains(&topic)
            && let Some(table) = table(title)
        {
            out.push('\n');
            out.push_str(&table);
        }
    }
    Some(out.trim_end().to_string())
}

#[cfg(test)]
/// The first words of the commands the help lists (`keys`, `audit`, `servers`, …), in
/// its order, once each.
pub fn topics() -> Vec<&'static str> {
    let mut topics: Vec<&str> = Vec::new();
    for line in commands() {
        if let Some(word) = command_word(line)
            && !topics.contains(&word)
        {
            topics.push(word);
        }
    }
    topics
}

/// The command list's lines (between `commands:` and the first blank line).
fn commands() -> impl Iterator<Item = &'static str> {
    HELP.lines()
        .skip_while(|l| *l != "commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
}

/// The word a command line starts with: a line indented by two spaces (deeper ones
/// continue the command above).
fn command_word(line: &'static str) -> Option<&'static str> {
    let rest = line.strip_prefix("  ")?;
    if rest.starts_with(' ') {
        return None;
    }
    rest.split_whitespace().next()
}

/// The lines of the commands starting with `topic`, each with its continuation.
fn command_lines(topic: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut taking = false;
    for line in commands() {
        if let Some(word) = command_word(line) {
            taking = word == topic;
        }
        if taking {
            out.push(line);
        }
    }
    out
}

/// A flag table of the help's end: its title line and the lines up to a blank one.
fn table(title: &str) -> Option<String> {
    let mut lines = HELP.lines().skip_while(|l| !l.starts_with(title));
    let head = lines.next()?;
    let mut out = format!("{head}\n");
    for line in lines.take_while(|l| !l.trim().is_empty()) {
        out.push_str(line);
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commands_help_is_its_lines_and_its_tables_only() {
        let keys = help_for("keys").unwrap();
        assert!(keys.contains("keys create --name NAME"), "{keys}");
        assert!(keys.contains("keys usage ID"), "{keys}");
        assert!(keys.contains("--max-concurrent N"), "{keys}");
        assert!(!keys.contains("servers import"), "{keys}");
        assert!(!keys.contains("--tool-prefix"), "{keys}");
        assert!(keys.lines().count() < 40, "{keys}");

        let ns = help_for("namespaces").unwrap();
        assert!(ns.contains("namespaces add NAME") && ns.contains("--tools-default"));
        assert!(!ns.contains("--daily-calls"), "{ns}");

        // A continuation line comes with its command.
        let registry = help_for("registry").unwrap();
        assert!(registry.contains("--allow-private:"), "{registry}");
        assert_eq!(help_for("frobnicate"), None);
    }

    #[test]
    fn every_command_has_a_help_of_its_own() {
        let topics = topics();
        for word in [
            "keys",
            "audit",
            "servers",
            "namespaces",
            "policies",
            "connections",
            "client-config",
            "oauth",
            "reviews",
            "registry",
            "migrate",
            "status",
        ] {
            assert!(topics.contains(&word), "{word} missing from {topics:?}");
            assert!(help_for(word).is_some(), "{word}");
        }
    }

    /// docs/reference/cli.md names every command `keyadm --help` lists: each command's
    /// first two words (`oauth block`, `reviews approve`) stand on one of its `keyadm`
    /// lines.
    #[test]
    fn the_cli_reference_lists_every_command_of_the_help() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/reference/cli.md"
        ))
        .unwrap();
        let doc_lines: Vec<&str> = doc.lines().filter(|l| l.starts_with("keyadm ")).collect();
        let mut missing = Vec::new();
        for line in commands() {
            let Some(group) = command_word(line) else {
                continue;
            };
            // `a | b` on one line lists two commands (an alternative of flags is not one).
            for part in line.trim_start().split(" | ") {
                let mut words = part.split_whitespace();
                if words.next() != Some(group) {
                    continue;
                }
                let sub = words
                    .next()
                    .filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
                let found = doc_lines.iter().any(|d| {
                    d.split_whitespace().nth(1) == Some(group)
                        && sub.is_none_or(|s| d.split_whitespace().any(|x| x == s))
                });
                if !found {
                    missing.push(format!("{group} {}", sub.unwrap_or("")));
                }
            }
        }
        assert!(missing.is_empty(), "cli.md lacks: {missing:?}");
    }
}
