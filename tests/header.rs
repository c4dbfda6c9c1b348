//! The committed C header must equal a fresh cbindgen run, and every C export must run
//! inside the panic boundary.

use std::fs;
use std::path::Path;

#[test]
fn committed_header_matches_a_fresh_generation() {
    let fresh = fs::read_to_string(env!("KATAMARI_GENERATED_HEADER")).unwrap();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/katamari.h");
    let committed = fs::read_to_string(committed).unwrap_or_default();
    assert!(
        fresh == committed,
        "include/katamari.h is stale: run `make header` and commit the result"
    );
}

/// The names of the functions a header declares.
fn declared_functions(header: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in header.lines() {
        let line = line.trim_start();
        if line.starts_with('*') || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        if let Some(open) = line.find('(') {
            if let Some(name) = line[..open].rsplit([' ', '*']).next() {
                if name.starts_with("kat_") {
                    names.push(name.to_string());
                }
            }
        }
    }
    names
}

#[test]
fn every_export_runs_inside_the_panic_boundary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
    let mut exports = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let src = fs::read_to_string(&path).unwrap();
        let mut rest = src.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            rest = &rest[at + "extern \"C\" fn ".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // The body starts at the first `{` after the signature.
            let body = &rest[rest.find('{').expect("function body")..];
            let first = body[1..].trim_start();
            // An `unsafe {` block may wrap the boundary call (it takes raw pointers).
            let first = first.strip_prefix("// SAFETY:").map_or(first, |s| {
                s.split_once('\n')
                    .map_or("", |(_, after)| after)
                    .trim_start()
            });
            let first = first
                .strip_prefix("unsafe {")
                .map_or(first, |s| s.trim_start());
            let guarded = ["boundary(", "boundary_void(", "boundary_value("]
                .iter()
                .any(|b| first.starts_with(b));
            assert!(
                guarded,
                "{}: `{name}` does not start with a panic boundary",
                path.display()
            );
            exports.push(name);
        }
    }
    // Every function the header declares is one of the checked exports, and vice versa.
    let header = fs::read_to_string(env!("KATAMARI_GENERATED_HEADER")).unwrap();
    let mut declared = declared_functions(&header);
    declared.sort();
    exports.sort();
    assert_eq!(declared, exports);
    assert!(exports.len() >= 25, "found only {} exports", exports.len());
}
