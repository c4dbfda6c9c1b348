//! Keys and values in and out of the command line: hex decoding, escaping for text
//! output, and the JSON form of byte strings.

use std::fmt::Write;

use serde_json::Value;

use crate::error::{CliError, CliResult};

/// The bytes of argument `arg` (named `what` in errors): its UTF-8 bytes, or with `hex`
/// the bytes its hexadecimal digits spell.
pub fn from_arg(arg: &str, hex: bool, what: &str) -> CliResult<Vec<u8>> {
    if hex {
        hex::decode(arg).map_err(|e| {
            CliError::usage(format!("{what} {arg:?}"), format!("not hexadecimal: {e}"))
        })
    } else {
        Ok(arg.as_bytes().to_vec())
    }
}

/// `bytes` as one line of text: printable ASCII as itself, backslash as `\\`, tab,
/// newline and carriage return as `\t`, `\n`, `\r`, every other byte as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

/// `bytes` for text output: hexadecimal with `hex`, escaped otherwise.
pub fn show(bytes: &[u8], hex: bool) -> String {
    if hex {
        hex::encode(bytes)
    } else {
        escape(bytes)
    }
}

/// `bytes` in JSON output: a hexadecimal string with `hex`; otherwise a string when the
/// bytes are UTF-8, else `{"hex": "<digits>"}`.
pub fn json(bytes: &[u8], hex: bool) -> Value {
    if hex {
        return Value::String(hex::encode(bytes));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => serde_json::json!({ "hex": hex::encode(bytes) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_is_one_unambiguous_line() {
        assert_eq!(escape(b"plain key"), "plain key");
        assert_eq!(escape(b"a\tb\nc\rd\\e"), "a\\tb\\nc\\rd\\\\e");
        assert_eq!(escape(&[0, 0x7f, 0xff, b'x']), "\\x00\\x7f\\xffx");
        assert_eq!(escape("é".as_bytes()), "\\xc3\\xa9");
    }

    #[test]
    fn json_keeps_text_readable_and_bytes_lossless() {
        assert_eq!(json(b"abc", false), Value::String("abc".into()));
        assert_eq!(json(b"abc", true), Value::String("616263".into()));
        assert_eq!(json(&[0xff, 0], false), serde_json::json!({"hex": "ff00"}));
    }

    #[test]
    fn hex_arguments_decode_or_fail_as_usage() {
        assert_eq!(from_arg("00ff", true, "KEY").unwrap(), vec![0, 0xff]);
        assert_eq!(from_arg("00ff", false, "KEY").unwrap(), b"00ff".to_vec());
        let e = from_arg("0g", true, "KEY").unwrap_err();
        assert_eq!(e.exit, crate::error::Exit::Usage);
    }
}
