//! The Lambda artifacts as deployed: each function's zipped `bootstrap`, built by
//! `cargo lambda build --release --arm64 --output-format zip` into `target/lambda/<function>/`.

use std::path::Path;

use std::io::Read;

use anyhow::{Context, Result, bail};

/// Our own ceiling for a zipped artifact (issue 6): small artifacts load fast on a cold start.
pub const MAX_ZIP_BYTES: u64 = 10_000_000;

#[derive(Clone, Debug)]
pub struct Artifact {
    pub function: String,
    pub zip_bytes: u64,
    /// The `bootstrap` inside the zip, uncompressed.
    pub bootstrap_bytes: u64,
    /// From the ELF header of that `bootstrap`.
    pub arch: &'static str,
}

pub fn read(lambda_dir: &Path, function: &str) -> Result<Artifact> {
    let zip = lambda_dir.join(function).join("bootstrap.zip");
    let bytes = std::fs::read(&zip)
        .with_context(|| format!("no {}: build it with `make bench`", zip.display()))?;
    let entry = first_entry(&bytes).with_context(|| format!("{} is not a zip", zip.display()))?;
    if entry.name != b"bootstrap" {
        bail!(
            "{} holds {}, not bootstrap",
            zip.display(),
            String::from_utf8_lossy(entry.name)
        );
    }
    let mut head = [0_u8; 20];
    let mut data = entry.data;
    match entry.method {
        0 => data.read_exact(&mut head)?,
        8 => flate2::read::DeflateDecoder::new(data).read_exact(&mut head)?,
        other => bail!("{}: unknown zip compression {other}", zip.display()),
    }
    Ok(Artifact {
        function: function.to_owned(),
        zip_bytes: bytes.len() as u64,
        bootstrap_bytes: entry.uncompressed,
        arch: elf_arch(&head),
    })
}

/// The first file of a zip archive, as its central directory describes it.
struct Entry<'a> {
    name: &'a [u8],
    method: u16,
    uncompressed: u64,
    /// The entry's (compressed) data to the end of the archive.
    data: &'a [u8],
}

fn first_entry(zip: &[u8]) -> Option<Entry<'_>> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(zip.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(zip.get(at..at + 4)?.try_into().ok()?));
    // The end-of-central-directory record: 22 bytes plus a comment of at most 64 KiB.
    let search_from = zip.len().saturating_sub(22 + 65_535);
    let eocd = search_from
        + zip[search_from..]
            .windows(4)
            .rposition(|w| w == b"PK\x05\x06")?;
    let directory = u32_at(eocd + 16)? as usize;
    if zip.get(directory..directory + 4)? != b"PK\x01\x02" {
        return None;
    }
    let method = u16_at(directory + 10)?;
    let uncompressed = u64::from(u32_at(directory + 24)?);
    let name_len = usize::from(u16_at(directory + 28)?);
    let local = u32_at(directory + 42)? as usize;
    let name = zip.get(directory + 46..directory + 46 + name_len)?;
    if zip.get(local..local + 4)? != b"PK\x03\x04" {
        return None;
    }
    let data_at = local + 30 + usize::from(u16_at(local + 26)?) + usize::from(u16_at(local + 28)?);
    Some(Entry {
        name,
        method,
        uncompressed,
        data: zip.get(data_at..)?,
    })
}

/// The machine an ELF executable is for (`e_machine`, little-endian, at byte 18).
fn elf_arch(binary: &[u8]) -> &'static str {
    if binary.get(..4) != Some(b"\x7fELF") {
        return "not ELF";
    }
    match binary.get(18..20) {
        Some([0xb7, 0x00]) => "arm64",
        Some([0x3e, 0x00]) => "x86_64",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip with one stored (uncompressed) file, as the format's spec lays it out.
    fn stored_zip(name: &[u8], data: &[u8]) -> Vec<u8> {
        let (n, len) = (name.len() as u16, data.len() as u32);
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        zip.extend(len.to_le_bytes());
        zip.extend(len.to_le_bytes());
        zip.extend(n.to_le_bytes());
        zip.extend([0, 0]);
        zip.extend(name);
        zip.extend(data);
        let directory = zip.len() as u32;
        zip.extend(b"PK\x01\x02");
        zip.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        zip.extend(len.to_le_bytes());
        zip.extend(len.to_le_bytes());
        zip.extend(n.to_le_bytes());
        zip.extend([0; 12]);
        zip.extend(0_u32.to_le_bytes());
        zip.extend(name);
        let directory_len = zip.len() as u32 - directory;
        zip.extend(b"PK\x05\x06");
        zip.extend([0, 0, 0, 0, 1, 0, 1, 0]);
        zip.extend(directory_len.to_le_bytes());
        zip.extend(directory.to_le_bytes());
        zip.extend([0, 0]);
        zip
    }

    #[test]
    fn reads_the_bootstrap_inside_the_zip() {
        let mut elf = b"\x7fELF".to_vec();
        elf.resize(64, 0);
        elf[18] = 0xb7;
        let dir = std::env::temp_dir().join(format!("bench-artifact-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("f")).unwrap();
        std::fs::write(dir.join("f/bootstrap.zip"), stored_zip(b"bootstrap", &elf)).unwrap();
        let artifact = read(&dir, "f").unwrap();
        assert_eq!(artifact.bootstrap_bytes, 64);
        assert_eq!(artifact.arch, "arm64");
        std::fs::write(dir.join("f/bootstrap.zip"), stored_zip(b"other", &elf)).unwrap();
        assert!(read(&dir, "f").is_err());
        std::fs::write(dir.join("f/bootstrap.zip"), b"PK not really").unwrap();
        assert!(read(&dir, "f").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_elf_machine() {
        let mut header = b"\x7fELF".to_vec();
        header.resize(20, 0);
        header[18] = 0xb7;
        assert_eq!(elf_arch(&header), "arm64");
        header[18] = 0x3e;
        assert_eq!(elf_arch(&header), "x86_64");
        assert_eq!(elf_arch(b"#!/bin/sh"), "not ELF");
    }
}
