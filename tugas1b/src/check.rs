//! The grader's check for Tugas 1b: tests any download server (Python,
//! Java, ours, ...) against the assignment, whatever request format the
//! student chose.
//!
//! ```text
//! cargo run -p tugas1b --bin check                                   # 127.0.0.1:31200, contoh.txt, gambar.png
//! cargo run -p tugas1b --bin check -- --expect-file tugas1b/files/contoh.txt
//! cargo run -p tugas1b --bin check -- --file soal.txt --expect-file ../alice/tugas1b/soal.txt \
//!     --image foto.jpg --expect-image ../alice/tugas1b/foto.jpg
//! ```
//!
//! `--file NAME` is a text file in the server's folder (default
//! `contoh.txt`), `--expect-file PATH` the grader's copy of it;
//! `--image NAME` an image there (default `gambar.png`), `--expect-image
//! PATH` the grader's copy (default: this crate's own
//! `tugas1b/files/gambar.png`, built in; copy it into the student's
//! folder or name the student's own image).
//!
//! First the check recognises how the server wants to be asked
//! ([`common::check::transfer`]: the bare name with or without a line
//! end, raw bytes until the close, a size line first, or ours) and says
//! `convention: ...`. Then, required (the assignment's own):
//!
//! 1. `connect`: the server accepts a TCP connection;
//! 2. `text-file`: the requested text file arrives byte for byte (with
//!    `--expect-file`; without it, the same non-empty bytes on two
//!    downloads);
//! 3. `image-file`: the requested image arrives byte for byte.
//!
//! Extras (beyond the assignment, counted apart, graded with `--strict`):
//! `missing-file` (an error answer or a close, and the server keeps
//! serving), `malformed-request`, `outside-folder` (`../` and absolute
//! names are not served: no `/etc/passwd`), `silent-client` (a silent
//! client does not block another's download: a single-threaded server
//! fails it, which Tugas 1b allows). `--skip-protocol` leaves the extras
//! out.

use common::check::{self, transfer, Checker};
use common::cli::{Command, Flag, Matches};
use common::error::MainError;

/// `--image NAME`: the image the check asks for.
pub const IMAGE: Flag = Flag::value(
    "image",
    "NAME",
    "gambar.png",
    "an image that exists in the server's folder",
);

/// `--expect-image PATH`: the grader's copy of that image.
pub const EXPECT_IMAGE: Flag = Flag::value(
    "expect-image",
    "PATH",
    "",
    "the grader's copy of that image [default: tugas1b/files/gambar.png, built in]",
);

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 1b grader's check: tests a file-download server (any language).",
    args: "",
    flags: &[
        check::host(),
        check::port("31200"),
        transfer::FILE,
        transfer::EXPECT_FILE,
        IMAGE,
        EXPECT_IMAGE,
        check::TIMEOUT,
        check::JSON,
        check::SKIP_PROTOCOL,
    ],
};

/// This crate's sample image (`files/gambar.png`), the default of
/// `--expect-image`.
pub const SAMPLE_IMAGE: &[u8] = include_bytes!("../files/gambar.png");

/// How the report names the built-in sample.
pub const SAMPLE_IMAGE_NAME: &str = "tugas1b/files/gambar.png";

/// The assignment's sentence of the whole task.
pub const CITE_TASK: &str = "MODIFIKASILAH program server.py agar dapat mengirimkan MENTRANSFER \
FILE yang di request oleh client";
/// hasil_tugas1b-1: the text file.
pub const CITE_TEXT: &str = "server mencari dan membaca isi file sesuai nama file yang diberikan, \
kemudian isi file tersebut diberikan kembali ke client. [...] File yang diproses adalah file \
bertipe txt.";
/// hasil_tugas1b-2: the image.
pub const CITE_IMAGE: &str =
    "server mencari dan membaca isi file sesuai nama file yang diberikan, \
kemudian isi file tersebut diberikan kembali ke client. [...] File yang diproses adalah file \
bertipe image.";

/// What to ask for and what it must contain.
#[derive(Debug, Clone)]
pub struct Target {
    /// The text file (`--file`, `--expect-file`).
    pub download: transfer::Download,
    /// The image's name in the server's folder (`--image`).
    pub image: String,
    /// How the report names the expected image, and its bytes
    /// (`--expect-image`, or the built-in sample).
    pub expect_image: (String, Vec<u8>),
}

impl Target {
    /// The text file `file` (with its expected content, if known) and the
    /// built-in sample image as `gambar.png`.
    pub fn new(file: &str, expect: Option<(String, Vec<u8>)>) -> Target {
        Target {
            download: transfer::Download {
                file: file.to_string(),
                expect,
            },
            image: "gambar.png".to_string(),
            expect_image: (SAMPLE_IMAGE_NAME.to_string(), SAMPLE_IMAGE.to_vec()),
        }
    }

    /// Whether the image is the built-in sample (no `--expect-image`).
    pub fn sample_image(&self) -> bool {
        self.expect_image.0 == SAMPLE_IMAGE_NAME
    }

    /// From the flags: `--file`, `--expect-file`, `--image`,
    /// `--expect-image` (files read now).
    ///
    /// # Errors
    /// An unreadable `--expect-file` or `--expect-image` (exit 1).
    pub fn from_matches(m: &Matches) -> Result<Target, MainError> {
        let download = transfer::Download::from_matches(m)?;
        let expect_image = transfer::read_expected(m, "expect-image")?
            .unwrap_or_else(|| (SAMPLE_IMAGE_NAME.to_string(), SAMPLE_IMAGE.to_vec()));
        Ok(Target {
            download,
            image: m.value("image").to_string(),
            expect_image,
        })
    }
}

/// Runs every Tugas 1b requirement against the server of `c`'s options.
pub fn run(c: &mut Checker, target: &Target) {
    let mut d = transfer::start(c, CITE_TASK, &target.download);
    d.file_line(c, "text-file", "text file", CITE_TEXT);
    let (label, want) = &target.expect_image;
    let hint = if target.sample_image() {
        "the check compares with its built-in tugas1b/files/gambar.png: copy that into the \
         server's folder, or give --image NAME --expect-image PATH"
    } else {
        ""
    };
    d.other_file_line(
        c,
        "image-file",
        format!(
            "the requested image {} arrives byte for byte (as {label})",
            target.image
        ),
        CITE_IMAGE,
        &target.image,
        want,
        hint,
    );
    d.extras(c);
}
