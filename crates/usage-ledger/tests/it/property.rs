//! Random appends, partial lines, truncations and rewrites with runs in between: every run
//! equals a fresh full scan.

use proptest::prelude::*;

use crate::support::{Tree, usage_line, user_line};

const FILES: [&str; 3] = ["p/a.jsonl", "p/b.jsonl", "p/c/subagents/agent-1.jsonl"];

#[derive(Debug, Clone)]
enum Line {
    Usage {
        message: Option<u8>,
        request: Option<u8>,
        sidechain: bool,
        output: u16,
    },
    User,
    /// A user line with the `"assistant"` needle in it: passed by as a long line of another
    /// kind with the test options, before its newline is written and after.
    UserWithNeedle,
    Bad,
}

impl Line {
    fn text(&self, second: u32) -> String {
        match self {
            Line::Usage {
                message,
                request,
                sidechain,
                output,
            } => usage_line(
                message.map(|m| format!("msg_{m}")).as_deref(),
                request.map(|r| format!("req_{r}")).as_deref(),
                *sidechain,
                u64::from(*output),
                second,
            ),
            Line::User => user_line("hello"),
            Line::UserWithNeedle => user_line("hello").replacen(
                r#"{"type":"user","#,
                r#"{"type":"user","role":"assistant","#,
                1,
            ),
            Line::Bad => r#"{"type":"assistant","message":{"usage":"#.to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Lines appended, the last bytes held back (written later): `hold_back` eighths of them
    /// for 0 to 3, the last newline alone for 4 (half of the time).
    Append {
        file: usize,
        lines: Vec<Line>,
        hold_back: u8,
    },
    Truncate {
        file: usize,
        keep: u8,
    },
    Rewrite {
        file: usize,
        lines: Vec<Line>,
    },
    Run,
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        6 => (
            proptest::option::weighted(0.9, 0u8..6),
            proptest::option::weighted(0.8, 0u8..3),
            proptest::bool::weighted(0.15),
            0u16..500
        )
            .prop_map(|(message, request, sidechain, output)| Line::Usage {
                message,
                request,
                sidechain,
                output
            }),
        2 => Just(Line::User),
        1 => Just(Line::UserWithNeedle),
        1 => Just(Line::Bad),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0..FILES.len(), proptest::collection::vec(line(), 1..6), (0u8..8).prop_map(|h| h.min(4)))
            .prop_map(|(file, lines, hold_back)| Step::Append { file, lines, hold_back }),
        1 => (0..FILES.len(), 0u8..=100).prop_map(|(file, keep)| Step::Truncate { file, keep }),
        1 => (0..FILES.len(), proptest::collection::vec(line(), 0..5))
            .prop_map(|(file, lines)| Step::Rewrite { file, lines }),
        4 => Just(Step::Run),
    ]
}

fn text(lines: &[Line], second: &mut u32) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        *second += 1;
        out.extend_from_slice(line.text(*second).as_bytes());
        out.push(b'\n');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_run_equals_a_full_scan(steps in proptest::collection::vec(step(), 1..16)) {
        let tree = Tree::new();
        // Bytes written by the "writer" but not yet flushed, per file.
        let mut held: Vec<Vec<u8>> = vec![Vec::new(); FILES.len()];
        let mut second = 0;
        for step in steps.iter().chain([&Step::Run]) {
            match step {
                Step::Append { file, lines, hold_back } => {
                    let mut bytes = std::mem::take(&mut held[*file]);
                    bytes.extend_from_slice(&text(lines, &mut second));
                    // 4: all but the last newline (a whole line, not yet ended); else a share.
                    let keep = if *hold_back == 4 {
                        bytes.len().saturating_sub(1)
                    } else {
                        bytes.len() - bytes.len() * usize::from(*hold_back) / 8
                    };
                    held[*file] = bytes.split_off(keep);
                    tree.append(FILES[*file], &bytes);
                }
                Step::Truncate { file, keep } => {
                    let path = tree.file(FILES[*file]);
                    if let Ok(meta) = std::fs::metadata(&path) {
                        tree.truncate(FILES[*file], meta.len() * u64::from(*keep) / 100);
                    }
                    held[*file].clear();
                }
                Step::Rewrite { file, lines } => {
                    if tree.file(FILES[*file]).exists() {
                        tree.rewrite(FILES[*file], &text(lines, &mut second));
                    }
                    held[*file].clear();
                }
                Step::Run => {
                    let run = tree.scan();
                    tree.assert_parity(&run);
                }
            }
        }
    }
}
