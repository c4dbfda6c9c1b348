//! Buffered appends: values collect in memory and reach the column in one commit per
//! batch, so appending one value at a time runs at memory speed.

use super::{Column, ColumnType, Values};
use crate::txn::retry;
use crate::Result;

/// Buffered bytes that make an appender commit on its own.
const FLUSH_BYTES: usize = 1 << 20;

/// Appends values to one column through a buffer. Values become visible (and, per the
/// database's sync mode, durable) when the buffer is committed: when it fills, on
/// [`Appender::flush`], and on drop (best effort: call `flush` to see errors). A crash
/// loses what was not committed yet; a commit never shows part of a batch. Not for use
/// by two threads at once.
pub struct Appender {
    column: Column,
    data: Vec<u8>,
    /// Variable columns: `n + 1` offsets into `data`.
    offsets: Vec<u64>,
    pending: u64,
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender")
            .field("column", &self.column)
            .field("pending", &self.pending)
            .finish()
    }
}

impl Appender {
    pub(super) fn new(column: Column) -> Appender {
        Appender {
            column,
            data: Vec::new(),
            offsets: vec![0],
            pending: 0,
        }
    }

    /// Values buffered and not yet committed.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Buffers one value (raw bytes, as [`Column::append`] takes them). A value of the
    /// wrong size is [`crate::Error::InvalidArgument`] and is not buffered.
    pub fn append(&mut self, value: &[u8]) -> Result<()> {
        if self.column.is_var() {
            self.column.check_values(&Values::Var {
                offsets: &[0, value.len() as u64],
                data: value,
            })?;
            self.data.extend_from_slice(value);
            self.offsets.push(self.data.len() as u64);
        } else {
            self.column.check_width(value)?;
            self.data.extend_from_slice(value);
        }
        self.pending += 1;
        if self.data.len() >= FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Buffers an `i64` (on an `i64` column).
    pub fn append_i64(&mut self, v: i64) -> Result<()> {
        self.column.expect_type(ColumnType::I64)?;
        self.append(&v.to_le_bytes())
    }

    /// Buffers an `f64` (on an `f64` column).
    pub fn append_f64(&mut self, v: f64) -> Result<()> {
        self.column.expect_type(ColumnType::F64)?;
        self.append(&v.to_le_bytes())
    }

    /// Throws away the buffered values without committing them.
    pub fn discard(&mut self) {
        self.data.clear();
        self.offsets.truncate(1);
        self.pending = 0;
    }

    /// Commits the buffered values as one batch; returns the column's new length.
    pub fn flush(&mut self) -> Result<u64> {
        if self.pending == 0 {
            return self.column.len();
        }
        let values = if self.column.is_var() {
            Values::Var {
                offsets: &self.offsets,
                data: &self.data,
            }
        } else {
            Values::Fixed(&self.data)
        };
        let len = retry(self.column.db(), |tx| self.column.extend_tx(tx, &values))?;
        self.discard();
        Ok(len)
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
