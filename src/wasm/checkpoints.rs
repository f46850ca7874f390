//! The `checkpoint` / `onCheckpoint` options of the two resumable downloads (Activities fragments,
//! Userpilot files): the core's checkpoint crosses as JSON text that js/ keeps as plain data inside
//! its own versioned checkpoint.

use super::backstory::{get, notify};
use crate::driver::activities::DownloadCheckpoint;
use crate::driver::userpilot::RowsCheckpoint;
use crate::error::{Error, Result};
use js_sys::Function;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

/// A core checkpoint of one vendor job's download.
pub(crate) trait JobCheckpoint: Serialize + DeserializeOwned {
    fn version(&self) -> u32;
    fn job_id(&self) -> &str;
}

impl JobCheckpoint for DownloadCheckpoint {
    fn version(&self) -> u32 {
        self.version
    }
    fn job_id(&self) -> &str {
        &self.job_id
    }
}

impl JobCheckpoint for RowsCheckpoint {
    fn version(&self) -> u32 {
        self.version
    }
    fn job_id(&self) -> &str {
        &self.job_id
    }
}

/// The `checkpoint` option: the JSON text an earlier run's `onCheckpoint` received, for this job.
pub(crate) fn read_checkpoint<C: JobCheckpoint>(opts: &JsValue, job_id: &str) -> Result<Option<C>> {
    let v = get(opts, "checkpoint");
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let cp: C = v
        .as_string()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| Error::invalid("checkpoint", "is not a download checkpoint of exportkit"))?;
    if cp.version() != 1 || cp.job_id() != job_id {
        return Err(Error::invalid(
            "checkpoint",
            format!("is a checkpoint of another job, not of job {job_id}"),
        ));
    }
    Ok(Some(cp))
}

/// Hands a checkpoint to `onCheckpoint` as JSON text.
pub(crate) fn send_checkpoint<C: JobCheckpoint>(f: &Option<Function>, at: &C) {
    if f.is_some() {
        if let Ok(text) = serde_json::to_string(at) {
            notify(f, &JsValue::from_str(&text));
        }
    }
}
