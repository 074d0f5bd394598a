//! The domain: what an event, a target, an attempt and a retry schedule are, and the
//! rules that connect them. Nothing here does I/O, so every rule is unit-tested
//! without a network or a database.

pub mod account;
pub mod attachment;
pub mod attempt;
pub mod console_token;
pub mod control;
pub mod delivery;
pub mod duration;
pub mod endpoint;
pub mod event;
pub mod event_log;
pub mod event_type;
pub mod fields;
pub mod job;
pub mod keys;
pub mod notice;
pub mod overview;
pub mod retention;
pub mod retry;
pub mod series;
pub mod settings;
pub mod subject;
pub mod target;
pub mod validate;
pub mod webhook_url;
