//! Limits a key may carry (its rate, burst, concurrency cap and daily quota) and rates
//! as written in settings (`20/s`, `600/m`): the stored form and its validation, and the
//! limits in force for a key under the process defaults ([`Effective`]). The limiter that
//! applies them is `auth::limits`; the rows it shares across replicas (`auth::limits::replicas`)
//! report a key's use against the same [`Effective`].

use std::fmt;

/// A rate: `N/s` or `N/m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per_minute: bool,
}

impl Rate {
    /// Parses `20/s`, `600/m` (also `/sec`, `/min`, `/second`, `/minute`).
    pub fn parse(s: &str) -> Result<Rate, String> {
        let bad = || format!("{s:?} is not a rate like 20/s or 600/m");
        let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || count > 1_000_000_000 {
            return Err(format!("{s:?}: the count must be between 1 and 1000000000"));
        }
        let per_minute = match unit.trim() {
            "s" | "sec" | "second" => false,
            "m" | "min" | "minute" => true,
            _ => return Err(bad()),
        };
        Ok(Rate { count, per_minute })
    }

    /// Tokens added per second.
    pub fn per_second(self) -> f64 {
        f64::from(self.count) / if self.per_minute { 60.0 } else { 1.0 }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.count,
            if self.per_minute { "m" } else { "s" }
        )
    }
}

/// One limit of a key: the process default, none at all, or its own value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Setting<T> {
    #[default]
    Default,
    Unlimited,
    Is(T),
}

impl<T: Copy> Setting<T> {
    /// The limit in force, given the process default.
    pub fn or(self, default: Option<T>) -> Option<T> {
        match self {
            Setting::Default => default,
            Setting::Unlimited => None,
            Setting::Is(v) => Some(v),
        }
    }
}

/// What a key sets for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyLimits {
    pub rate: Setting<Rate>,
    /// The bucket's size; by default the rate's count.
    pub burst: Option<u32>,
    pub max_concurrent: Setting<u32>,
    pub daily_calls: Setting<u64>,
}

impl KeyLimits {
    /// From the stored columns: `rate` text (`N/s`, `N/m`, `unlimited`, or NULL for the
    /// default), `burst`, `max_concurrent` and `daily_calls` (0 = unlimited, NULL =
    /// default).
    pub fn from_columns(
        rate: Option<&str>,
        burst: Option<i32>,
        max_concurrent: Option<i32>,
        daily_calls: Option<i64>,
    ) -> KeyLimits {
        KeyLimits {
            rate: match rate {
                None => Setting::Default,
                Some("unlimited") => Setting::Unlimited,
                Some(r) => Rate::parse(r).map_or(Setting::Default, Setting::Is),
            },
            burst: burst.and_then(|b| u32::try_from(b).ok()).filter(|b| *b > 0),
            max_concurrent: match max_concurrent {
                None => Setting::Default,
                Some(0) => Setting::Unlimited,
                Some(n) => u32::try_from(n).map_or(Setting::Default, Setting::Is),
            },
            daily_calls: match daily_calls {
                None => Setting::Default,
                Some(0) => Setting::Unlimited,
                Some(n) => u64::try_from(n).map_or(Setting::Default, Setting::Is),
            },
        }
    }
}

/// The process defaults for keys that set nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Defaults {
    pub rate: Option<Rate>,
    pub burst: Option<u32>,
    pub max_concurrent: Option<u32>,
}

/// Bounds on long-lived streams, per key and in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamBounds {
    pub per_key: u32,
    pub total: u32,
}

/// `METAMCP_KEY_MAX_STREAMS`' default: an IDE holds one or two; 32 leaves room for many
/// windows and tools on one key.
pub const DEFAULT_KEY_MAX_STREAMS: u32 = 32;
/// `METAMCP_MAX_STREAMS`' default.
pub const DEFAULT_MAX_STREAMS: u32 = 10_000;

impl Default for StreamBounds {
    fn default() -> StreamBounds {
        StreamBounds {
            per_key: DEFAULT_KEY_MAX_STREAMS,
            total: DEFAULT_MAX_STREAMS,
        }
    }
}

impl KeyLimits {
    /// The stored columns (see [`KeyLimits::from_columns`]).
    pub fn to_columns(&self) -> (Option<String>, Option<i32>, Option<i32>, Option<i64>) {
        let clamp_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        (
            match self.rate {
                Setting::Default => None,
                Setting::Unlimited => Some("unlimited".to_string()),
                Setting::Is(r) => Some(r.to_string()),
            },
            self.burst.map(clamp_i32),
            match self.max_concurrent {
                Setting::Default => None,
                Setting::Unlimited => Some(0),
                Setting::Is(n) => Some(clamp_i32(n)),
            },
            match self.daily_calls {
                Setting::Default => None,
                Setting::Unlimited => Some(0),
                Setting::Is(n) => Some(i64::try_from(n).unwrap_or(i64::MAX)),
            },
        )
    }
}

fn setting_json<T: fmt::Display>(s: &Setting<T>) -> serde_json::Value {
    match s {
        Setting::Default => serde_json::Value::from(DEFAULT),
        Setting::Unlimited => serde_json::Value::from(NONE),
        Setting::Is(v) => serde_json::Value::from(v.to_string()),
    }
}

impl serde::Serialize for KeyLimits {
    /// `{"rate": "20/s", "burst": 40, "max_concurrent": 8, "daily_calls": 10000}`;
    /// `"default"` where the gateway's default applies, `"none"` where the key has no
    /// limit; `burst` is `null` where it follows the rate.
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let number = |s: &Setting<u64>| match s {
            Setting::Is(n) => serde_json::Value::from(*n),
            other => setting_json(other),
        };
        serde_json::json!({
            "rate": setting_json(&self.rate),
            "burst": self.burst,
            "max_concurrent": number(&match self.max_concurrent {
                Setting::Is(n) => Setting::Is(u64::from(n)),
                Setting::Unlimited => Setting::Unlimited,
                Setting::Default => Setting::Default,
            }),
            "daily_calls": number(&self.daily_calls),
        })
        .serialize(ser)
    }
}

/// A change of limits, as `keyadm keys create|update` flags give it: each limit is left
/// alone (`None`), returned to the process default (`default`), removed (`none`, or its
/// older spelling `unlimited`) or set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitsChange {
    pub rate: Option<Setting<Rate>>,
    /// `Some(None)` clears the burst back to its default.
    pub burst: Option<Option<u32>>,
    pub max_concurrent: Option<Setting<u32>>,
    pub daily_calls: Option<Setting<u64>>,
}

impl LimitsChange {
    pub fn is_empty(&self) -> bool {
        *self == LimitsChange::default()
    }

    /// The limits after the change. A rate that is removed or returned to the default
    /// takes its burst with it, unless the change sets the burst too: a burst belongs to
    /// the key's own rate.
    pub fn applied_to(&self, current: &KeyLimits) -> KeyLimits {
        let burst = match (self.burst, self.rate) {
            (Some(b), _) => b,
            (None, Some(Setting::Default | Setting::Unlimited)) => None,
            (None, _) => current.burst,
        };
        KeyLimits {
            rate: self.rate.unwrap_or(current.rate),
            burst,
            max_concurrent: self.max_concurrent.unwrap_or(current.max_concurrent),
            daily_calls: self.daily_calls.unwrap_or(current.daily_calls),
        }
    }
}

/// The word for "no limit at all" in flags and output; `unlimited` is read as the same.
pub const NONE: &str = "none";
/// The word for "the gateway's default applies" (`METAMCP_KEY_*`).
pub const DEFAULT: &str = "default";

/// A rate setting: `none` (no limit), `default`, or a rate.
pub fn parse_rate_setting(s: &str) -> Result<Setting<Rate>, String> {
    match s.trim() {
        NONE | "unlimited" => Ok(Setting::Unlimited),
        DEFAULT => Ok(Setting::Default),
        r => Rate::parse(r)
            .map(Setting::Is)
            .map_err(|e| format!("{e}, none or default")),
    }
}

/// A count setting: `none` (no limit), `default`, or a whole number from 1 to `max`.
pub fn parse_count_setting(s: &str, max: u64) -> Result<Setting<u64>, String> {
    match s.trim() {
        NONE | "unlimited" => Ok(Setting::Unlimited),
        DEFAULT => Ok(Setting::Default),
        n => match n.parse::<u64>() {
            Ok(v) if (1..=max).contains(&v) => Ok(Setting::Is(v)),
            _ => Err(format!(
                "{s:?} is not a whole number from 1 to {max}, none or default"
            )),
        },
    }
}

impl<T: fmt::Display> Setting<T> {
    /// How a setting reads in text output: `20/s`, `none (no limit)`, or
    /// `default (<what the default is>)`, the default described by the caller.
    pub fn describe(&self, default: Option<&dyn fmt::Display>, variable: &str) -> String {
        match self {
            Setting::Is(v) => v.to_string(),
            Setting::Unlimited => format!("{NONE} (no limit)"),
            Setting::Default => match default {
                Some(d) => format!("{DEFAULT} ({d}, {variable})"),
                None => format!("{DEFAULT} (no limit: {variable} unset)"),
            },
        }
    }
}

/// The limits in force for a key's settings under the process defaults.
pub fn effective(defaults: &Defaults, l: &KeyLimits) -> Effective {
    let rate = l.rate.or(defaults.rate);
    Effective {
        rate,
        burst: rate.map(|r| l.burst.or(defaults.burst).unwrap_or(r.count)),
        max_concurrent: l.max_concurrent.or(defaults.max_concurrent),
        daily_calls: l.daily_calls.or(None),
    }
}

/// The limits in force for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effective {
    pub rate: Option<Rate>,
    pub burst: Option<u32>,
    pub max_concurrent: Option<u32>,
    pub daily_calls: Option<u64>,
}

impl Effective {
    /// Whether any limit applies (most keys: none, and nothing else is looked at).
    pub fn any(&self) -> bool {
        self.rate.is_some() || self.max_concurrent.is_some() || self.daily_calls.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print() {
        assert_eq!(
            Rate::parse("20/s"),
            Ok(Rate {
                count: 20,
                per_minute: false
            })
        );
        assert_eq!(Rate::parse(" 600 / min ").unwrap().to_string(), "600/m");
        for bad in ["", "20", "0/s", "x/s", "20/h", "-1/s", "99999999999/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        assert!((Rate::parse("60/m").unwrap().per_second() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn settings_parse_change_and_print() {
        assert_eq!(parse_rate_setting("none"), Ok(Setting::Unlimited));
        assert_eq!(parse_rate_setting("unlimited"), Ok(Setting::Unlimited));
        assert_eq!(parse_rate_setting("default"), Ok(Setting::Default));
        assert_eq!(parse_count_setting("none", 9), Ok(Setting::Unlimited));
        assert_eq!(parse_count_setting("default", 9), Ok(Setting::Default));
        assert!(parse_rate_setting("fast").is_err());
        assert_eq!(parse_count_setting("8", 100), Ok(Setting::Is(8)));
        assert!(parse_count_setting("0", 100).is_err());
        assert!(parse_count_setting("101", 100).is_err());
        let start = KeyLimits {
            rate: Setting::Is(Rate::parse("20/s").unwrap()),
            burst: Some(40),
            max_concurrent: Setting::Is(8),
            daily_calls: Setting::Default,
        };
        let change = LimitsChange {
            rate: Some(Setting::Default),
            daily_calls: Some(Setting::Is(10)),
            ..LimitsChange::default()
        };
        let after = change.applied_to(&start);
        assert_eq!(after.rate, Setting::Default);
        assert_eq!(after.burst, None, "the burst goes with the key's own rate");
        assert_eq!(after.max_concurrent, Setting::Is(8), "left alone");
        let lifted = LimitsChange {
            rate: Some(Setting::Unlimited),
            ..LimitsChange::default()
        }
        .applied_to(&start);
        assert_eq!((lifted.rate, lifted.burst), (Setting::Unlimited, None));
        let kept = LimitsChange {
            rate: Some(Setting::Default),
            burst: Some(Some(7)),
            ..LimitsChange::default()
        }
        .applied_to(&start);
        assert_eq!(kept.burst, Some(7), "a burst given with the change stays");
        let untouched = LimitsChange {
            daily_calls: Some(Setting::Unlimited),
            ..LimitsChange::default()
        }
        .applied_to(&start);
        assert_eq!(
            untouched.burst,
            Some(40),
            "a change not naming the rate keeps the burst"
        );
        assert_eq!(after.daily_calls, Setting::Is(10));
        assert_eq!(
            KeyLimits::from_columns(
                after.to_columns().0.as_deref(),
                after.to_columns().1,
                after.to_columns().2,
                after.to_columns().3
            ),
            after,
            "round trip through the columns"
        );
        let json = serde_json::to_value(start).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"rate": "20/s", "burst": 40, "max_concurrent": 8, "daily_calls": "default"})
        );
        assert!(LimitsChange::default().is_empty());
    }

    #[test]
    fn stored_columns_read_back() {
        let l = KeyLimits::from_columns(Some("20/s"), Some(40), Some(0), Some(100));
        assert_eq!(l.rate, Setting::Is(Rate::parse("20/s").unwrap()));
        assert_eq!(l.burst, Some(40));
        assert_eq!(l.max_concurrent, Setting::Unlimited);
        assert_eq!(l.daily_calls, Setting::Is(100));
        let d = KeyLimits::from_columns(Some("unlimited"), None, None, None);
        assert_eq!(d.rate, Setting::Unlimited);
        assert_eq!(d.max_concurrent, Setting::Default);
    }
}
