//! Writing files and folders so that a crash never leaves half of one behind,
//! and nothing fledge did not write is ever removed.
//!
//! Every output fledge writes goes to a temporary name in the same directory
//! and is renamed over the final name only once complete and flushed. A rename
//! within one filesystem is atomic, so a reader (or a rerun after `kill -9`)
//! sees either the previous file or the new one, never a torn mix.
//!
//! Folders (checkpoints, exports) are written the same way by
//! [`FolderWriter`]: filled under a fresh hidden sibling name, then put in
//! place whole. Each one lists the files fledge wrote in it ([`OWN_FILES`]);
//! only those are ever replaced or removed. A folder holding anything else
//! is the user's: it is refused, or with `force` fledge's files are moved in
//! beside the user's, which stay.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A file being written under a temporary name; [`AtomicFile::commit`] moves it
/// into place. Dropping it without committing removes the temporary file.
pub struct AtomicFile {
    final_path: PathBuf,
    tmp_path: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `path`. Parent directories are created.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let final_path = path.as_ref().to_path_buf();
        if let Some(parent) = final_path.parent() {
            if !parent.as_os_str().is_empty() {
                fs::create_dir_all(parent)?;
            }
        }
        let file_name = final_path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
            .to_string_lossy()
            .into_owned();
        // The process id keeps two concurrent runs from sharing a temp file.
        let tmp_path = final_path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp_path)?;
        Ok(Self { final_path, tmp_path, writer: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self.writer.take().expect("writer present until commit");
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp_path, &self.final_path)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("writer present").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("writer present").flush()
    }
}

/// Formats that write a header last (GGUF's tensor offsets) seek back.
impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.writer.as_mut().expect("writer present").seek(pos)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

/// Writes `value` to `path` atomically as pretty JSON with a final newline
/// (the reports of the data makers and of training).
pub fn write_json_atomic(path: impl AsRef<Path>, value: &impl serde::Serialize) -> io::Result<()> {
    let mut json = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    json.push('\n');
    write_atomic(path, json.as_bytes())
}

/// The hidden file fledge writes into every folder it produces: `# fledge
/// KIND`, then the names of the files it wrote there, one a line. A later
/// write of the same kind may replace or remove those, and only those.
pub const OWN_FILES: &str = ".fledge-files";

/// A kind of folder fledge writes whole (a checkpoint, an export).
pub struct FolderKind {
    /// Its name in [`OWN_FILES`]: a folder of another kind is never replaced
    /// (an export over a checkpoint would destroy the trained weights).
    pub name: &'static str,
    /// The names its files had before fledge listed them, so that folders
    /// written earlier are recognized as fledge's.
    pub legacy: &'static [&'static str],
}

/// Why a folder could not be written or removed.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{folder} holds {file}, which fledge did not write (fledge never replaces or removes what it did not write): choose another --out, or pass --force to write fledge's files beside it (the other files are kept)")]
    Foreign { folder: PathBuf, file: String },
    #[error("{folder} is a fledge {kind} folder; fledge does not replace it with another kind of output: choose another --out, or pass --force to write beside its files (same-named ones are replaced)")]
    OtherKind { folder: PathBuf, kind: String },
    #[error("{0} is a file, not a folder: choose another --out")]
    NotAFolder(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FolderError + '_ {
    move |source| FolderError::Io { path: path.to_path_buf(), source }
}

/// What a destination folder holds now.
enum Survey {
    Missing,
    NotAFolder,
    Folder {
        /// Files fledge wrote there (its list, or `legacy` names).
        own: Vec<String>,
        /// Everything else, sorted: the user's.
        foreign: Vec<String>,
        /// The kind [`OWN_FILES`] names, when it is not the one being written.
        other_kind: Option<String>,
    },
}

/// The names fledge wrote in `dir` as a folder of `kind`: those its
/// [`OWN_FILES`] lists, or without that list the kind's legacy names. Err
/// with the folder's kind (and no names are fledge's) when the list says it
/// is of another kind.
fn own_names(dir: &Path, kind: &FolderKind) -> Result<BTreeSet<String>, String> {
    let Ok(text) = fs::read_to_string(dir.join(OWN_FILES)) else {
        return Ok(kind.legacy.iter().map(|n| n.to_string()).collect());
    };
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    if first != format!("# fledge {}", kind.name) {
        return Err(first.strip_prefix("# fledge ").unwrap_or("other").to_string());
    }
    // A name with a slash or `..` is not one fledge writes: never trust it.
    let mut names: BTreeSet<String> =
        lines.filter(|l| !l.is_empty() && !l.contains('/') && *l != "..").map(String::from).collect();
    names.extend(kind.legacy.iter().map(|n| n.to_string()));
    names.insert(OWN_FILES.to_string());
    Ok(names)
}

fn survey(dest: &Path, kind: &FolderKind) -> Result<Survey, FolderError> {
    match fs::metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Survey::Missing),
        Err(e) => return Err(io_err(dest)(e)),
        Ok(m) if !m.is_dir() => return Ok(Survey::NotAFolder),
        Ok(_) => {}
    }
    let (names, other_kind) = match own_names(dest, kind) {
        Ok(names) => (names, None),
        Err(other) => (BTreeSet::new(), Some(other)),
    };
    let (mut own, mut foreign) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(dest).map_err(io_err(dest))? {
        let entry = entry.map_err(io_err(dest))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().map_err(io_err(dest))?.is_file();
        if is_file && names.contains(&name) {
            own.push(name);
        } else {
            foreign.push(name);
        }
    }
    foreign.sort();
    Ok(Survey::Folder { own, foreign, other_kind })
}

/// The folder `dest` lives in, and its own name (`.` and `..` resolved).
fn parent_and_name(dest: &Path) -> Result<(PathBuf, String), FolderError> {
    let resolved;
    let path = if dest.file_name().is_some() {
        dest
    } else {
        resolved = dest.canonicalize().map_err(io_err(dest))?;
        &resolved
    };
    let name = path.file_name().ok_or_else(|| FolderError::NotAFolder(dest.to_path_buf()))?;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok((parent.to_path_buf(), name.to_string_lossy().into_owned()))
}

/// A fresh folder `.{name}.{pid}-{n}.{suffix}` beside `dest`'s name: created
/// here, so nothing in it can be anyone else's.
fn fresh_sibling(parent: &Path, name: &str, suffix: &str) -> Result<PathBuf, FolderError> {
    for n in 0.. {
        let path = parent.join(format!(".{name}.{}-{n}.{suffix}", std::process::id()));
        match fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            // A leftover of a killed run with the same process id: not ours to remove.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    unreachable!("some sibling name is free")
}

/// Whether the current directory is `dest` or inside it: then the folder is
/// filled in place, as swapping it would leave the shell in a removed folder.
fn holds_current_dir(dest: &Path) -> bool {
    let (Ok(here), Ok(dest)) = (std::env::current_dir().and_then(|d| d.canonicalize()), dest.canonicalize()) else {
        return false;
    };
    here.starts_with(dest)
}

/// Exchanges two paths in one step (Linux `renameat2(RENAME_EXCHANGE)`): at
/// every moment each name holds one whole folder.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Removes the files fledge wrote in `dir`, a folder of `kind` (see
/// [`OWN_FILES`]), then `dir` itself if that left it empty. Anything else
/// stays, and so does the folder holding it; returns whether it is gone.
pub fn remove_folder(dir: &Path, kind: &FolderKind) -> Result<bool, FolderError> {
    let Survey::Folder { own, foreign, .. } = survey(dir, kind)? else { return Ok(false) };
    // The list goes last, so that an interrupted removal can be finished.
    for name in own.iter().filter(|n| *n != OWN_FILES).chain(own.iter().filter(|n| *n == OWN_FILES)) {
        fs::remove_file(dir.join(name)).map_err(io_err(&dir.join(name)))?;
    }
    if !foreign.is_empty() {
        tracing::warn!("kept {}: it holds {}, which fledge did not write", dir.display(), foreign[0]);
        return Ok(false);
    }
    fs::remove_dir(dir).map_err(io_err(dir))?;
    Ok(true)
}

/// A folder being written under a fresh hidden sibling name;
/// [`FolderWriter::commit`] puts it in place whole. Dropping it without
/// committing removes the temporary folder (which only this writer used).
pub struct FolderWriter {
    dest: PathBuf,
    tmp: PathBuf,
    kind: &'static FolderKind,
    force: bool,
    committed: bool,
}

impl FolderWriter {
    /// Starts writing the folder `dest`, of `kind`. Without `force`, a
    /// `dest` that holds files fledge did not write (as a folder of this
    /// kind) is refused now, before the work of filling it.
    pub fn create(dest: &Path, kind: &'static FolderKind, force: bool) -> Result<Self, FolderError> {
        check(dest, &survey(dest, kind)?, force)?;
        let (parent, name) = parent_and_name(dest)?;
        fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let tmp = fresh_sibling(&parent, &name, "tmp")?;
        Ok(Self { dest: dest.to_path_buf(), tmp, kind, force, committed: false })
    }

    /// The temporary folder to fill.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Lists the files written, then puts the folder in place: renamed there
    /// when `dest` is free; swapped in one step with a previous output of
    /// fledge's (which is then removed); or, beside files fledge did not
    /// write (`force`) or when `dest` is the current directory, fledge's
    /// files moved in one by one, each replaced atomically.
    pub fn commit(mut self) -> Result<(), FolderError> {
        let mut written = Vec::new();
        for entry in fs::read_dir(&self.tmp).map_err(io_err(&self.tmp))? {
            let name = entry.map_err(io_err(&self.tmp))?.file_name().to_string_lossy().into_owned();
            if name != OWN_FILES {
                written.push(name);
            }
        }
        written.sort();
        let list: String = std::iter::once(format!("# fledge {}\n", self.kind.name))
            .chain(written.iter().map(|n| format!("{n}\n")))
            .collect();
        write_atomic(self.tmp.join(OWN_FILES), list.as_bytes()).map_err(io_err(&self.tmp))?;

        let (dest, tmp) = (&self.dest, &self.tmp);
        let survey = survey(dest, self.kind)?;
        check(dest, &survey, self.force)?;
        match survey {
            Survey::Missing => fs::rename(tmp, dest).map_err(io_err(dest))?,
            Survey::Folder { own, foreign, .. } if foreign.is_empty() && !holds_current_dir(dest) => {
                if own.is_empty() {
                    // `remove_dir` only ever removes an empty folder.
                    fs::remove_dir(dest).map_err(io_err(dest))?;
                    fs::rename(tmp, dest).map_err(io_err(dest))?;
                } else {
                    let old = swap(tmp, dest)?;
                    // The new folder is in place: failing to tidy the old one is no error.
                    if let Err(e) = remove_folder(&old, self.kind) {
                        tracing::warn!("could not remove the previous {}: {e}", dest.display());
                    }
                }
            }
            Survey::Folder { own, .. } => {
                // In place: each new file replaces fledge's old one atomically;
                // fledge's files the new output lacks go; the rest stays.
                for name in &written {
                    fs::rename(tmp.join(name), dest.join(name)).map_err(io_err(&dest.join(name)))?;
                }
                for name in own.iter().filter(|n| *n != OWN_FILES && !written.contains(n)) {
                    fs::remove_file(dest.join(name)).map_err(io_err(&dest.join(name)))?;
                }
                fs::rename(tmp.join(OWN_FILES), dest.join(OWN_FILES)).map_err(io_err(dest))?;
                fs::remove_dir(tmp).map_err(io_err(tmp))?;
            }
            Survey::NotAFolder => unreachable!("refused by check"),
        }
        self.committed = true;
        Ok(())
    }
}

/// Refuses a destination that is a file, or (without `force`) that holds
/// files fledge did not write.
fn check(dest: &Path, survey: &Survey, force: bool) -> Result<(), FolderError> {
    // `--out .` is named as the folder it is.
    let dest = &if dest.file_name().is_none() { dest.canonicalize().unwrap_or(dest.into()) } else { dest.into() };
    match survey {
        Survey::NotAFolder => Err(FolderError::NotAFolder(dest.to_path_buf())),
        Survey::Folder { other_kind: Some(kind), .. } if !force => {
            Err(FolderError::OtherKind { folder: dest.to_path_buf(), kind: kind.clone() })
        }
        Survey::Folder { foreign, .. } if !force && !foreign.is_empty() => {
            Err(FolderError::Foreign { folder: dest.to_path_buf(), file: foreign[0].clone() })
        }
        _ => Ok(()),
    }
}

/// Puts the whole folder `new` at `dest`, which holds fledge's previous
/// output; returns where that previous output now is. Where one-step exchange
/// is missing, the old folder is renamed aside first: a kill between the two
/// renames leaves it whole under its hidden `.old` name.
fn swap(new: &Path, dest: &Path) -> Result<PathBuf, FolderError> {
    if exchange(new, dest).is_ok() {
        return Ok(new.to_path_buf());
    }
    let (parent, name) = parent_and_name(dest)?;
    let aside = fresh_sibling(&parent, &name, "old")?;
    // Reserved by creating it; emptied again, as not every system renames over a folder.
    fs::remove_dir(&aside).map_err(io_err(&aside))?;
    fs::rename(dest, &aside).map_err(io_err(dest))?;
    if let Err(e) = fs::rename(new, dest) {
        let _ = fs::rename(&aside, dest);
        return Err(io_err(dest)(e));
    }
    Ok(aside)
}

impl Drop for FolderWriter {
    fn drop(&mut self) {
        if !self.committed {
            // Created by `fresh_sibling` for this writer alone.
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_previous_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, b"first").unwrap();
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"half of a second vers").unwrap();
            // dropped without commit, as if the run had been interrupted
        }
        assert_eq!(fs::read(&path).unwrap(), b"first");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file must be removed");
    }

    const KIND: FolderKind = FolderKind { name: "test", legacy: &["legacy.bin"] };

    /// Writes a folder of `files` (name, content) to `dest`.
    fn write_folder(dest: &Path, files: &[(&str, &str)], force: bool) -> Result<(), FolderError> {
        let folder = FolderWriter::create(dest, &KIND, force)?;
        for (name, text) in files {
            write_atomic(folder.path().join(name), text.as_bytes()).unwrap();
        }
        folder.commit()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_folder_holding_a_users_file_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("mydocs");
        fs::create_dir(&docs).unwrap();
        fs::write(docs.join("thesis.txt"), "years of work").unwrap();
        let err = write_folder(&docs, &[("model.safetensors", "weights")], false).unwrap_err().to_string();
        assert!(err.contains("mydocs") && err.contains("thesis.txt") && err.contains("--force"), "{err}");
        assert_eq!(names(&docs), ["thesis.txt"]);
        assert_eq!(names(dir.path()), ["mydocs"], "no temporary folder is left behind");
        // A file where the folder should be is refused too.
        fs::write(dir.path().join("file"), "x").unwrap();
        let err = write_folder(&dir.path().join("file"), &[("a", "1")], true).unwrap_err().to_string();
        assert!(err.contains("not a folder"), "{err}");
        assert_eq!(fs::read_to_string(dir.path().join("file")).unwrap(), "x");
    }

    #[test]
    fn with_force_fledges_files_go_in_beside_the_users_which_stay() {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("mydocs");
        fs::create_dir_all(docs.join("chapters")).unwrap();
        fs::write(docs.join("thesis.txt"), "years of work").unwrap();
        write_folder(&docs, &[("a.bin", "1"), ("b.bin", "1")], true).unwrap();
        assert_eq!(names(&docs), [OWN_FILES, "a.bin", "b.bin", "chapters", "thesis.txt"]);
        // Written again: fledge's file the new output lacks goes, the user's stay.
        write_folder(&docs, &[("a.bin", "2")], true).unwrap();
        assert_eq!(names(&docs), [OWN_FILES, "a.bin", "chapters", "thesis.txt"]);
        assert_eq!(fs::read_to_string(docs.join("a.bin")).unwrap(), "2");
        assert_eq!(fs::read_to_string(docs.join("thesis.txt")).unwrap(), "years of work");
        assert_eq!(names(dir.path()), ["mydocs"]);
    }

    #[test]
    fn a_previous_output_is_replaced_whole_and_an_empty_folder_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        write_folder(&out, &[("a.bin", "1"), ("b.bin", "1")], false).unwrap();
        write_folder(&out, &[("a.bin", "2")], false).unwrap();
        assert_eq!(names(&out), [OWN_FILES, "a.bin"]);
        assert_eq!(fs::read_to_string(out.join("a.bin")).unwrap(), "2");
        assert_eq!(names(dir.path()), ["out"], "the previous copy is removed");
        // Not fledge's to replace as a folder of another kind (an export over a checkpoint).
        const OTHER: FolderKind = FolderKind { name: "other", legacy: &[] };
        let err = FolderWriter::create(&out, &OTHER, false).err().unwrap().to_string();
        assert!(err.contains("fledge test folder") && err.contains("--force"), "{err}");
        // A folder written before fledge listed its files: its known names are fledge's.
        let old = dir.path().join("old");
        fs::create_dir(&old).unwrap();
        fs::write(old.join("legacy.bin"), "0").unwrap();
        write_folder(&old, &[("a.bin", "1")], false).unwrap();
        assert_eq!(names(&old), [OWN_FILES, "a.bin"]);
    }

    #[test]
    fn a_kill_at_any_moment_leaves_a_whole_folder() {
        let dir = tempfile::tempdir().unwrap();
        let best = dir.path().join("best");
        write_folder(&best, &[("a.bin", "1"), ("b.bin", "1")], false).unwrap();
        let whole = |expected: &str| {
            for f in ["a.bin", "b.bin"] {
                assert_eq!(fs::read_to_string(best.join(f)).unwrap(), expected, "{f}");
            }
        };
        // Killed while filling the new folder: the old one is untouched.
        let folder = FolderWriter::create(&best, &KIND, false).unwrap();
        write_atomic(folder.path().join("a.bin"), b"2").unwrap();
        let killed = folder.path().to_path_buf();
        std::mem::forget(folder); // no cleanup, as after kill -9
        whole("1");
        // Killed right after the swap, before the old copy is removed: the new one is whole.
        let folder = FolderWriter::create(&best, &KIND, false).unwrap();
        write_atomic(folder.path().join("a.bin"), b"3").unwrap();
        write_atomic(folder.path().join("b.bin"), b"3").unwrap();
        write_atomic(folder.path().join(OWN_FILES), b"# fledge test\na.bin\nb.bin\n").unwrap();
        let old = swap(folder.path(), &best).unwrap();
        std::mem::forget(folder);
        whole("3");
        assert_eq!(fs::read_to_string(old.join("a.bin")).unwrap(), "1", "the previous copy is whole too");
        // The next write goes through, and leaves the killed runs' folders alone.
        write_folder(&best, &[("a.bin", "4"), ("b.bin", "4")], false).unwrap();
        whole("4");
        assert!(killed.join("a.bin").exists() && old.join("a.bin").exists());
    }

    #[test]
    fn removal_takes_only_fledges_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("step-000001");
        write_folder(&out, &[("a.bin", "1")], false).unwrap();
        fs::write(out.join("notes.txt"), "mine").unwrap();
        assert!(!remove_folder(&out, &KIND).unwrap());
        assert_eq!(names(&out), ["notes.txt"]);
        fs::remove_file(out.join("notes.txt")).unwrap();
        write_folder(&out, &[("a.bin", "1")], false).unwrap();
        assert!(remove_folder(&out, &KIND).unwrap());
        assert!(!out.exists());
    }

    #[test]
    fn commit_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
    }
}
