//! The `hookpost` binary.

use clap::Parser;
use hookpost::cli::{Cli, Command};
use hookpost::storage::{Durability, StoreConfig};
use std::process::ExitCode;

/// mimalloc: the delivery path allocates many small buffers per request, and the
/// system allocator showed up at about 8% of the server's CPU in profiles.
/// Built with `no_thp`: huge pages kept 20 concurrent 10 MiB attachment
/// deliveries at 300 MiB of RSS for a 25 MB live heap (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let json_logs = matches!(&cli.command, Command::Serve(c) if c.log_format == "json");
    init_logging(json_logs);
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hookpost: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOOKPOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(config) => {
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
            hookpost::server::run(*config, listener, shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
        Command::Migrate {
            data_dir,
            database_url,
        } => {
            let store = StoreConfig::from_flags(&data_dir, &database_url, Durability::Full, 1)?;
            let applied = store.migrate().await.map_err(|e| e.to_string())?;
            println!("{applied} migration(s) applied");
            Ok(())
        }
        Command::Backup { data_dir, to } => {
            let pages =
                hookpost::storage::sqlite::backup(&data_dir, &to).map_err(|e| e.to_string())?;
            println!(
                "backed up {} ({pages} pages) to {}",
                data_dir.join("hookpost.db").display(),
                to.display()
            );
            Ok(())
        }
        Command::Api(command) => hookpost::commands::run(command)
            .await
            .map_err(|e| e.to_string()),
        Command::Listen(args) => hookpost::listen::run(args).await,
        Command::Openapi => {
            // A reader that stops early (`| head`) is not an error.
            use std::io::Write;
            match std::io::stdout().write_all(hookpost::api::openapi::json().as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
                _ => Ok(()),
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
