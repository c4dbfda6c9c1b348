//! `kat_options`: the opaque builder of open-time settings.

use std::time::Duration;

use super::{boundary, boundary_void, give, handle_mut, kat_status, out_param};
use crate::engine::MIN_SEGMENT_SIZE;
use crate::{AutoMerge, Error, Options, SyncMode};

/// When commits reach stable storage: one of the `KAT_SYNC_*` values.
#[allow(non_camel_case_types)]
pub type kat_sync = u32;
/// Commit returns after its data is on stable storage (fdatasync); concurrent committers
/// share one sync (group commit). The default.
pub const KAT_SYNC_ALWAYS: kat_sync = 0;
/// A background thread syncs every `interval_ms`; a power loss may lose that interval.
pub const KAT_SYNC_INTERVAL: kat_sync = 1;
/// Only segment rotation and close sync; a power loss may lose recent writes.
pub const KAT_SYNC_NEVER: kat_sync = 2;

/// Settings for `kat_db_open`. Create with `kat_options_new`, release with
/// `kat_options_free`; may be freed right after `kat_db_open` returns.
pub struct kat_options {
    pub(crate) opts: Options,
}

/// Creates options holding the defaults (sync always, 128 MiB segments, create the
/// directory if missing, no salvage).
///
/// # Safety
/// `out` is NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn kat_options_new(out: *mut *mut kat_options) -> kat_status {
    // SAFETY: error reporting is disabled (NULL); `out` is checked before the write.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            out_param(out, "out")?;
            give(
                out,
                kat_options {
                    opts: Options::default(),
                },
            );
            Ok(())
        })
    }
}

/// Sets the sync mode; `interval_ms` (at least 1) is used only with `KAT_SYNC_INTERVAL`.
/// An unknown mode is `KAT_INVALID_ARGUMENT` and changes nothing.
///
/// # Safety
/// `o` is NULL or live options not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn kat_options_set_sync(
    o: *mut kat_options,
    mode: kat_sync,
    interval_ms: u32,
) -> kat_status {
    // SAFETY: error reporting is disabled; `o` is checked by handle_mut.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            let mode = match mode {
                KAT_SYNC_ALWAYS => SyncMode::Always,
                KAT_SYNC_NEVER => SyncMode::Never,
                KAT_SYNC_INTERVAL if interval_ms > 0 => {
                    SyncMode::Interval(Duration::from_millis(u64::from(interval_ms)))
                }
                KAT_SYNC_INTERVAL => {
                    return Err(Error::InvalidArgument(
                        "interval must be at least 1 ms".into(),
                    ))
                }
                m => return Err(Error::InvalidArgument(format!("unknown sync mode {m}"))),
            };
            o.opts = std::mem::take(&mut o.opts).sync(mode);
            Ok(())
        })
    }
}

/// Sets the size at which the active segment is sealed (at least 1024 bytes; default
/// 128 MiB).
///
/// # Safety
/// `o` is NULL or live options not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn kat_options_set_segment_size(
    o: *mut kat_options,
    bytes: u64,
) -> kat_status {
    // SAFETY: error reporting is disabled; `o` is checked by handle_mut.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            if bytes < MIN_SEGMENT_SIZE {
                return Err(Error::InvalidArgument("segment size below 1024".into()));
            }
            o.opts = std::mem::take(&mut o.opts).segment_size(bytes);
            Ok(())
        })
    }
}

/// With `on`, a damaged database opens anyway, skipping damaged batches; without it
/// (the default) damage other than a torn tail makes `kat_db_open` fail with
/// `KAT_CORRUPTION` and change nothing.
///
/// # Safety
/// `o` is NULL or live options not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn kat_options_set_salvage(o: *mut kat_options, on: bool) -> kat_status {
    // SAFETY: error reporting is disabled; `o` is checked by handle_mut.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            o.opts = std::mem::take(&mut o.opts).salvage(on);
            Ok(())
        })
    }
}

/// The automatic merge policy: after the active segment fills up, a background merge
/// starts when unreachable bytes make up at least `dead_ratio` (0 to 1) of all segment
/// bytes and amount to at least `min_dead_bytes`. The default is 0.5 and 256 MiB. A
/// `dead_ratio` of 0 turns automatic merging off (`kat_db_merge` still works); a ratio
/// below 0, above 1, infinite or not a number is `KAT_INVALID_ARGUMENT`.
///
/// # Safety
/// `o` is NULL or live options not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn kat_options_set_auto_merge(
    o: *mut kat_options,
    dead_ratio: f64,
    min_dead_bytes: u64,
) -> kat_status {
    // SAFETY: error reporting is disabled; `o` is checked by handle_mut.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            if !(0.0..=1.0).contains(&dead_ratio) {
                return Err(Error::InvalidArgument(
                    "dead_ratio must be between 0 and 1".into(),
                ));
            }
            let policy = (dead_ratio > 0.0).then_some(AutoMerge {
                dead_ratio,
                min_dead_bytes,
            });
            o.opts = std::mem::take(&mut o.opts).auto_merge(policy);
            Ok(())
        })
    }
}

/// Whether `kat_db_open` creates a missing directory (default true; the parent must
/// exist).
///
/// # Safety
/// `o` is NULL or live options not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn kat_options_set_create_if_missing(
    o: *mut kat_options,
    on: bool,
) -> kat_status {
    // SAFETY: error reporting is disabled; `o` is checked by handle_mut.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            o.opts = std::mem::take(&mut o.opts).create_if_missing(on);
            Ok(())
        })
    }
}

/// Releases options. NULL is allowed.
///
/// # Safety
/// `o` is NULL or options from `kat_options_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_options_free(o: *mut kat_options) {
    boundary_void(|| {
        if !o.is_null() {
            // SAFETY: per the contract, `o` came from Box::into_raw in kat_options_new.
            drop(unsafe { Box::from_raw(o) });
        }
    })
}
