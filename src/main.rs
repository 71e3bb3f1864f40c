//! The standalone `stoker` server: `stoker serve` serves the HTTP API and runs workspaces with
//! the built-in job types until SIGINT or SIGTERM, then shuts down gracefully; `stoker migrate` brings a workspace's
//! storage to the current schema. See `stoker --help`.

mod cli;

fn main() -> anyhow::Result<()> {
    cli::main()
}
