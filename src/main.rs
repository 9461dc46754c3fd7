//! `switchboard`: one binary for the API (`serve`), the workers (`work`),
//! both (`all`, the default) and administration (`admin`). The work is in
//! the library; this parses the command line and starts the runtime.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = switchboard::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(switchboard::run_cli(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
