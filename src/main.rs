use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = trustline::cli::Cli::parse();
    match trustline::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trustline: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
