//! Validation of a JSON value against the contract's schema.

use std::fmt;

/// A compiled validator for [`crate::json_schema`].
pub struct Validator {
    inner: jsonschema::Validator,
}

/// One way a document breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// A JSON Pointer to the offending value in the document (`""` is the root).
    pub instance_path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.instance_path.is_empty() {
            "/"
        } else {
            &self.instance_path
        };
        write!(f, "{path}: {}", self.message)
    }
}

impl Validator {
    /// Compiles the schema of this build.
    pub fn new() -> Self {
        Self::for_schema(&crate::json_schema()).expect("the generated schema compiles")
    }

    /// Compiles an arbitrary schema document (used to validate against the committed file).
    pub fn for_schema(schema: &serde_json::Value) -> Result<Self, String> {
        let inner = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(schema)
            .map_err(|err| err.to_string())?;
        Ok(Self { inner })
    }

    /// Every error in `document`, in document order; empty when it is valid.
    pub fn errors(&self, document: &serde_json::Value) -> Vec<ValidationError> {
        self.inner
            .iter_errors(document)
            .map(|err| ValidationError {
                instance_path: err.instance_path().to_string(),
                message: err.to_string(),
            })
            .collect()
    }
}

impl Default for Validator {
    fn default() -> Self {
        Self::new()
    }
}
