//! The words and flags of one keyadm command line (after the settings flags), for the
//! command groups with parsers of their own, and the `K=V` pairs of repeated flags.

use serde_json::{Map, Value};

use crate::cli::UsageError;

/// Flags and words of one command line (after the settings flags).
pub(super) struct Line<'a> {
    pub(super) words: Vec<&'a str>,
    pub(super) flags: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> Line<'a> {
    pub(super) fn read(
        args: &'a [String],
        switches: &[&str],
        valued: &[&str],
    ) -> Result<Line<'a>, UsageError> {
        let mut line = Line {
            words: Vec::new(),
            flags: Vec::new(),
        };
        let mut i = 0;
        while i < args.len() {
            let a = args[i].as_str();
            if a == "--json" {
            } else if switches.contains(&a) {
                line.flags.push((a, None));
            } else if valued.contains(&a) {
                let v = args
                    .get(i + 1)
                    .ok_or_else(|| UsageError(format!("{a} needs a value")))?;
                line.flags.push((a, Some(v.as_str())));
                i += 1;
            } else if a.starts_with('-') && a.len() > 1 {
                return Err(UsageError(format!("unknown flag {a} for this command")));
            } else {
                line.words.push(a);
            }
            i += 1;
        }
        Ok(line)
    }

    pub(super) fn has(&self, f: &str) -> bool {
        self.flags.iter().any(|(n, _)| *n == f)
    }

    pub(super) fn all(&self, f: &str) -> Vec<&'a str> {
        self.flags
            .iter()
            .filter(|(n, _)| *n == f)
            .filter_map(|(_, v)| *v)
            .collect()
    }

    pub(super) fn at_most_one(&self, f: &str) -> Result<Option<&'a str>, UsageError> {
        match self.all(f).as_slice() {
            [] => Ok(None),
            [v] => Ok(Some(v)),
            _ => Err(UsageError(format!("{f} given more than once"))),
        }
    }
}

/// `K=V` pairs of a repeated flag (`--env`, `--header`, which also takes `K: V`).
pub(super) fn pairs(flag: &str, values: &[&str]) -> Result<Map<String, Value>, UsageError> {
    let mut out = Map::new();
    for v in values {
        let (k, val) = v
            .split_once('=')
            .or_else(|| (flag == "--header").then(|| v.split_once(':')).flatten())
            .ok_or_else(|| UsageError(format!("{flag} takes NAME=VALUE, not {v:?}")))?;
        out.insert(
            k.trim().to_string(),
            Value::String(val.trim_start().to_string()),
        );
    }
    Ok(out)
}
