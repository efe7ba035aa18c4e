//! `aggregate validate FILE`.

use anyhow::{Context, Result};
use live_data_schema::Validator;

use crate::cli::ValidateArgs;
use crate::{ExitStatus, ui};

pub(crate) fn validate(args: &ValidateArgs) -> Result<ExitStatus> {
    let path = &args.file;
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let document: serde_json::Value = match serde_json::from_slice(&text) {
        Ok(doc) => doc,
        Err(err) => {
            ui::out(&format!("{}: not JSON: {err}", path.display()));
            return Ok(ExitStatus::Failure);
        }
    };
    let errors = Validator::new().errors(&document);
    if errors.is_empty() {
        ui::out(&format!("{}: valid", path.display()));
        return Ok(ExitStatus::Success);
    }
    for error in &errors {
        ui::out(&format!("{}: {error}", path.display()));
    }
    ui::out(&format!("{}: {} error(s)", path.display(), errors.len()));
    Ok(ExitStatus::Failure)
}
