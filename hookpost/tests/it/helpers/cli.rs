//! The real `hookpost` binary run as a shell user would, against a test server.

use super::server::TestServer;
use std::process::{Command, Output};

/// Runs `hookpost ARGS` with `HOOKPOST_URL` pointing at `server` and only the
/// tokens of `env` in its environment (none inherited from the test's).
pub fn run_cli(server: &TestServer, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookpost"));
    command
        .args(args)
        .env("HOOKPOST_URL", &server.url)
        .env_remove("HOOKPOST_TOKEN")
        .env_remove("HOOKPOST_ADMIN_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run hookpost")
}
