//! Katamari side by side with the embedded stores a user would pick instead.
//!
//! `cargo run --release` runs every workload against every store, three repetitions,
//! each store and repetition in its own child process (so peak RSS is per store), and
//! regenerates the table in `docs/BENCHMARKS.md` and the plots in `docs/benchmarks/`.
//! `--help` lists the options.

mod report;
mod stores;
mod workloads;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use workloads::Params;

const USAGE: &str = "\
usage: katamari-peers [options]

  --quick              smaller sizes (100k keys, 20 MB large values), 1 repetition;
                       writes to target/quick/ unless --out is given
  --reps N             repetitions (default 3; figures are medians)
  --keys N             keys in the small-value database (default 1,000,000)
  --stores a,b         stores to run (default: all of katamari,lmdb,sqlite,rocksdb,redb,fjall,sled)
  --workloads x,y      workloads (default: all of fill,read,scan,overwrite,open,durable,
                       value4k,value1m; sizes, open time and memory come with them)
  --out FILE           markdown file to update between its marker comments
                       (default ../../docs/BENCHMARKS.md)
  --plots DIR          directory for the SVG plots (default: benchmarks/ beside --out)
  --data-dir DIR       where the databases go (default: the system temp dir; must be on disk)
  --no-limits          skip the machine's physical limits (hash map, pread, fdatasync)
";

struct Args {
    params: Params,
    reps: u32,
    stores: Vec<String>,
    workloads: HashSet<String>,
    out: Option<PathBuf>,
    plots: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    quick: bool,
    limits: bool,
    child: Option<(String, u32)>,
    /// The options as given, for the reproduce line.
    given: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let quick = raw.iter().any(|a| a == "--quick");
    let mut a = Args {
        params: if quick {
            Params::quick()
        } else {
            Params::full()
        },
        reps: if quick { 1 } else { 3 },
        stores: stores::ALL
            .iter()
            .filter(|s| cfg!(feature = "rocksdb") || **s != "rocksdb")
            .map(|s| s.to_string())
            .collect(),
        workloads: workloads::WORKLOADS.iter().map(|s| s.to_string()).collect(),
        out: None,
        plots: None,
        data_dir: None,
        quick,
        limits: true,
        child: None,
        given: Vec::new(),
    };
    a.given = raw.clone();
    let mut it = raw.into_iter();
    let list = |s: String| -> Vec<String> {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<String> {
            it.next().with_context(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => {}
            "--no-limits" => a.limits = false,
            "--reps" => a.reps = value("--reps")?.parse()?,
            "--keys" => a.params.keys = value("--keys")?.parse()?,
            "--stores" => {
                a.stores = list(value("--stores")?);
                for s in &a.stores {
                    if !stores::ALL.contains(&s.as_str()) && s != "limits" {
                        bail!("unknown store {s:?}; known: {}", stores::ALL.join(","));
                    }
                }
            }
            "--workloads" => {
                a.workloads = list(value("--workloads")?).into_iter().collect();
                for w in &a.workloads {
                    if !workloads::WORKLOADS.contains(&w.as_str()) {
                        bail!(
                            "unknown workload {w:?}; known: {}",
                            workloads::WORKLOADS.join(",")
                        );
                    }
                }
            }
            "--out" => a.out = Some(value("--out")?.into()),
            "--plots" => a.plots = Some(value("--plots")?.into()),
            "--data-dir" => a.data_dir = Some(value("--data-dir")?.into()),
            "--child" => {
                let store = value("--child")?;
                let rep = value("--child")?.parse()?;
                a.child = Some((store, rep));
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    Ok(a)
}

/// Options to hand a child so it runs with the same settings.
fn child_args(a: &Args, root: &Path) -> Vec<String> {
    let mut v = Vec::new();
    if a.quick {
        v.push("--quick".into());
    }
    v.push("--keys".into());
    v.push(a.params.keys.to_string());
    v.push("--workloads".into());
    v.push(a.workloads.iter().cloned().collect::<Vec<_>>().join(","));
    v.push("--data-dir".into());
    v.push(root.display().to_string());
    v
}

const TMPFS_MAGIC: i64 = 0x0102_1994;

fn on_tmpfs(p: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we pass; the path is NUL-terminated.
    unsafe {
        let mut s: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut s) == 0 && s.f_type as i64 == TMPFS_MAGIC
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if let Some((store, rep)) = &args.child {
        let root = args.data_dir.clone().context("a child needs --data-dir")?;
        if store == "limits" {
            return workloads::run_limits(&args.params, &root);
        }
        return workloads::run_child(store, *rep, &args.params, &args.workloads, &root);
    }

    let base = args.data_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    if on_tmpfs(&base) {
        bail!(
            "{} is on tmpfs: pass --data-dir with a directory on disk",
            base.display()
        );
    }
    let root = base.join(format!("katamari-peers-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = args.out.clone().unwrap_or_else(|| {
        if args.quick {
            manifest.join("target/quick/BENCHMARKS.md")
        } else {
            manifest.join("../../docs/BENCHMARKS.md")
        }
    });
    let plots = args
        .plots
        .clone()
        .unwrap_or_else(|| out.parent().unwrap_or(Path::new(".")).join("benchmarks"));

    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let mut results: report::Results = BTreeMap::new();
    let mut jobs: Vec<(String, u32)> = Vec::new();
    if args.limits {
        jobs.push(("limits".into(), 0));
    }
    for rep in 0..args.reps {
        for s in &args.stores {
            jobs.push((s.clone(), rep));
        }
    }
    eprintln!(
        "katamari-peers: {} keys, {} repetition(s), stores {}, data in {}",
        args.params.keys,
        args.reps,
        args.stores.join(","),
        root.display()
    );
    for (store, rep) in &jobs {
        eprintln!(
            "[{:>6.1}s] {store}, repetition {}",
            started.elapsed().as_secs_f64(),
            rep + 1
        );
        let output = Command::new(&exe)
            .args(child_args(&args, &root))
            .args(["--child", store, &rep.to_string()])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running the {store} child"))?;
        if !output.status.success() {
            let _ = std::fs::remove_dir_all(&root);
            bail!("the {store} child failed ({})", output.status);
        }
        let m = results.entry(store.clone()).or_default();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut f = line.split_whitespace();
            if let (Some("R"), Some(metric), Some(v)) = (f.next(), f.next(), f.next()) {
                m.entry(metric.to_string()).or_default().push(v.parse()?);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    let wall = started.elapsed();
    eprintln!("all runs done in {:.1}s", wall.as_secs_f64());

    let run = report::Run {
        params: &args.params,
        reps: args.reps,
        stores: &args.stores,
        results: &results,
        wall,
        command: reproduce_command(&args.given),
        data_dir: base,
    };
    report::write(&run, &out, &plots)?;
    eprintln!("wrote {} and plots in {}", out.display(), plots.display());
    Ok(())
}

fn reproduce_command(given: &[String]) -> String {
    let mut cmd = String::from("cd bench/peers && cargo run --release");
    if !given.is_empty() {
        cmd.push_str(" -- ");
        cmd.push_str(&given.join(" "));
    }
    cmd
}
