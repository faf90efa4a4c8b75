//! The `prova` command.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

/// mimalloc: the API allocates per request, and the system allocator showed up in its profile under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = prova_cli::Cli::command().get_matches();
    let cli = prova_cli::Cli::from_arg_matches(&matches)
        .unwrap_or_else(|error| error.format(&mut prova_cli::Cli::command()).exit());
    // Where the command was pointed, to name an endpoint it cannot reach (redacted) in the error.
    let endpoints = prova_cli::explain::Endpoints::of(&matches);
    prova_cli::init_tracing(cli.log_json);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(prova_cli::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            // Whatever the command printed comes first, each line ended, then the cause and the fix.
            let _ = std::io::stdout().flush();
            let explanation = runtime.block_on(prova_cli::explain::explain(&error, &endpoints));
            eprintln!("{explanation}");
            ExitCode::from(2)
        }
    }
}
