//! A ledger cut short at any byte (a run killed mid-write), or damaged, or of another version.

use std::path::Path;

use usage_ledger::{IncrementalScan, RebuildReason, scan_incremental};

use crate::support::{Tree, lines, options, usage_line, user_line};

/// A tree and a ledger written by three runs with appends in between.
fn three_runs() -> Tree {
    let tree = Tree::new();
    let batch = |from: u32, to: u32| {
        let mut out = Vec::new();
        for i in from..to {
            let id = format!("msg_{}", i % 7);
            out.push(usage_line(
                Some(&id),
                Some(&format!("req_{}", i % 7)),
                false,
                u64::from(i),
                i,
            ));
            out.push(user_line("x"));
            if i % 5 == 0 {
                out.push(usage_line(None, None, false, 3, i));
            }
        }
        lines(&out)
    };
    tree.append("p/a.jsonl", &batch(0, 6));
    tree.append("p/b.jsonl", &batch(3, 9));
    tree.scan();
    tree.append("p/a.jsonl", &batch(6, 12));
    tree.scan();
    tree.append("p/c/subagents/agent-1.jsonl", &batch(10, 14));
    tree.append("p/b.jsonl", &batch(20, 22));
    let third = tree.scan();
    tree.assert_parity(&third);
    tree
}

/// Offsets of the header end and of every record boundary.
fn boundaries(bytes: &[u8]) -> Vec<usize> {
    let roots_len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let mut pos = 24 + roots_len + 4;
    let mut out = vec![pos];
    while pos < bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 9 + len;
        out.push(pos);
    }
    assert_eq!(pos, bytes.len());
    out
}

/// Runs with `ledger` as the ledger of `tree`'s roots in a fresh state dir.
fn run_with_ledger(tree: &Tree, state: &Path, ledger: &[u8]) -> IncrementalScan {
    let path = usage_ledger::ledger_path(state, &tree.roots());
    std::fs::create_dir_all(state).unwrap();
    std::fs::write(&path, ledger).unwrap();
    scan_incremental(state, &tree.roots(), &options()).unwrap()
}

#[test]
fn a_ledger_cut_at_any_point_gives_the_same_totals() {
    let tree = three_runs();
    let good = std::fs::read(tree.ledger()).unwrap();
    let mut cuts = boundaries(&good);
    assert!(cuts.len() > 10, "{} records", cuts.len());
    // Plus pseudo-random offsets (a fixed linear congruential sequence).
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..150 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        cuts.push((x >> 33) as usize % good.len());
    }
    for (i, cut) in cuts.into_iter().enumerate() {
        let state = tree.dir.path().join(format!("state-{i}"));
        let run = run_with_ledger(&tree, &state, &good[..cut]);
        tree.assert_parity(&run);
        assert!(run.ledger.saved, "cut {cut}");
        // The ledger is whole again: the next run reads nothing.
        let again = scan_incremental(&state, &tree.roots(), &options()).unwrap();
        tree.assert_parity(&again);
        assert_eq!(again.ledger.bytes_read, 0, "cut {cut}");
        assert!(again.ledger.rebuilt.is_none(), "cut {cut}");
        std::fs::remove_dir_all(&state).unwrap();
    }
}

#[test]
fn garbage_after_the_last_record_is_cut_off() {
    let tree = three_runs();
    let mut bytes = std::fs::read(tree.ledger()).unwrap();
    bytes.extend_from_slice(b"\x07\x00\x00\x00\x03garbage and more garbage");
    let run = run_with_ledger(&tree, &tree.dir.path().join("s"), &bytes);
    tree.assert_parity(&run);
    assert!(run.ledger.rebuilt.is_none());
    assert_eq!(run.ledger.bytes_read, 0);
}

#[test]
fn a_flipped_byte_cuts_the_ledger_there() {
    let tree = three_runs();
    let good = std::fs::read(tree.ledger()).unwrap();
    let cuts = boundaries(&good);
    for (i, &at) in cuts.iter().enumerate().skip(1).step_by(3) {
        let mut bytes = good.clone();
        bytes[at - 5] ^= 0x40;
        let run = run_with_ledger(&tree, &tree.dir.path().join(format!("s{i}")), &bytes);
        tree.assert_parity(&run);
    }
}

#[test]
fn damaged_headers_and_older_versions_are_rebuilt() {
    let tree = three_runs();
    let good = std::fs::read(tree.ledger()).unwrap();
    let mut wrong_magic = good.clone();
    wrong_magic[0] = b'X';
    let mut old_version = good.clone();
    old_version[8..12].copy_from_slice(&0u32.to_le_bytes());
    let header_end = boundaries(&good)[0];
    let crc = crc32(&old_version[..header_end - 4]);
    old_version[header_end - 4..header_end].copy_from_slice(&crc.to_le_bytes());
    let garbage: Vec<u8> = (0..3000u32).map(|i| (i * 31 + 7) as u8).collect();
    for (name, bytes, reason) in [
        ("magic", wrong_magic, RebuildReason::Damaged),
        ("version", old_version, RebuildReason::OldVersion(0)),
        ("garbage", garbage, RebuildReason::Damaged),
        ("empty", Vec::new(), RebuildReason::Damaged),
    ] {
        let state = tree.dir.path().join(name);
        let run = run_with_ledger(&tree, &state, &bytes);
        tree.assert_parity(&run);
        assert_eq!(run.ledger.rebuilt, Some(reason), "{name}");
        assert!(run.ledger.saved);
        let again = scan_incremental(&state, &tree.roots(), &options()).unwrap();
        assert!(again.ledger.rebuilt.is_none(), "{name}");
        assert_eq!(again.ledger.bytes_read, 0, "{name}");
        // The old file is kept aside.
        assert!(run.ledger.path.with_extension("bad").exists(), "{name}");
    }
}

#[test]
fn an_unreadable_ledger_is_rebuilt() {
    let tree = three_runs();
    let state = tree.dir.path().join("s");
    let path = usage_ledger::ledger_path(&state, &tree.roots());
    std::fs::create_dir_all(&path).unwrap();
    let run = scan_incremental(&state, &tree.roots(), &options()).unwrap();
    tree.assert_parity(&run);
    assert!(matches!(
        run.ledger.rebuilt,
        Some(RebuildReason::Unreadable(_))
    ));
    assert!(path.is_file());
}

#[test]
fn a_newer_ledger_is_left_alone() {
    let tree = three_runs();
    let mut newer = std::fs::read(tree.ledger()).unwrap();
    newer[8..12].copy_from_slice(&99u32.to_le_bytes());
    let header_end = boundaries(&newer)[0];
    let crc = crc32(&newer[..header_end - 4]);
    newer[header_end - 4..header_end].copy_from_slice(&crc.to_le_bytes());
    let state = tree.dir.path().join("s");
    let run = run_with_ledger(&tree, &state, &newer);
    tree.assert_parity(&run);
    assert!(!run.ledger.saved);
    assert_eq!(std::fs::read(&run.ledger.path).unwrap(), newer);
}

/// CRC-32/IEEE, bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Copies the ledger and its cache of kept records into a fresh state dir, `ledger` cut at
/// `cut`, and runs.
fn run_with_cache(tree: &Tree, state: &Path, cut: usize, kept: &[u8]) -> IncrementalScan {
    let good = std::fs::read(tree.ledger()).unwrap();
    let path = usage_ledger::ledger_path(state, &tree.roots());
    std::fs::create_dir_all(state).unwrap();
    std::fs::write(&path, &good[..cut]).unwrap();
    std::fs::write(path.with_extension("kept"), kept).unwrap();
    scan_incremental(state, &tree.roots(), &options()).unwrap()
}

#[test]
fn a_cut_ledger_with_a_newer_cache_beside_it() {
    let tree = three_runs();
    let good = std::fs::read(tree.ledger()).unwrap();
    let kept = std::fs::read(tree.ledger().with_extension("kept")).unwrap();
    for (i, cut) in boundaries(&good).into_iter().enumerate() {
        let state = tree.dir.path().join(format!("c{i}"));
        let run = run_with_cache(&tree, &state, cut, &kept);
        tree.assert_parity(&run);
        std::fs::remove_dir_all(&state).unwrap();
    }
}

#[test]
fn a_damaged_or_foreign_cache_is_not_used() {
    let tree = three_runs();
    let good = std::fs::read(tree.ledger()).unwrap();
    let kept = std::fs::read(tree.ledger().with_extension("kept")).unwrap();
    let mut flipped = kept.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x10;
    let mut foreign = kept.clone();
    foreign[12] ^= 1;
    for (i, bad) in [
        flipped,
        foreign,
        kept[..kept.len() - 1].to_vec(),
        Vec::new(),
    ]
    .into_iter()
    .enumerate()
    {
        let state = tree.dir.path().join(format!("k{i}"));
        let run = run_with_cache(&tree, &state, good.len(), &bad);
        tree.assert_parity(&run);
        // The cache is right again for the next run.
        let again = scan_incremental(&state, &tree.roots(), &options()).unwrap();
        tree.assert_parity(&again);
    }
}

/// A directory with something in it at `path`: neither written over nor renamed over.
fn block(path: &Path) {
    std::fs::create_dir_all(path.join("x")).unwrap();
}

#[test]
fn a_new_ledger_that_cannot_be_written_leaves_no_cache_or_checkpoint_for_it() {
    let tree = three_runs();
    for stage in ["temp", "rename"] {
        let state = tree.dir.path().join(format!("s-{stage}"));
        let path = usage_ledger::ledger_path(&state, &tree.roots());
        let kept = path.with_extension("kept");
        let checkpoint = path.with_extension("ckpt");
        let temp = path.with_extension("tmp");
        if stage == "temp" {
            // The new ledger cannot be created.
            block(&temp);
        } else {
            // It is written whole, but cannot be renamed over the ledger (a directory that
            // cannot be moved aside either): the rename on the writer's thread fails.
            block(&path);
            block(&path.with_extension("bad"));
        }
        let run = scan_incremental(&state, &tree.roots(), &options()).unwrap();
        tree.assert_parity(&run);
        assert!(!run.ledger.saved, "{stage}");
        assert!(
            !kept.exists(),
            "{stage}: a cache for a ledger that is not there"
        );
        // Written while the new ledger was being flushed, then taken back.
        assert!(
            !checkpoint.exists(),
            "{stage}: a checkpoint for a ledger that is not there"
        );
        if stage == "rename" {
            assert!(!temp.exists(), "the temp file is removed");
        }
        std::fs::remove_dir_all(&state).unwrap();
        let run = scan_incremental(&state, &tree.roots(), &options()).unwrap();
        tree.assert_parity(&run);
        assert!(run.ledger.saved, "{stage}");
        assert!(kept.is_file(), "{stage}");
        assert!(checkpoint.is_file(), "{stage}");
        let again = scan_incremental(&state, &tree.roots(), &options()).unwrap();
        tree.assert_parity(&again);
        assert_eq!(again.ledger.files_read, 0, "{stage}");
    }
}

/// The ledger cut at every record boundary, with the checkpoint and the kept-records cache of
/// the whole ledger beside it: only the whole ledger matches them, and every run (and the one
/// after it) gives the totals of a full scan.
#[test]
fn a_cut_ledger_with_a_newer_checkpoint_beside_it() {
    let tree = three_runs();
    let good = std::fs::read(tree.ledger()).unwrap();
    let kept = std::fs::read(tree.ledger().with_extension("kept")).unwrap();
    let checkpoint = std::fs::read(tree.ledger().with_extension("ckpt")).unwrap();
    for (i, cut) in boundaries(&good).into_iter().enumerate() {
        let state = tree.dir.path().join(format!("k{i}"));
        let path = usage_ledger::ledger_path(&state, &tree.roots());
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(&path, &good[..cut]).unwrap();
        std::fs::write(path.with_extension("kept"), &kept).unwrap();
        std::fs::write(path.with_extension("ckpt"), &checkpoint).unwrap();
        let run = scan_incremental(&state, &tree.roots(), &options()).unwrap();
        tree.assert_parity(&run);
        assert!(run.ledger.saved, "cut {cut}");
        let again = scan_incremental(&state, &tree.roots(), &options()).unwrap();
        tree.assert_parity(&again);
        assert_eq!(again.ledger.bytes_read, 0, "cut {cut}");
        std::fs::remove_dir_all(&state).unwrap();
    }
}
