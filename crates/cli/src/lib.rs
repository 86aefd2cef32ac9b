//! `mailmig` — get mail out of legacy stores (MS Mail, cc:Mail, PST/OST, Exchange migration
//! files) into Maildir, mbox, EML, JSON Lines and Exchange migration files.
//!
//! Exit codes: 0 everything converted; 1 finished, but items or mailboxes were skipped;
//! 2 fatal or usage error (nothing or not everything could be attempted).
//!
//! The binary is a one-line `main` calling [`main_entry`]; the logic lives in this library so
//! the end-to-end tests in `tests/` can run the very same code as a child process.

mod formats;
mod progress;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use mailmig_convert::engine::{self, Durability, RunOptions};
use mailmig_ir::{Limits, OpenOptions, Severity};

/// Get every message out of legacy mail stores, with nothing lost and nothing hung.
#[derive(Parser, Debug)]
#[command(name = "mailmig", version, about, long_about = None)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Identify an input and report what it holds and what is wrong with it.
    Inspect {
        /// A file or directory.
        input: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Convert one post office (one or more input files of the same format).
    Convert {
        /// Input files or directories.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_parser = formats::SINK_NAMES)]
        to: String,
        /// Output directory (created; must be empty, or hold an interrupted run to resume).
        #[arg(short, long)]
        output: PathBuf,
        /// Mailboxes converted in parallel (output is identical for any value); by default
        /// one per CPU.
        #[arg(short, long, default_value_t = default_jobs())]
        jobs: usize,
        /// Write every mailbox section with no messages (folders and owners only).
        #[arg(long)]
        no_mail: bool,
        /// Code page of the output, for formats that have one (ccmail, iff, mmff).
        #[arg(long)]
        out_code_page: Option<u16>,
        /// Wall-clock budget per mailbox in seconds; a mailbox over budget is reported and
        /// skipped (0 = no budget).
        #[arg(long, default_value_t = 7200)]
        time_budget: u64,
        /// Do not flush each committed mailbox to disk: faster, above all on busy file systems.
        /// A killed run still resumes exactly; after a power failure, delete the output and
        /// run again.
        #[arg(long)]
        no_sync: bool,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Re-read an output directory with an independent parser and check it against report.json.
    Verify {
        /// Output directory of a previous `convert`.
        output: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a deterministic synthetic post office (for benchmarks and scale tests).
    Generate {
        /// Format to write.
        #[arg(long, value_parser = formats::SINK_NAMES)]
        format: String,
        /// Number of mailbox users (every tenth has no mail).
        #[arg(long, default_value_t = 10)]
        users: u32,
        /// Messages per user.
        #[arg(long, default_value_t = 20)]
        messages: u32,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Approximate body size per message in bytes.
        #[arg(long, default_value_t = 1024)]
        body_bytes: usize,
        /// Approximate size of every message in bytes: the body (at most --body-bytes) plus
        /// one file attachment of random bytes making up the rest. Without it, every fifth
        /// message carries a 4 KiB attachment.
        #[arg(long)]
        size_per_message: Option<usize>,
        /// Mailboxes written in parallel; by default one per CPU.
        #[arg(short, long, default_value_t = default_jobs())]
        jobs: usize,
        /// Output directory (must not exist or be empty).
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// Options for reading inputs.
#[derive(clap::Args, Debug, Clone)]
struct ReadArgs {
    /// Input format, overriding detection (see `mailmig inspect`).
    #[arg(long, value_parser = formats::DRIVER_NAMES)]
    from: Option<String>,
    /// Code page of 8-bit text in the input, overriding what it declares.
    #[arg(long)]
    code_page: Option<u16>,
    /// Salvage mode: accept damaged headers, skip bad records, recover orphaned messages.
    #[arg(long)]
    salvage: bool,
    /// Enable readers labelled experimental (inferred layouts).
    #[arg(long)]
    experimental: bool,
}

impl ReadArgs {
    fn open_options(&self, no_mail: bool) -> Result<OpenOptions> {
        if let Some(cp) = self.code_page
            && !mailmig_ir::codepage::is_supported(cp)
        {
            bail!("--code-page {cp}: unsupported code page");
        }
        let mut o = OpenOptions::default();
        o.code_page = self.code_page;
        o.salvage = self.salvage;
        o.no_mail = no_mail;
        o.experimental = self.experimental;
        o.limits = Limits::default();
        Ok(o)
    }
}

/// Parses the process arguments, runs the command and exits with its exit code.
pub fn main_entry() -> ! {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailmig: error: {e:#}");
            2
        }
    };
    // A mailbox abandoned at its time budget may leave a worker thread running; exiting the
    // process ends it (the engine has already discarded its partial output).
    std::process::exit(code);
}

/// The default of `-j`: one mailbox per CPU the process may use (1 if that is unknown).
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Inspect { input, json, read } => inspect(&input, json, &read),
        Command::Convert {
            inputs,
            to,
            output,
            jobs,
            no_mail,
            out_code_page,
            time_budget,
            no_sync,
            read,
        } => {
            let mut options = read.open_options(no_mail)?;
            let sink = formats::sink(&to, out_code_page)?;
            options.skip_properties = !sink.keeps_properties();
            let driver = formats::resolve_driver(&inputs, read.from.as_deref())?;
            let source = match driver.open(&inputs, &options) {
                Ok(s) => s,
                Err(mailmig_ir::SourceError::Unsupported { what, explanation }) => {
                    eprintln!("mailmig: {what}: cannot be converted.\n\n{explanation}");
                    return Ok(2);
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("opening {}", show_paths(&inputs)));
                }
            };
            let fingerprint = formats::fingerprint(
                &inputs,
                driver.name(),
                &to,
                &[
                    ("salvage", read.salvage.to_string()),
                    ("no_mail", no_mail.to_string()),
                    ("code_page", format!("{:?}", read.code_page)),
                    ("out_code_page", format!("{out_code_page:?}")),
                    ("experimental", read.experimental.to_string()),
                ],
            );
            let opts = RunOptions {
                out_dir: output.clone(),
                jobs: jobs.max(1),
                no_mail,
                mailbox_time_budget: (time_budget > 0).then(|| Duration::from_secs(time_budget)),
                inputs: inputs.clone(),
                progress: progress::reporter(),
                fingerprint,
                durability: if no_sync {
                    Durability::Relaxed
                } else {
                    Durability::Sync
                },
            };
            convert(Arc::from(source), sink, &opts)
        }
        Command::Verify { output, json } => verify(&output, json),
        Command::Generate {
            format,
            users,
            messages,
            seed,
            body_bytes,
            size_per_message,
            jobs,
            output,
        } => {
            let mut spec = mailmig_ir::synth::SynthSpec {
                users,
                messages_per_user: messages,
                seed,
                body_bytes,
                ..mailmig_ir::synth::SynthSpec::default()
            };
            if let Some(size) = size_per_message {
                spec.body_bytes = body_bytes.min(size);
                spec.attachment_bytes = size - spec.body_bytes;
                spec.attachment_every = u32::from(spec.attachment_bytes > 0);
            }
            let source: Arc<dyn mailmig_ir::Source> =
                Arc::new(mailmig_ir::synth::SynthSource::new(spec));
            let sink = formats::sink(&format, None)?;
            let opts = RunOptions {
                out_dir: output,
                jobs: jobs.max(1),
                no_mail: false,
                mailbox_time_budget: None,
                inputs: Vec::new(),
                progress: progress::reporter(),
                fingerprint: format!(
                    "mailmig {} generate format={format} users={users} messages={messages} seed={seed} body_bytes={body_bytes} size_per_message={size_per_message:?}",
                    env!("CARGO_PKG_VERSION")
                ),
                // Synthetic data is reproducible from its seed: no need to flush it.
                durability: Durability::Relaxed,
            };
            convert(source, sink, &opts)
        }
    }
}

fn convert(
    source: Arc<dyn mailmig_ir::Source>,
    sink: Arc<dyn mailmig_ir::Sink>,
    opts: &RunOptions,
) -> Result<i32> {
    let report = engine::run(source, sink, opts)
        .with_context(|| format!("converting into {}", opts.out_dir.display()))?;
    progress::finish();
    eprintln!("{}", report.summary_line());
    for line in report.problem_lines().into_iter().take(50) {
        eprintln!("  {line}");
    }
    eprintln!("report: {}", opts.out_dir.join("report.json").display());
    Ok(report.exit_code())
}

fn inspect(input: &Path, json: bool, read: &ReadArgs) -> Result<i32> {
    let options = read.open_options(false)?;
    let driver = formats::resolve_driver(
        std::slice::from_ref(&input.to_path_buf()),
        read.from.as_deref(),
    )?;
    let inspection = driver
        .inspect(input, &options)
        .with_context(|| format!("inspecting {}", input.display()))?;
    let worst = inspection.findings.iter().map(|f| f.severity).max();
    if json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        println!("{}: {}", input.display(), inspection.summary);
        println!("format driver: {}", inspection.driver);
        for f in &inspection.findings {
            let sev = match f.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Error => "ERROR",
            };
            let place = match (&f.file, f.offset) {
                (Some(file), Some(off)) => format!(" [{file} @ {off}]"),
                (Some(file), None) => format!(" [{file}]"),
                (None, Some(off)) => format!(" [@ {off}]"),
                (None, None) => String::new(),
            };
            println!("  {sev:7} {}{place}: {}", f.code, f.message);
        }
    }
    Ok(if worst == Some(Severity::Error) { 1 } else { 0 })
}

fn verify(output: &Path, json: bool) -> Result<i32> {
    let report = mailmig_convert::verify::verify_with(output, &[&formats::PstContainer])
        .with_context(|| format!("verifying {}", output.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(if report.is_ok() { 0 } else { 1 })
}

fn show_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether progress bars are drawn.
fn interactive() -> bool {
    std::io::stderr().is_terminal()
}
