//! Where settings come from: the process environment, a map (tests), a TOML file whose
//! keys are the variable names, and layers of them (flags over environment over file).

use std::collections::HashMap;
use std::path::Path;

use super::values::{ConfigError, ConfigErrors};
use super::{CONFIG_FILE, file_may_set};

/// Where settings come from.
pub trait Source {
    /// The raw value of `key`, if set. A value that is not UTF-8 is `Some(Err)`.
    fn get(&self, key: &str) -> Option<Result<String, String>>;
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        std::env::var_os(key).map(|v| {
            v.into_string()
                .map_err(|_| "value is not valid UTF-8".to_string())
        })
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        HashMap::get(self, key).cloned().map(Ok)
    }
}

impl<S: Source + ?Sized> Source for &S {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        (**self).get(key)
    }
}

/// `first` wins over `second`: flags over environment over file.
pub struct Layered<A, B>(pub A, pub B);

impl<A: Source, B: Source> Source for Layered<A, B> {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        self.0.get(key).or_else(|| self.1.get(key))
    }
}

/// Settings read from a TOML file: a flat table whose keys are the variable names.
#[derive(Debug, Default)]
pub struct TomlFile(HashMap<String, String>);

impl TomlFile {
    /// Reads and checks the file; unknown keys and non-scalar values are errors.
    pub fn load(path: &Path) -> Result<TomlFile, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::of(CONFIG_FILE, format!("cannot read {}: {e}", path.display()))
        })?;
        Self::parse(&text).map_err(|errs| {
            ConfigErrors(
                errs.0
                    .into_iter()
                    .map(|e| ConfigError {
                        key: format!("{}:{}", path.display(), e.key),
                        message: e.message,
                    })
                    .collect(),
            )
        })
    }

    /// Parses TOML text (see [`TomlFile::load`]).
    pub fn parse(text: &str) -> Result<TomlFile, ConfigErrors> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigErrors::of("toml", e.message().to_string()))?;
        let mut errors = Vec::new();
        let mut values = HashMap::new();
        for (key, value) in table {
            if !file_may_set(&key) {
                errors.push(ConfigError::new(&key, "unknown setting"));
                continue;
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => {
                    let mut parts = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            toml::Value::String(s) => parts.push(s),
                            _ => {
                                errors.push(ConfigError::new(&key, "array items must be strings"));
                                break;
                            }
                        }
                    }
                    parts.join(",")
                }
                _ => {
                    errors.push(ConfigError::new(&key, "must be a string, number or array"));
                    continue;
                }
            };
            values.insert(key, text);
        }
        if errors.is_empty() {
            Ok(TomlFile(values))
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

impl Source for TomlFile {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        self.0.get(key).cloned().map(Ok)
    }
}
