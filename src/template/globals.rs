//! Ansible's extra template globals and the time/random filters that go with them.
//!
//! - `now(utc=False, fmt=None)`: the current time; with `fmt` a string (Python `strftime`
//!   codes), else a datetime-like object with `year`..`microsecond`, `strftime(fmt)`,
//!   `isoformat()` and Python's `str()` form `YYYY-MM-DD HH:MM:SS.ffffff`.
//! - `undef(hint=None)`: an undefined value (for `default(undef())` patterns).
//! - filters `strftime(fmt, second=None, utc=False)`, `random(start=0, step=1)` (an element of
//!   a sequence, or an int below the value) and `shuffle`.

use super::verbatim_error;
use chrono::{DateTime, Datelike, Local, TimeZone, Timelike, Utc};
use minijinja::value::{Kwargs, Object, Rest};
use minijinja::{Environment, Error, State, Value};
use std::sync::Arc;

/// Adds `now`, `undef` and the time/random filters to `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_function("now", now);
    env.add_function("undef", |_hint: Option<String>| Value::UNDEFINED);
    env.add_filter("strftime", strftime);
    env.add_filter("random", random);
    env.add_filter("shuffle", shuffle);
}

/// A point in time as Python's `datetime` shows it to templates.
#[derive(Debug)]
struct Now {
    local: DateTime<chrono::FixedOffset>,
}

impl Now {
    fn format(&self, fmt: &str) -> Result<String, Error> {
        use std::fmt::Write;
        let mut out = String::new();
        write!(out, "{}", self.local.format(fmt))
            .map_err(|_| verbatim_error(format!("invalid time format '{fmt}'")))?;
        Ok(out)
    }
}

impl Object for Now {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = &self.local;
        Some(Value::from(match key.as_str()? {
            "year" => t.year() as i64,
            "month" => t.month() as i64,
            "day" => t.day() as i64,
            "hour" => t.hour() as i64,
            "minute" => t.minute() as i64,
            "second" => t.second() as i64,
            "microsecond" => (t.nanosecond() / 1000) as i64,
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let fmt = args.first().and_then(|a| a.as_str()).unwrap_or_default();
                Ok(Value::from(self.format(fmt)?))
            }
            "isoformat" => Ok(Value::from(self.format("%Y-%m-%dT%H:%M:%S%.6f")?)),
            "timestamp" => Ok(Value::from(self.local.timestamp_micros() as f64 / 1e6)),
            _ => Err(Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("datetime has no method named {method}"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.local.format("%Y-%m-%d %H:%M:%S%.6f"))
    }
}

fn current(utc: bool) -> DateTime<chrono::FixedOffset> {
    if utc {
        Utc::now().fixed_offset()
    } else {
        Local::now().fixed_offset()
    }
}

fn now(kwargs: Kwargs) -> Result<Value, Error> {
    let utc = kwargs.get::<Option<bool>>("utc")?.unwrap_or(false);
    let fmt: Option<String> = kwargs.get("fmt")?;
    let t = Now {
        local: current(utc),
    };
    match fmt {
        Some(fmt) => Ok(Value::from(t.format(&fmt)?)),
        None => Ok(Value::from_object(t)),
    }
}

fn strftime(fmt: String, second: Option<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let utc = kwargs.get::<Option<bool>>("utc")?.unwrap_or(false);
    let local = match second.filter(|s| !s.is_none() && !s.is_undefined()) {
        None => current(utc),
        Some(s) => {
            let secs = f64::try_from(s.clone())
                .ok()
                .or_else(|| s.as_str().and_then(|t| t.trim().parse::<f64>().ok()))
                .ok_or_else(|| verbatim_error(format!("Invalid value for epoch value ({s})")))?;
            let whole = secs.trunc() as i64;
            let nanos = ((secs - secs.trunc()) * 1e9) as u32;
            let instant = Utc
                .timestamp_opt(whole, nanos)
                .single()
                .ok_or_else(|| verbatim_error(format!("Invalid value for epoch value ({s})")))?;
            if utc {
                instant.fixed_offset()
            } else {
                instant.with_timezone(&Local).fixed_offset()
            }
        }
    };
    Now { local }.format(&fmt)
}

/// A random number below `bound` (not cryptographic; uuid v4 draws from the OS generator).
fn random_below(bound: u64) -> u64 {
    if bound == 0 {
        return 0;
    }
    (uuid::Uuid::new_v4().as_u128() % u128::from(bound)) as u64
}

fn random(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let _: Option<Value> = kwargs.get("seed")?;
    if let Ok(end) = i64::try_from(value.clone()) {
        let start = args
            .first()
            .and_then(|v| i64::try_from(v.clone()).ok())
            .or(kwargs.get("start")?)
            .unwrap_or(0);
        let step = args
            .get(1)
            .and_then(|v| i64::try_from(v.clone()).ok())
            .or(kwargs.get("step")?)
            .unwrap_or(1);
        if step <= 0 || end <= start {
            return Err(verbatim_error("empty range for randrange()"));
        }
        let count = ((end - start) + step - 1) / step;
        return Ok(Value::from(
            start + step * random_below(count as u64) as i64,
        ));
    }
    let items: Vec<Value> = value.try_iter()?.collect();
    if items.is_empty() {
        return Err(verbatim_error("Cannot choose from an empty sequence"));
    }
    Ok(items[random_below(items.len() as u64) as usize].clone())
}

fn shuffle(value: Value) -> Result<Value, Error> {
    let mut items: Vec<Value> = value.try_iter()?.collect();
    for i in (1..items.len()).rev() {
        items.swap(i, random_below(i as u64 + 1) as usize);
    }
    Ok(Value::from(items))
}
