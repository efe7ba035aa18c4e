//! Sharing of repeated strings.

use std::collections::HashSet;
use std::sync::Arc;

/// Hands out one shared `Arc<str>` per distinct string (model names, project paths, session ids
/// repeat on every line of a session).
#[derive(Debug, Default, Clone)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared copy of `s`, created on first use.
    pub fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(existing) = self.strings.get(s) {
            return Arc::clone(existing);
        }
        let new: Arc<str> = Arc::from(s);
        self.strings.insert(Arc::clone(&new));
        new
    }

    /// The shared copy of the string held by `s` (which may come from another interner).
    pub fn intern_arc(&mut self, s: &Arc<str>) -> Arc<str> {
        if let Some(existing) = self.strings.get(&**s) {
            return Arc::clone(existing);
        }
        self.strings.insert(Arc::clone(s));
        Arc::clone(s)
    }

    /// The number of distinct strings held.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Whether no string has been interned yet.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_string_same_allocation() {
        let mut interner = Interner::new();
        let a = interner.intern("claude-sonnet-4-5-20250929");
        let b = interner.intern("claude-sonnet-4-5-20250929");
        let c = interner.intern("claude-opus-4-5-20251101");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(interner.len(), 2);
        let foreign: Arc<str> = Arc::from("claude-opus-4-5-20251101");
        assert!(Arc::ptr_eq(&interner.intern_arc(&foreign), &c));
    }
}
