use super::*;

/// The intersection of a route hostname and a listener hostname is the more specific of the
/// two when one covers the other, none otherwise (wildcards are suffix matches that never
/// match the bare parent domain).
#[test]
fn intersection_is_the_more_specific_name() {
    assert_eq!(
        intersect("foo.example.com", "*.example.com").as_deref(),
        Some("foo.example.com")
    );
    assert_eq!(
        intersect("*.example.com", "foo.example.com").as_deref(),
        Some("foo.example.com")
    );
    assert_eq!(
        intersect("*.example.com", "*.foo.example.com").as_deref(),
        Some("*.foo.example.com")
    );
    assert_eq!(intersect("example.com", "*.example.com"), None);
    assert_eq!(intersect("foo.com", "bar.com"), None);
    assert_eq!(
        intersect("a.b.example.com", "*.example.com").as_deref(),
        Some("a.b.example.com")
    );
}
