//! Bad files give typed errors that name the file, and a run goes on past them.
#![cfg(feature = "tract")]

mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use catclass_features::{
    DecodeLimits, ExtractError, Extractor, ImageError, ModelSource, Preset, TractBackend,
    decode_image, load_image,
};
use common::testdata;

fn decode(bytes: &[u8], name: &str) -> Result<(), ImageError> {
    decode_image(bytes, Path::new(name), &DecodeLimits::default()).map(|_| ())
}

/// A PNG whose IHDR declares `w` x `h` (valid CRC), followed by nothing useful.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(&ihdr);
    v.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    v
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
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

fn jpeg() -> Vec<u8> {
    std::fs::read(testdata("images/chelsea.jpg")).unwrap()
}

fn png() -> Vec<u8> {
    std::fs::read(testdata("images/chelsea.png")).unwrap()
}

#[test]
fn each_kind_of_bad_file_has_its_error_naming_the_file() {
    let e = decode(b"", "empty.jpg").unwrap_err();
    assert!(matches!(e, ImageError::Empty { .. }), "{e}");
    assert!(e.to_string().starts_with("empty.jpg: "), "{e}");

    let e = decode(b"hello, I am a text file\n", "notes.jpg").unwrap_err();
    assert!(matches!(e, ImageError::NotAnImage { .. }), "{e}");
    assert_eq!(e.path(), Path::new("notes.jpg"));

    let e = decode(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "anim.gif").unwrap_err();
    assert!(
        matches!(&e, ImageError::NotAnImage { found, .. } if found == "Gif"),
        "{e}"
    );

    let j = jpeg();
    let e = decode(&j[..j.len() / 2], "truncated.jpg").unwrap_err();
    assert!(
        matches!(e, ImageError::Corrupt { format: "JPEG", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("truncated.jpg"), "{e}");

    let e = decode(&j[..300], "header-only.jpg").unwrap_err();
    assert!(matches!(e, ImageError::Corrupt { .. }), "{e}");

    // JPEG markers, then garbage where the headers should be.
    let mut garbage = j[..4].to_vec();
    garbage.extend((0..5000u32).map(|i| (i * 7919 % 251) as u8));
    garbage.extend_from_slice(&[0xFF, 0xD9]);
    let e = decode(&garbage, "garbage.jpg").unwrap_err();
    assert!(matches!(e, ImageError::Corrupt { .. }), "{e}");

    let p = png();
    let e = decode(&p[..p.len() / 2], "truncated.png").unwrap_err();
    assert!(
        matches!(e, ImageError::Corrupt { format: "PNG", .. }),
        "{e}"
    );

    let e = decode(&png_header(100_000, 100_000), "huge.png").unwrap_err();
    assert!(
        matches!(
            e,
            ImageError::TooLarge {
                width: 100_000,
                height: 100_000,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("huge.png"), "{e}");

    // Within the side limit, over the pixel limit.
    let limits = DecodeLimits {
        max_pixels: 1000,
        max_side: 65_535,
    };
    let e = decode_image(&j, Path::new("big.jpg"), &limits).unwrap_err();
    assert!(
        matches!(
            e,
            ImageError::TooLarge {
                width: 451,
                height: 300,
                ..
            }
        ),
        "{e}"
    );

    let e = load_image(Path::new("/nonexistent/cat.jpg"), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(e, ImageError::Io { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/cat.jpg"));
}

#[test]
fn grey_and_alpha_pngs_become_rgb() {
    let dir = tempfile::tempdir().unwrap();
    let grey = dir.path().join("grey.png");
    image::save_buffer(
        &grey,
        &[0u8, 128, 255, 7],
        2,
        2,
        image::ExtendedColorType::L8,
    )
    .unwrap();
    let img = load_image(&grey, &DecodeLimits::default()).unwrap();
    assert_eq!(img.pixel(1, 0), [128, 128, 128]);
    let rgba = dir.path().join("rgba.png");
    image::save_buffer(
        &rgba,
        &[10, 20, 30, 0, 40, 50, 60, 255],
        2,
        1,
        image::ExtendedColorType::Rgba8,
    )
    .unwrap();
    let img = load_image(&rgba, &DecodeLimits::default()).unwrap();
    // Alpha is dropped, not composited (as Pillow's convert("RGB")).
    assert_eq!(img.pixel(0, 0), [10, 20, 30]);
    let rgb16 = dir.path().join("rgb16.png");
    let px: Vec<u8> = [0x1234u16, 0xFF00, 0x00FF]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    image::save_buffer(&rgb16, &px, 1, 1, image::ExtendedColorType::Rgb16).unwrap();
    assert_eq!(
        load_image(&rgb16, &DecodeLimits::default())
            .unwrap()
            .pixel(0, 0),
        [0x12, 0xFF, 0x00]
    );
}

#[test]
fn a_run_goes_on_past_bad_files_and_reports_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let j = jpeg();
    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let paths = vec![
        testdata("images/chelsea.jpg"),
        write("empty.jpg", b""),
        write("truncated.jpg", &j[..j.len() / 3]),
        testdata("images/coffee.png"),
        write("text.png", b"not a png"),
        testdata("images/darknet-dog.jpg"),
        d.join("missing.jpg"),
    ];
    let backend = TractBackend::load(&ModelSource::Default, None).unwrap();
    let ex = Extractor::new(Arc::new(backend), Preset::EfficientNetLite.preprocess())
        .unwrap()
        .with_batch(2)
        .with_threads(2);
    let mut seen = vec![None; paths.len()];
    let summary = ex.run(&paths, |o| {
        assert_eq!(o.path, paths[o.index]);
        if let Err(e) = &o.result {
            assert_eq!(e.path(), o.path.as_path(), "{e}");
            assert!(matches!(e, ExtractError::Image(_)), "{e}");
            assert!(
                e.to_string()
                    .contains(o.path.file_name().unwrap().to_str().unwrap()),
                "{e}"
            );
        }
        seen[o.index] = Some(o.result.map(|f| f.len()).map_err(|e| e.to_string()));
        ControlFlow::Continue(())
    });
    assert_eq!((summary.ok, summary.failed, summary.skipped), (3, 4, 0));
    for (i, s) in seen.iter().enumerate() {
        let s = s
            .as_ref()
            .unwrap_or_else(|| panic!("no outcome for {}", paths[i].display()));
        let good = [0, 3, 5].contains(&i);
        assert_eq!(s.is_ok(), good, "{}: {s:?}", paths[i].display());
        if let Ok(n) = s {
            assert_eq!(*n, 1280);
        }
    }
}

#[test]
fn a_run_stops_when_the_sink_says_so() {
    let paths: Vec<PathBuf> = (0..6).map(|_| testdata("images/chelsea.png")).collect();
    let backend = TractBackend::load(&ModelSource::Default, None).unwrap();
    let ex = Extractor::new(Arc::new(backend), Preset::EfficientNetLite.preprocess())
        .unwrap()
        .with_threads(1);
    let mut calls = 0;
    let summary = ex.run(&paths, |_| {
        calls += 1;
        ControlFlow::Break(())
    });
    assert_eq!(calls, 1);
    assert_eq!(summary.ok, 1);
    assert_eq!(summary.skipped, 5);
}
