//! The `permits` command: a thin CLI over the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use permits::config::{self, Environment};
use permits::domain::{Lang, graph};
use permits::services::{audit, items, seed};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Electronic certificates and sealed documents.
    Certificates {
        #[command(subcommand)]
        command: CertificatesCommand,
    },
    /// Working-day calendars.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// The spot-check draws (双随机、一公开).
    Draw {
        #[command(subcommand)]
        command: DrawCommand,
    },
    /// Scheduled jobs: run one now, or list when each last ran.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Dump the database (pg_dump, custom format) to a file, with the newest audit seal's hash
    /// beside it (`<file>.seal`): keep that hash apart from the backup.
    Backup {
        /// Where to write the dump; by default var/backups/permits-<date>-<time>.dump.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Restore a dump into a new database on the same server and check its audit log against
    /// the seal kept with it (`<file>.seal`, or --seal).
    Restore {
        file: std::path::PathBuf,
        /// The new database's name (it must not exist).
        #[arg(long)]
        into: String,
        /// The seal hash kept from the backup; by default the one in `<file>.seal`.
        #[arg(long)]
        seal: Option<String>,
    },
    /// The demo office (demo environment only).
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Drop everything in the database (filings, audit log, accounts) and make the demo year
    /// again, as on a first start. Stop the service first.
    Reset,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Run a job once, now, and print what it did (JSON).
    Run {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(permits::jobs::names()))]
        job: String,
    },
    /// When each job last ran, where, and its result.
    List,
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// Load the years of a calendar file (the format of seeds/calendars/*.toml) as an
    /// administrator would: each year replaces what is stored, open filings' deadlines are
    /// recomputed, and everything is audited.
    Load { file: std::path::PathBuf },
    /// Print a year's special days.
    Show { region: String, year: i32 },
    /// The N-th working day after a date.
    Add {
        region: String,
        from: String,
        days: u32,
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
enum CertificatesCommand {
    /// Check a downloaded document offline against the published seal key: prints valid,
    /// tampered or unknown (exit 0, 2 or 3).
    Verify {
        /// The PDF as downloaded.
        file: std::path::PathBuf,
        /// The published public key (PEM, from /.well-known/permits-seal.pem); by default this
        /// installation's own.
        #[arg(long)]
        key: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum DrawCommand {
    /// Recompute a draw from its commitment and its seal; exit non-zero naming what differs.
    Verify { id: uuid::Uuid },
    /// Declare that an inspector may not inspect a builder's works (回避), by its credit code.
    Conflict {
        username: String,
        credit_code: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every chain and check the seals; exit non-zero at the first broken link.
    Verify {
        /// A seal hash kept from an earlier verification: it must still be among the seals.
        #[arg(long)]
        seal: Option<String>,
    },
}

fn jobs(settings: config::Settings, command: JobsCommand) -> anyhow::Result<ExitCode> {
    let prepared = permits::prepare(&settings)?;
    match command {
        JobsCommand::Run { job } => {
            let (state, _) = permits::app::AppState::new(settings, prepared)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            let result = runtime
                .block_on(permits::jobs::run(&state, &job))
                .map_err(|e| anyhow::anyhow!("{job} failed: {e}"))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
        JobsCommand::List => {
            let mut conn = prepared.pool.get()?;
            for r in permits::services::job_runs::all(&mut conn)? {
                println!(
                    "{:<22} started {}  finished {}  on {}{}{}",
                    r.job,
                    r.last_started_at.format("%Y-%m-%d %H:%M:%S"),
                    r.last_finished_at
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.last_instance,
                    r.last_result.map(|v| format!("  {v}")).unwrap_or_default(),
                    r.last_error
                        .map(|e| format!("  error: {e}"))
                        .unwrap_or_default(),
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = Environment::from_env().and_then(|env| Ok((env, config::load(env)?)));
    let (env, settings) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            permits::logging::init_plain();
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let _traces = match permits::logging::init(&settings.telemetry) {
        Ok(guard) => guard,
        Err(e) => {
            permits::logging::init_plain();
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match run(cli, env, settings) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, env: Environment, settings: config::Settings) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { bind } => {
            let bind = bind.unwrap_or_else(|| settings.server.bind.clone());
            let demo = settings.demo.seed;
            let office = settings.demo.office;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            let local = tokio::task::LocalSet::new();
            let served = local.block_on(&runtime, async move {
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
                    if office {
                        println!("  and the demo office's applicants:");
                        for (user, name) in permits::services::demo::people::extra_applicants() {
                            println!("    {user:<10} {name} [applicant]");
                        }
                    }
                }
                app.run_until_stopped().await.context("serving")
            });
            // A use case still running past the shutdown timeout must not keep the process:
            // its connection closes with it and its transaction rolls back.
            runtime.shutdown_background();
            served?;
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
            let rules = items::Rules::load(&settings.rules_dir(), &settings.authority.rules)?;
            let defs = items::read_dir(&dir, &rules)?;
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
            let rules = items::Rules::load(&settings.rules_dir(), &settings.authority.rules)?;
            let defs = items::read_dir(&settings.items_dir(), &rules)?;
            let (def, _) = defs.iter().find(|(d, _)| d.code == code).with_context(|| {
                format!("no item `{code}` in {}", settings.items_dir().display())
            })?;
            let lang = Lang::parse(&lang).context("--lang is zh or en")?;
            println!("{}", graph::mermaid(def, lang));
            Ok(ExitCode::SUCCESS)
        }
        Command::Calendar { command } => calendar(&settings, command),
        Command::Certificates {
            command: CertificatesCommand::Verify { file, key },
        } => verify_certificate(&settings, &file, key.as_deref()),
        Command::Jobs { command } => jobs(settings, command),
        Command::Demo {
            command: DemoCommand::Reset,
        } => demo_reset(settings),
        Command::Backup { out } => {
            let db = permits::find_database(&settings)?;
            let file = out.unwrap_or_else(|| {
                settings.storage.var_dir.join("backups").join(format!(
                    "permits-{}.dump",
                    chrono::Utc::now().format("%Y%m%d-%H%M%S")
                ))
            });
            let made = permits::db::backup::backup(&db.url, &file)?;
            println!(
                "backup {} ({:.1} MB)",
                made.file.display(),
                made.bytes as f64 / 1e6
            );
            match &made.seal {
                Some((seq, hash)) => println!(
                    "audit seal #{seq} {hash}\n  keep this hash apart from the backup; after a restore: permits audit verify --seal {hash}"
                ),
                None => {
                    println!("no audit seal yet: the log cannot be checked against a kept seal")
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file, into, seal } => {
            let seal = match seal {
                Some(s) => Some(s),
                None => std::fs::read_to_string(permits::db::backup::seal_file(&file))
                    .ok()
                    .and_then(|t| t.split_whitespace().nth(1).map(str::to_owned)),
            };
            if let Some(s) = &seal
                && !audit::is_seal_hash(s)
            {
                anyhow::bail!("--seal {s}: a seal hash is 64 lower-case hexadecimal digits");
            }
            let db = permits::find_database(&settings)?;
            let url = permits::db::backup::restore(&db.url, &file, &into)?;
            println!("restored into {}", permits::db::discovery::masked(&url));
            let pool = permits::db::build_pool(&url, &settings.database)?;
            let mut conn = pool.get()?;
            let v = match &seal {
                Some(s) => audit::verify_kept(&mut conn, s),
                None => audit::verify(&mut conn),
            }
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            if seal.is_none() {
                println!(
                    "no kept seal: the chains were checked, not that the log is the one sealed"
                );
            }
            Ok(if v.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Draw { command } => {
            let db = permits::find_database(&settings)?;
            let pool = permits::db::build_pool(&db.url, &settings.database)?;
            let mut conn = pool.get()?;
            match command {
                DrawCommand::Verify { id } => {
                    let v = permits::services::draw::verify(&mut conn, id)
                        .map_err(|e| anyhow::anyhow!("draw {id}: {e}"))?;
                    println!("{}", serde_json::to_string_pretty(&v)?);
                    Ok(if v.ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(2)
                    })
                }
                DrawCommand::Conflict {
                    username,
                    credit_code,
                    reason,
                } => {
                    permits::services::draw::declare_conflict(
                        &mut conn,
                        chrono::Utc::now(),
                        &username,
                        &credit_code,
                        &reason,
                    )
                    .map_err(|e| anyhow::anyhow!("{username}: {e}"))?;
                    println!("{username} will not be drawn for works of {credit_code}");
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { seal },
        } => {
            if let Some(s) = &seal
                && !audit::is_seal_hash(s)
            {
                anyhow::bail!("--seal {s}: a seal hash is 64 lower-case hexadecimal digits");
            }
            let db = permits::find_database(&settings)?;
            let pool = permits::db::build_pool(&db.url, &settings.database)?;
            let mut conn = pool.get()?;
            let v = match &seal {
                Some(s) => audit::verify_kept(&mut conn, s),
                None => audit::verify(&mut conn),
            }
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(if v.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}

fn calendar(
    settings: &permits::config::Settings,
    command: CalendarCommand,
) -> anyhow::Result<ExitCode> {
    let prepared = permits::prepare(settings)?;
    let mut conn = prepared.pool.get()?;
    let region_of = |r: &str| {
        prepared.calendars.get(r).with_context(|| {
            format!(
                "no calendar `{r}` (known: {})",
                prepared.calendars.regions().join(", ")
            )
        })
    };
    match command {
        CalendarCommand::Load { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let f =
                permits::domain::calendar::RegionFile::parse(&file.display().to_string(), &text)
                    .map_err(anyhow::Error::msg)?;
            let offset = chrono::FixedOffset::east_opt(settings.authority.utc_offset_minutes * 60)
                .context("authority.utc_offset_minutes")?;
            for y in &f.years {
                let loaded = permits::services::calendars::load_year(
                    &mut conn,
                    &prepared.calendars,
                    &prepared.items,
                    &settings.authority.region,
                    None,
                    &f.region,
                    y,
                    permits::clock::truncate_micros(chrono::Utc::now()),
                    offset,
                )
                .map_err(|e| anyhow::anyhow!("{}: year {}: {e:?}", f.region, y.year))?;
                println!(
                    "loaded {} {} ({}): {} holidays, {} make-up days; {} open filings recomputed",
                    loaded.region,
                    loaded.year,
                    loaded.notice,
                    loaded.holidays,
                    loaded.workdays,
                    loaded.recomputed
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CalendarCommand::Show { region, year } => {
            let rc = region_of(&region)?;
            let notice = rc
                .calendar
                .notice(year)
                .unwrap_or("provisional: statutory holidays only");
            println!("{region} {year}: {notice}");
            for d in rc.calendar.special_days(year)? {
                let name = d.name.map(|n| n.zh).unwrap_or_default();
                println!("  {} {:<18} {}", d.date, format!("{:?}", d.kind), name);
            }
            Ok(ExitCode::SUCCESS)
        }
        CalendarCommand::Add { region, from, days } => {
            let rc = region_of(&region)?;
            let from = chrono::NaiveDate::parse_from_str(&from, "%Y-%m-%d")
                .context("from must be YYYY-MM-DD")?;
            let a = rc.calendar.add_working_days(from, days)?;
            println!(
                "{}{}",
                a.value,
                if a.provisional { " (provisional)" } else { "" }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `permits demo reset`: the schema dropped and made again, then prepared and the demo year
/// made as on a first start (see `services::demo`). Demo environment only.
fn demo_reset(settings: config::Settings) -> anyhow::Result<ExitCode> {
    if settings.env != Environment::Demo {
        anyhow::bail!(
            "permits demo reset drops every filing, account and audit entry: it runs only in the demo environment (PERMITS_ENV=demo), not in {}",
            settings.env.as_str()
        );
    }
    let db = permits::find_database(&settings)?;
    {
        let pool = permits::db::build_pool(&db.url, &settings.database)?;
        let mut conn = pool.get()?;
        permits::services::demo::drop_everything(&mut conn)
            .map_err(|e| anyhow::anyhow!("dropping the demo database's schema: {e}"))?;
    }
    println!(
        "dropped everything in {}",
        permits::db::discovery::masked(&db.url)
    );
    let mut settings = settings;
    settings.demo.seed = true;
    let prepared = permits::prepare(&settings)?;
    let (state, _) = permits::app::AppState::new(settings, prepared)?;
    match permits::demo_office(&state)? {
        Some(m) => println!(
            "demo office: {} filings, {} actions in {:.1} s (from {}; fire filings drawn {}, not drawn {})",
            m.filings,
            m.actions,
            m.seconds,
            m.from.map(|d| d.to_string()).unwrap_or_default(),
            m.selected,
            m.not_selected
        ),
        None => println!("demo office: filings exist already, nothing made"),
    }
    Ok(ExitCode::SUCCESS)
}

fn display_addr(bind: &str, port: u16) -> String {
    match bind.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => format!("{bind}:{port}"),
    }
}

/// `permits certificates verify FILE [--key PEM]`: no database, no network.
fn verify_certificate(
    settings: &permits::config::Settings,
    file: &std::path::Path,
    key: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use permits::documents::seal::{PublicSealKey, SealKey, Verdict};
    let public = match key {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading the key {}", path.display()))?;
            PublicSealKey::from_pem(&pem).with_context(|| format!("{}", path.display()))?
        }
        None if !settings.documents.key_file.trim().is_empty() => {
            let path = settings.documents.key_file.trim();
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading documents.key_file {path}"))?;
            SealKey::from_pem(&pem)
                .with_context(|| format!("documents.key_file {path}"))?
                .public()
        }
        None => {
            let path = settings.storage.var_dir.join("seal").join("sm2-public.pem");
            let pem = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "no --key given and no key at {} (download it from /.well-known/permits-seal.pem)",
                    path.display()
                )
            })?;
            PublicSealKey::from_pem(&pem).with_context(|| format!("{}", path.display()))?
        }
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    match permits::services::documents::verify_file(&bytes, &public) {
        Verdict::Valid(r) => {
            println!(
                "valid: {} {}{} (sealed by key {}, issued {})",
                r.title,
                r.number,
                r.identifier.map(|i| format!(", {i}")).unwrap_or_default(),
                r.key,
                r.issued_at
            );
            Ok(ExitCode::SUCCESS)
        }
        Verdict::Tampered(why) => {
            println!("tampered: {why}");
            Ok(ExitCode::from(2))
        }
        Verdict::Unknown(why) => {
            println!("unknown: {why}");
            Ok(ExitCode::from(3))
        }
    }
}
