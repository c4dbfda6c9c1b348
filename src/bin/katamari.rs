//! `katamari`: a command-line tool over a data directory.

use std::process::ExitCode;

use katamari::{Db, Options};

const USAGE: &str = "usage: katamari <dir> get <key> | put <key> <value> | delete <key> | stats";

fn run(args: &[String]) -> Result<(), String> {
    let [dir, cmd, rest @ ..] = args else {
        return Err(USAGE.into());
    };
    let db = Db::open(dir, Options::default().create_if_missing(cmd == "put"))
        .map_err(|e| format!("cannot open {dir}: {e}"))?;
    match (cmd.as_str(), rest) {
        ("get", [key]) => match db.get(key.as_bytes()).map_err(|e| e.to_string())? {
            Some(v) => println!("{}", String::from_utf8_lossy(&v)),
            None => return Err(format!("{key}: not found")),
        },
        ("put", [key, value]) => db
            .put(key.as_bytes(), value.as_bytes())
            .map_err(|e| e.to_string())?,
        ("delete", [key]) => db.delete(key.as_bytes()).map_err(|e| e.to_string())?,
        ("stats", []) => println!("{:#?}", db.stats().map_err(|e| e.to_string())?),
        _ => return Err(USAGE.into()),
    }
    db.close().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("katamari: {e}");
            ExitCode::FAILURE
        }
    }
}
