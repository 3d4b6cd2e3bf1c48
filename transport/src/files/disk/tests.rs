//! Tests of the partial file on a real directory.

use super::*;
use tether_protocol::files::chunk::{CHUNK_BYTES, hash};

const C: usize = CHUNK_BYTES as usize;

fn file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn name(s: &str) -> FileName {
    FileName::new(s).unwrap()
}

fn write_chunks(p: &mut Partial, data: &[u8], chunks: std::ops::Range<u64>) {
    for i in chunks {
        let start = i as usize * C;
        let piece = &data[start..(start + C).min(data.len())];
        p.write(i, piece, &hash(piece)).unwrap();
    }
}

#[test]
fn a_file_arrives_whole_under_its_name_and_leaves_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let data = file(3 * C + 17);
    let mut p = Partial::open(dir.path(), data.len() as u64, &hash(&data)).unwrap();
    assert_eq!(p.resume_from(), 0);
    write_chunks(&mut p, &data, 0..4);
    let at = p.finish(&name("report.bin")).unwrap();
    assert_eq!(at, dir.path().join("report.bin"));
    assert_eq!(std::fs::read(&at).unwrap(), data);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["report.bin"]);
}

#[test]
fn a_restart_resumes_from_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = file(5 * C);
    let h = hash(&data);
    let mut p = Partial::open(dir.path(), data.len() as u64, &h).unwrap();
    write_chunks(&mut p, &data, 0..3);
    p.checkpoint().unwrap();
    // Written but not checkpointed: lost with the crash.
    write_chunks(&mut p, &data, 3..4);
    drop(p);
    let mut p = Partial::open(dir.path(), data.len() as u64, &h).unwrap();
    assert_eq!((p.resume_from(), p.resumed()), (3, 3));
    write_chunks(&mut p, &data, 3..5);
    assert_eq!(std::fs::read(p.finish(&name("x")).unwrap()).unwrap(), data);
}

#[test]
fn another_file_with_the_same_state_name_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = file(2 * C);
    let mut p = Partial::open(dir.path(), data.len() as u64, &hash(&data)).unwrap();
    write_chunks(&mut p, &data, 0..1);
    p.checkpoint().unwrap();
    drop(p);
    // Same hash, other size: the state does not apply.
    let p = Partial::open(dir.path(), data.len() as u64 + 1, &hash(&data)).unwrap();
    assert_eq!(p.resume_from(), 0);
}

#[test]
fn a_corrupt_chunk_is_refused_and_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = file(C);
    let mut p = Partial::open(dir.path(), data.len() as u64, &hash(&data)).unwrap();
    let mut bad = data.clone();
    bad[9] ^= 0x40;
    let e = p.write(0, &bad, &hash(&data)).unwrap_err();
    assert!(matches!(e, DiskError::Chunk(ChunkError::Corrupt(0))), "{e}");
    assert_eq!(p.resume_from(), 0);
}

#[test]
fn a_wrong_whole_file_hash_removes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = file(C + 1);
    let mut p = Partial::open(dir.path(), data.len() as u64, &[1; 32]).unwrap();
    write_chunks(&mut p, &data, 0..2);
    assert!(matches!(p.finish(&name("y")), Err(DiskError::HashMismatch)));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn existing_files_are_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"mine").unwrap();
    std::fs::write(dir.path().join("a (1).txt"), b"mine too").unwrap();
    let data = b"theirs".to_vec();
    let mut p = Partial::open(dir.path(), data.len() as u64, &hash(&data)).unwrap();
    p.write(0, &data, &hash(&data)).unwrap();
    let at = p.finish(&name("a.txt")).unwrap();
    assert_eq!(at, dir.path().join("a (2).txt"));
    assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"mine");
    assert_eq!(free_name(dir.path(), &name("new")).unwrap(), name("new"));
    std::fs::write(dir.path().join(".hidden"), b"").unwrap();
    assert_eq!(free_name(dir.path(), &name(".hidden")).unwrap(), name(".hidden (1)"));
}

#[test]
fn an_empty_file_needs_no_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let p = Partial::open(dir.path(), 0, &hash(&[])).unwrap();
    assert_eq!(p.resume_from(), 0);
    assert!(p.progress().is_complete());
    assert_eq!(std::fs::read(p.finish(&name("empty")).unwrap()).unwrap(), b"");
}

#[test]
fn a_missing_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = Partial::open(&dir.path().join("nope"), 1, &[0; 32]).unwrap_err();
    assert!(e.to_string().ends_with("is not a folder"), "{e}");
}

#[test]
fn one_partial_file_takes_one_transfer_and_dangling_links_count_as_taken() {
    let dir = tempfile::tempdir().unwrap();
    let data = file(C);
    let first = Partial::open(dir.path(), data.len() as u64, &hash(&data)).unwrap();
    let again = Partial::open(dir.path(), data.len() as u64, &hash(&data));
    assert!(matches!(again, Err(DiskError::Busy)), "{again:?}");
    drop(first);
    let mut p = Partial::open(dir.path(), data.len() as u64, &hash(&data)).unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("a.bin")).unwrap();
    p.write(0, &data, &hash(&data)).unwrap();
    assert_eq!(p.finish(&name("a.bin")).unwrap(), dir.path().join("a (1).bin"));
}
