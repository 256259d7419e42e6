use proptest::prelude::*;

use super::*;

fn n(path: &str, mode: PathNormalization) -> String {
    normalize(path, mode).unwrap().into_owned()
}

/// The example table of SPEC section 3, for every mode.
#[test]
fn spec_table() {
    use PathNormalization::*;
    let table: &[(&str, [&str; 4])] = &[
        ("/a/../b", ["/a/../b", "/b", "/b", "/b"]),
        ("/a/./b/", ["/a/./b/", "/a/b/", "/a/b/", "/a/b/"]),
        ("//admin", ["//admin", "//admin", "/admin", "/admin"]),
        ("/a//b///c", ["/a//b///c", "/a//b///c", "/a/b/c", "/a/b/c"]),
        ("/a%2fb", ["/a%2fb", "/a%2fb", "/a%2fb", "/a/b"]),
        ("/a%2F/b", ["/a%2F/b", "/a%2F/b", "/a%2F/b", "/a/b"]),
        (
            "/some\\data",
            ["/some\\data", "/some/data", "/some/data", "/some/data"],
        ),
        ("/%61dmin", ["/%61dmin", "/admin", "/admin", "/admin"]),
        ("/Admin", ["/Admin", "/Admin", "/Admin", "/Admin"]),
        (
            "/some%2fdata/%61%62%63",
            [
                "/some%2fdata/%61%62%63",
                "/some%2fdata/abc",
                "/some%2fdata/abc",
                "/some/data/abc",
            ],
        ),
    ];
    for (input, expected) in table {
        for (mode, want) in [None, Base, MergeSlashes, DecodeAndMergeSlashes]
            .iter()
            .zip(expected)
        {
            assert_eq!(n(input, *mode), *want, "{input} under {mode}");
        }
    }
}

/// Dot segments never climb above the root; a trailing `..` leaves a directory.
#[test]
fn dot_segments() {
    let b = PathNormalization::Base;
    assert_eq!(n("/x/y/..", b), "/x/");
    assert_eq!(n("/..", b), "/");
    assert_eq!(n("/../../etc/passwd", b), "/etc/passwd");
    assert_eq!(n("/public/../admin", b), "/admin");
    assert_eq!(n("/%2e%2e/admin", b), "/admin");
    assert_eq!(n("/a/%2E/b", b), "/a/b");
    assert_eq!(n("/a/.../b", b), "/a/.../b");
    assert_eq!(n("/.hidden", b), "/.hidden");
    assert_eq!(n("/%7e", b), "/~");
}

/// Clean paths are returned without copying.
#[test]
fn clean_paths_are_borrowed() {
    assert!(matches!(
        normalize("/api/v1/users", PathNormalization::Base).unwrap(),
        Cow::Borrowed(_)
    ));
    assert!(matches!(
        normalize("/a//b", PathNormalization::Base).unwrap(),
        Cow::Borrowed(_)
    ));
    assert!(matches!(
        normalize("/a//b", PathNormalization::MergeSlashes).unwrap(),
        Cow::Owned(_)
    ));
}

/// What Envoy answers with 400: `%00`, NUL, fragments, relative paths.
#[test]
fn malformed_paths_are_errors() {
    let b = PathNormalization::Base;
    assert_eq!(normalize("/a%00", b), Err(NormalizeError::Nul));
    assert_eq!(normalize("/a\0", b), Err(NormalizeError::Nul));
    assert_eq!(normalize("/x#frag", b), Err(NormalizeError::Fragment));
    assert_eq!(
        normalize("/x#frag", PathNormalization::None),
        Err(NormalizeError::Fragment)
    );
    assert_eq!(normalize("a/b", b), Err(NormalizeError::NotAbsolute));
}

/// Characters that are not allowed in a path are escaped, as Envoy's canonicalizer does;
/// `'`, `[`, `]` and the sub-delimiters are not.
#[test]
fn invalid_characters_are_escaped() {
    let b = PathNormalization::Base;
    assert_eq!(n("/a b", b), "/a%20b");
    assert_eq!(n("/\"q\"", b), "/%22q%22");
    assert_eq!(n("/a|b^c`d{e}", b), "/a%7Cb%5Ec%60d%7Be%7D");
    assert_eq!(n("/a'[b]!$&()*+,;=:@", b), "/a'[b]!$&()*+,;=:@");
}

/// A `%` that starts no escape is kept (Envoy forwards `/admin%zz`); an escape that appears
/// only once an inner one is decoded gets its `%` written `%25` (measured on Envoy 1.40).
#[test]
fn stray_percents_are_kept_and_nested_escapes_defused() {
    let b = PathNormalization::Base;
    assert_eq!(n("/admin%zz", b), "/admin%zz");
    assert_eq!(n("/admin%", b), "/admin%");
    assert_eq!(n("/admin%4", b), "/admin%4");
    assert_eq!(n("/a%%41", b), "/a%A");
    assert_eq!(n("/a%%4141", b), "/a%25A41");
    assert_eq!(n("/%%30%30", b), "/%2500");
    assert_eq!(n("/%2%30", b), "/%2520");
    assert_eq!(n("/a%%%41%41", b), "/a%%25AA");
}

/// A dot segment with path parameters (`..;`, `.;x`) is a dot segment, as servlet
/// containers read it (Envoy 1.40, CVE-2026-73511); only literal dots count.
#[test]
fn dot_segments_with_parameters_are_dot_segments() {
    let b = PathNormalization::Base;
    assert_eq!(n("/public/..;/admin", b), "/admin");
    assert_eq!(n("/public/..;jsessionid=1/admin", b), "/admin");
    assert_eq!(n("/public/a;/..;/..;/admin", b), "/admin");
    assert_eq!(n("/public/.;/admin", b), "/public/admin");
    assert_eq!(n("/public/..;", b), "/");
    assert_eq!(n("/admin;x=1", b), "/admin;x=1");
    assert_eq!(n("/public/...;/admin", b), "/public/...;/admin");
    assert_eq!(n("/public/%2e%2e;/admin", b), "/public/..;/admin");
    assert_eq!(n("/public\\..;\\admin", b), "/public/..;/admin");
    assert_eq!(
        n(
            "/public%2f..;%2fadmin",
            PathNormalization::DecodeAndMergeSlashes
        ),
        "/admin"
    );
    assert_eq!(
        n(
            "/public%5C..;%5Cadmin",
            PathNormalization::DecodeAndMergeSlashes
        ),
        "/public/..;/admin"
    );
    assert_eq!(
        normalize("/public/..;/admin", PathNormalization::None).unwrap(),
        "/public/..;/admin"
    );
}

fn modes() -> impl Strategy<Value = PathNormalization> {
    prop_oneof![
        Just(PathNormalization::Base),
        Just(PathNormalization::MergeSlashes),
        Just(PathNormalization::DecodeAndMergeSlashes),
    ]
}

fn paths() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("/".to_owned()),
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("%2e".to_owned()),
            Just("%2E%2e".to_owned()),
            Just("%2f".to_owned()),
            Just("%5C".to_owned()),
            Just("%25".to_owned()),
            Just("%61".to_owned()),
            Just("\\".to_owned()),
            "[a-z]{1,3}",
        ],
        0..12,
    )
    .prop_map(|parts| format!("/{}", parts.concat()))
}

proptest! {
    /// Normalizing twice gives the same result as once (for paths without `;`: Envoy turns
    /// `%2e%2e;` into `..;`, which a second pass would remove). Every generated path is valid
    /// (no fragment, no NUL), so normalization must succeed: a property checked only on `Ok`
    /// would hold for a normalizer that rejects everything.
    #[test]
    fn normalization_is_idempotent(p in paths(), mode in modes()) {
        let once = normalize(&p, mode);
        prop_assert!(once.is_ok(), "{} rejected: {:?}", p, once);
        let once = once.unwrap();
        let twice = normalize(&once, mode);
        prop_assert!(twice.is_ok(), "{} rejected: {:?}", once, twice);
        let twice = twice.unwrap();
        prop_assert_eq!(once.as_ref(), twice.as_ref());
    }

    /// The result is absolute and has no `.` or `..` segment, so it never leaves the root.
    #[test]
    fn normalization_stays_inside_the_root(p in paths(), mode in modes()) {
        let out = normalize(&p, mode);
        prop_assert!(out.is_ok(), "{} rejected: {:?}", p, out);
        let out = out.unwrap();
        prop_assert!(out.starts_with('/'));
        let path = out.as_ref();
        for seg in path.split('/') {
            prop_assert!(seg != ".." && seg != ".", "{} -> {}", p, path);
        }
    }

    /// A fragment anywhere in the target is refused (Envoy answers 400
    /// `path_normalization_failed`, SPEC section 9), whatever the mode.
    #[test]
    fn a_fragment_is_always_refused(p in paths(), q in paths(), mode in modes()) {
        let target = format!("{p}#{q}");
        prop_assert_eq!(normalize(&target, mode), Err(NormalizeError::Fragment));
    }

    /// No input makes normalization panic.
    #[test]
    fn normalization_never_panics(p in "\\PC{0,40}", mode in modes()) {
        let _ = normalize(&p, mode);
    }
}
