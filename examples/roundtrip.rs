//! The Rust side of the cross-language round trip (`scripts/roundtrip.sh`,
//! `tests/vectors/README.md`):
//!
//! ```text
//! cargo run --release --example roundtrip -- write <dir> [dataset.json]
//! cargo run --release --example roundtrip -- read  <dir> [dataset.json]
//! cargo run --release --example roundtrip -- lines [dataset.json]
//! ```
//!
//! `write` stores the dataset in a fresh directory plus `writer` = `rust`; `read` checks
//! that a directory written by any language holds exactly the dataset and prints
//! `rust reader: ok (written by <language>)`; `lines` prints the dataset in the line
//! format the C round-trip program (`tests/vectors/roundtrip.c`) reads. The dataset
//! defaults to `tests/vectors/dataset.json`.

#[path = "../tests/vectors/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use support::Dataset;

fn usage() -> ExitCode {
    eprintln!(
        "usage: roundtrip write|read <dir> [dataset.json]\n       roundtrip lines [dataset.json]"
    );
    ExitCode::from(2)
}

fn dataset_path(arg: Option<&String>) -> PathBuf {
    arg.map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/dataset.json"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("write") if (2..=3).contains(&args.len()) => {
            let ds = Dataset::load(&dataset_path(args.get(2)));
            support::write_dataset(Path::new(&args[1]), &ds, "rust").map(|()| {
                format!(
                    "rust writer: wrote {} entries to {}",
                    ds.entries.len(),
                    args[1]
                )
            })
        }
        Some("read") if (2..=3).contains(&args.len()) => {
            let ds = Dataset::load(&dataset_path(args.get(2)));
            support::verify_dataset(Path::new(&args[1]), &ds)
                .map(|writer| format!("rust reader: ok (written by {writer})"))
        }
        Some("lines") if args.len() <= 2 => {
            print!("{}", Dataset::load(&dataset_path(args.get(1))).to_lines());
            return ExitCode::SUCCESS;
        }
        _ => return usage(),
    };
    match result {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("roundtrip (rust): {e}");
            ExitCode::FAILURE
        }
    }
}
