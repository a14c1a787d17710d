//! Giving memory back to the system once the server no longer uses it: the heap's
//! free pages, the pages of ferroban's own code that only start-up or a reload ran,
//! and the main thread's stack below the event loop.
//!
//! Reading the configuration and compiling the filters runs most of the binary's
//! code once, and recurses deeply; the kernel then keeps those pages mapped (and
//! counted in the resident size) for the daemon's whole life, megabytes it will not
//! use again. This module must never touch memory that holds state: it unmaps only
//! unmodified pages of the running executable's read-only file mappings (copies of
//! the file still in the page cache, which the kernel maps again from there should
//! they ever run again) and stack pages below the running frame.

use std::ops::Range;

/// Give back what compiling the filters used and left: freed heap pages, the code
/// and read-only data of start-up, and the stack its recursion grew. Call once the
/// server is ready and after a reload, not in every quiet moment: the code in use
/// is mapped again at once, at a fault per 64 KB.
pub fn release_after_startup() {
    release_free_heap();
    // Both read the same list of mappings. Best effort: without `/proc` nothing is
    // given back but the heap.
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    release_startup_code(&smaps);
    release_unused_stack(&smaps);
}

/// Give back the main thread's stack below the running frame (with a margin for
/// signal frames and the calls to come): compiling the filters recursed deeply and
/// left hundreds of kilobytes there that the event loop never reaches. Nothing is
/// done on another thread (its stack is not `[stack]`).
fn release_unused_stack(smaps: &str) {
    const MARGIN: usize = 64 * 1024;
    let frame = 0u8;
    let here = std::ptr::addr_of!(frame) as usize;
    let Some(stack) = smaps
        .lines()
        .filter(|l| l.ends_with("[stack]"))
        .find_map(address_range)
    else {
        return;
    };
    if !stack.contains(&here) {
        return;
    }
    let end = here.saturating_sub(MARGIN) & !(4096 - 1);
    if end > stack.start {
        // SAFETY: the pages lie below this frame's stack pointer by more than any
        // red zone or signal frame in flight: no live value is there. Dropped
        // pages read as zeros when the stack grows into them again.
        unsafe {
            libc::madvise(
                stack.start as *mut libc::c_void,
                end - stack.start,
                libc::MADV_DONTNEED,
            );
        }
    }
}

/// Give freed heap pages back to the system: a burst of lines or a reload leaves
/// megabytes that malloc would otherwise keep.
pub fn release_free_heap() {
    // SAFETY: malloc_trim only returns unused heap pages; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Unmap the resident pages of the executable's unmodified read-only mappings
/// (its code and constants), found in `smaps` (this process's `/proc/self/smaps`).
fn release_startup_code(smaps: &str) {
    let Some(file) = own_executable() else {
        return;
    };
    for range in unmodified_read_only_mappings(smaps, file) {
        // SAFETY: the range is a whole mapping of the executable that nothing may
        // write (not writable) and that holds no private page (`Anonymous: 0 kB`:
        // no relocation, breakpoint or probe written into it). Dropping its pages
        // only unmaps copies of the file; the next access maps them again from the
        // page cache, with the same contents. A failure changes nothing.
        unsafe {
            libc::madvise(
                range.start as *mut libc::c_void,
                range.end - range.start,
                libc::MADV_DONTNEED,
            );
        }
    }
}

/// The file this process runs, as `/proc/self/maps` names it.
fn own_executable() -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let exe = std::fs::metadata("/proc/self/exe").ok()?;
    Some(FileId {
        major: libc::major(exe.dev()),
        minor: libc::minor(exe.dev()),
        inode: exe.ino(),
    })
}

/// A file as `/proc/PID/maps` names it: device numbers and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    major: u32,
    minor: u32,
    inode: u64,
}

/// The address ranges, in `smaps` (the text of `/proc/PID/smaps`), of the private,
/// non-writable mappings of `file` that hold no private (anonymous) page.
fn unmodified_read_only_mappings(smaps: &str, file: FileId) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut current: Option<Range<usize>> = None;
    for line in smaps.lines() {
        if let Some(mapping) = mapping_header(line) {
            current = mapping
                .filter(|m| m.file == file && !m.writable && m.private)
                .map(|m| m.range);
        } else if let Some(kib) = line.strip_prefix("Anonymous:") {
            if let Some(range) = current.take() {
                if kib.trim() == "0 kB" {
                    found.push(range);
                }
            }
        }
    }
    found
}

/// A mapping's header line in `smaps`, as in `maps`.
struct Mapping {
    range: Range<usize>,
    writable: bool,
    private: bool,
    file: FileId,
}

/// `Some(Some(mapping))` for a header line of a file mapping, `Some(None)` for
/// another header line (anonymous memory, the heap, the stack), `None` for a field
/// line (`Rss:   4 kB`).
fn mapping_header(line: &str) -> Option<Option<Mapping>> {
    let range = address_range(line)?;
    let mut fields = line.split_ascii_whitespace().skip(1);
    let mapping = (|| {
        let perms = fields.next()?.as_bytes();
        let _offset = fields.next()?;
        let (major, minor) = fields.next()?.split_once(':')?;
        let inode = fields.next()?.parse().ok()?;
        Some(Mapping {
            range,
            writable: perms.get(1) == Some(&b'w'),
            private: perms.get(3) == Some(&b'p'),
            file: FileId {
                major: u32::from_str_radix(major, 16).ok()?,
                minor: u32::from_str_radix(minor, 16).ok()?,
                inode,
            },
        })
    })();
    Some(mapping.filter(|m| m.file.inode != 0))
}

/// The address range a header line of `maps` or `smaps` begins with.
fn address_range(line: &str) -> Option<Range<usize>> {
    let (start, end) = line.split_ascii_whitespace().next()?.split_once('-')?;
    Some(usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXE: FileId = FileId {
        major: 0xfd,
        minor: 1,
        inode: 1234,
    };

    /// A mapping's header and the two fields read, as the kernel writes them.
    fn mapping(header: &str, anonymous_kib: u32) -> String {
        format!(
            "{header}\nSize:                100 kB\nRss:                  40 kB\n\
             Anonymous:       {anonymous_kib:>6} kB\nVmFlags: rd ex mr mw me\n"
        )
    }

    #[test]
    fn only_the_executables_unmodified_read_only_mappings_are_chosen() {
        let smaps = [
            mapping(
                "55c3a000-55c3b000 r--p 00000000 fd:01 1234    /usr/sbin/ferroban",
                0,
            ),
            mapping(
                "55c3b000-55c3f000 r-xp 00001000 fd:01 1234    /usr/sbin/ferroban",
                0,
            ),
            // Relocated constants (RELRO): written at start, so private pages.
            mapping(
                "55c3f000-55c40000 r--p 00005000 fd:01 1234    /usr/sbin/ferroban",
                8,
            ),
            mapping(
                "55c40000-55c41000 rw-p 00006000 fd:01 1234    /usr/sbin/ferroban",
                0,
            ),
            mapping("55c41000-55c62000 rw-p 00000000 00:00 0       [heap]", 132),
            // Another file with the same inode number on another device.
            mapping(
                "7f000000-7f001000 r-xp 00000000 fd:02 1234    /usr/lib/libc.so.6",
                0,
            ),
            mapping(
                "7f001000-7f002000 r-xp 00000000 fd:01 999     /usr/lib/libc.so.6",
                0,
            ),
            mapping(
                "7f002000-7f003000 r--s 00000000 fd:01 1234    /usr/sbin/ferroban",
                0,
            ),
            mapping("7ffd0000-7ffd1000 r-xp 00000000 00:00 0       [vdso]", 0),
        ]
        .concat();
        assert_eq!(
            unmodified_read_only_mappings(&smaps, EXE),
            vec![0x55c3a000..0x55c3b000, 0x55c3b000..0x55c3f000]
        );
    }

    #[test]
    fn code_with_a_breakpoint_or_probe_written_into_it_is_kept() {
        // A debugger's breakpoint or a uprobe is a private copy of the code page:
        // dropping it would silently remove the breakpoint.
        let smaps = mapping(
            "55c3b000-55c3f000 r-xp 00001000 fd:01 1234 /usr/sbin/ferroban",
            4,
        );
        assert!(unmodified_read_only_mappings(&smaps, EXE).is_empty());
    }

    #[test]
    fn a_deleted_executable_is_still_recognised_by_device_and_inode() {
        // After a package upgrade replaced the file, the running one is "(deleted)".
        let smaps = mapping(
            "55c3b000-55c3f000 r-xp 00001000 fd:01 1234 /usr/sbin/ferroban (deleted)",
            0,
        );
        assert_eq!(
            unmodified_read_only_mappings(&smaps, EXE),
            vec![0x55c3b000..0x55c3f000]
        );
    }

    #[test]
    fn the_running_test_finds_its_own_code_and_leaves_its_relocated_constants() {
        // The kernel's real format, read from this process: its code is a read-only,
        // unmodified mapping of its own executable, and the constants the loader
        // relocated (RELRO: read-only now, written at start) are not chosen.
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let file = own_executable().unwrap();
        let here = the_running_test_finds_its_own_code_and_leaves_its_relocated_constants
            as *const () as usize;
        let chosen = unmodified_read_only_mappings(&smaps, file);
        assert!(
            chosen.iter().any(|r| r.contains(&here)),
            "no chosen mapping holds this function at {here:#x}: {chosen:x?}"
        );
        // The executable's mappings that hold private pages, as the kernel lists them.
        let mut modified = Vec::new();
        let mut current = None;
        for line in smaps.lines() {
            if let Some(mapping) = mapping_header(line) {
                current = mapping.filter(|m| m.file == file).map(|m| m.range);
            } else if let Some(kib) = line.strip_prefix("Anonymous:") {
                if let Some(range) = current.take().filter(|_| kib.trim() != "0 kB") {
                    modified.push(range);
                }
            }
        }
        assert!(!modified.is_empty(), "no relocated mapping in\n{smaps}");
        for range in &modified {
            assert!(!chosen.contains(range), "{range:x?} holds private pages");
        }
    }
}
