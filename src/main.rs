//! The `permits` command: a thin CLI over the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use permits::config::{self, Environment};
use permits::domain::{Lang, graph};
use permits::services::{audit, items, seed};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "permits",
    version,
    about = "Workflow and approval service for administrative permits"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (migrations, definitions and, in the demo, demo users first).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "PERMITS_BIND")]
        bind: Option<String>,
    },
    /// Run pending database migrations.
    Migrate,
    /// Item definitions.
    Items {
        #[command(subcommand)]
        command: ItemsCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum ItemsCommand {
    /// Check every definition file; exit non-zero naming the bad file and place.
    Check {
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Print an item's state machine as a Mermaid diagram.
    Graph {
        code: String,
        #[arg(long, default_value = "zh")]
        lang: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every chain; exit non-zero at the first broken link.
    Verify,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let env = Environment::from_env()?;
    let settings = config::load(env)?;
    match cli.command {
        Command::Serve { bind } => {
            let bind = bind.unwrap_or_else(|| settings.server.bind.clone());
            let demo = settings.demo.seed;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let app = permits::Application::build(settings, &bind)?;
                println!(
                    "permits ({}) listening on http://{}",
                    env.as_str(),
                    display_addr(&bind, app.port())
                );
                println!(
                    "  API docs: http://{}/api/docs/",
                    display_addr(&bind, app.port())
                );
                println!(
                    "  database: {}",
                    permits::db::discovery::masked(&app.database_url)
                );
                if demo {
                    println!("  demo logins (password `{}`):", seed::DEMO_PASSWORD);
                    for (user, name, _, dept, roles, _) in seed::DEMO_USERS {
                        let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                        println!(
                            "    {user:<10} {name} [{}] {}",
                            roles.join(","),
                            dept.unwrap_or("")
                        );
                    }
                }
                app.run_until_stopped().await.context("serving")
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = permits::find_database(&settings)?;
            let pool = permits::db::build_pool(&db.url, &settings.database)?;
            let mut conn = pool.get()?;
            let applied = permits::db::migrate(&mut conn)?;
            println!("{} migrations applied", applied.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Items {
            command: ItemsCommand::Check { dir },
        } => {
            let dir = dir.unwrap_or_else(|| settings.items_dir());
            let defs = items::read_dir(&dir)?;
            for (def, source) in &defs {
                println!(
                    "ok  {:<28} {} states, {} actions, digest {}",
                    def.code,
                    def.states.len(),
                    def.actions.len(),
                    &items::digest(source)[..12]
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Items {
            command: ItemsCommand::Graph { code, lang },
        } => {
            let defs = items::read_dir(&settings.items_dir())?;
            let (def, _) = defs.iter().find(|(d, _)| d.code == code).with_context(|| {
                format!("no item `{code}` in {}", settings.items_dir().display())
            })?;
            let lang = if lang == "en" { Lang::En } else { Lang::Zh };
            println!("{}", graph::mermaid(def, lang));
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let db = permits::find_database(&settings)?;
            let pool = permits::db::build_pool(&db.url, &settings.database)?;
            let mut conn = pool.get()?;
            let v = audit::verify(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(if v.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}

fn display_addr(bind: &str, port: u16) -> String {
    match bind.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => format!("{bind}:{port}"),
    }
}
