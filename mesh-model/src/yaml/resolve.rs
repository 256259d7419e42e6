//! What a scalar means, as Kubernetes reads it: go-yaml v2's `resolve` (YAML 1.1 booleans,
//! nulls, octal and underscore integers, floats, timestamps kept as text), then
//! sigs.k8s.io/yaml's conversion of mapping keys to JSON object names. The table of every
//! difference from a YAML 1.2 reading is the README's "YAML as Kubernetes reads it".

use yaml_rust2::parser::Tag;
use yaml_rust2::scanner::TScalarStyle;

/// A resolved scalar; a string's text is the caller's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str,
}

/// The prefix of YAML's own tags (`!!int` is `tag:yaml.org,2002:int`).
const YAML_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// A scalar's tag, as go-yaml tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ScalarTag<'a> {
    /// No tag.
    None,
    /// One of YAML's own tags, by its short name (`str`, `int`, `merge`, ...).
    Yaml(&'a str),
    /// Any other tag (`!foo`, `!<x>`): go-yaml leaves the text unresolved, a string.
    Other,
}

impl<'a> ScalarTag<'a> {
    /// The tag of a parser event.
    pub(super) fn of(tag: Option<&'a Tag>) -> ScalarTag<'a> {
        let Some(tag) = tag else {
            return ScalarTag::None;
        };
        let name = if tag.handle == YAML_TAG_PREFIX {
            Some(tag.suffix.as_str())
        } else if tag.handle.is_empty() {
            tag.suffix.strip_prefix(YAML_TAG_PREFIX)
        } else {
            None
        };
        match name {
            Some(n) => ScalarTag::Yaml(n),
            // `!` alone is the non-specific tag: the scalar is a string.
            None if tag.handle == "!" && tag.suffix.is_empty() => ScalarTag::Yaml("str"),
            None => ScalarTag::Other,
        }
    }
}

/// Resolves a scalar value as go-yaml v2 does. Quoted and block scalars are strings unless a
/// tag says otherwise; a tag that does not fit the text is an error, as in go-yaml
/// (`cannot decode !!str `x` as a !!int`).
pub(super) fn resolve_scalar(
    text: &str,
    style: TScalarStyle,
    tag: ScalarTag<'_>,
) -> Result<Scalar, String> {
    let tag = match tag {
        ScalarTag::None if style != TScalarStyle::Plain => return Ok(Scalar::Str),
        ScalarTag::None => return Ok(resolve_plain(text).unwrap_or(Scalar::Str)),
        ScalarTag::Other => return Ok(Scalar::Str),
        ScalarTag::Yaml(t) => t,
    };
    match tag {
        // go-yaml decodes `!!binary` from base64; Istio's fields have no use for bytes, so the
        // text is kept (see the table: a known difference).
        "str" | "binary" => return Ok(Scalar::Str),
        "null" | "bool" | "int" | "float" => {}
        // `!!timestamp` (kept as text, as Kubernetes keeps timestamps), tags of collections,
        // `!!merge` and the like on a scalar: the text.
        _ => return Ok(Scalar::Str),
    }
    let resolved = resolve_plain(text).unwrap_or(Scalar::Str);
    let fits = match tag {
        "null" => matches!(resolved, Scalar::Null),
        "bool" => matches!(resolved, Scalar::Bool(_)),
        "int" => matches!(resolved, Scalar::Int(_) | Scalar::UInt(_)),
        _ => matches!(
            resolved,
            Scalar::Float(_) | Scalar::Int(_) | Scalar::UInt(_)
        ),
    };
    if !fits {
        return Err(format!(
            "cannot decode !!{} `{text}` as a !!{tag}",
            short_tag(&resolved)
        ));
    }
    Ok(match (tag, resolved) {
        ("float", Scalar::Int(i)) => Scalar::Float(i as f64),
        ("float", Scalar::UInt(u)) => Scalar::Float(u as f64),
        (_, other) => other,
    })
}

/// go-yaml's short tag name of a resolved value, for its error message.
fn short_tag(v: &Scalar) -> &'static str {
    match v {
        Scalar::Null => "null",
        Scalar::Bool(_) => "bool",
        Scalar::Int(_) | Scalar::UInt(_) => "int",
        Scalar::Float(_) => "float",
        _ => "str",
    }
}

/// Resolves an untagged plain scalar (go-yaml v2's `resolve` with no tag); `None` for a
/// string (the caller keeps its text).
pub(super) fn resolve_plain(text: &str) -> Option<Scalar> {
    Some(resolve_plain_value(text)).filter(|v| !matches!(v, Scalar::Str))
}

fn resolve_plain_value(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    match text.as_bytes()[0] {
        // A leading dot: a float, read as it is written (no underscores).
        b'.' => match parse_decimal_float(text) {
            Some(f) => Scalar::Float(f),
            None => Scalar::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => resolve_number(text),
        _ => Scalar::Str,
    }
}

/// A scalar that starts with a digit or a sign: an integer (Go's base prefixes `0x`, `0o`,
/// `0b` in either case, a leading `0` for octal, underscores anywhere after the first
/// character), a float, or else a string. (go-yaml tries a timestamp first, `2001-12-14`,
/// which Kubernetes keeps as text: such a text is never a number, so it is a string here.)
fn resolve_number(text: &str) -> Scalar {
    let plain: std::borrow::Cow<'_, str> = if text.contains('_') {
        text.chars()
            .filter(|c| *c != '_')
            .collect::<String>()
            .into()
    } else {
        text.into()
    };
    let (neg, body) = match plain.as_bytes().first() {
        Some(b'-') => (true, &plain[1..]),
        Some(b'+') => (false, &plain[1..]),
        _ => (false, &*plain),
    };
    let prefix = |p: &str| {
        body.as_bytes()
            .get(..2)
            .is_some_and(|b| b.eq_ignore_ascii_case(p.as_bytes()))
    };
    let (digits, radix) = if prefix("0x") {
        (&body[2..], 16)
    } else if prefix("0o") {
        (&body[2..], 8)
    } else if prefix("0b") {
        (&body[2..], 2)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    // `from_str_radix` takes a sign of its own; Go's parser takes one only before a prefix.
    let magnitude = if digits.starts_with(['+', '-']) {
        None
    } else {
        u64::from_str_radix(digits, radix).ok()
    };
    match magnitude {
        Some(v) if neg => match i64::try_from(v) {
            Ok(i) => Scalar::Int(-i),
            Err(_) if v == 1 << 63 => Scalar::Int(i64::MIN),
            // Below i64's range: not an integer for Go either, but it reads as a float.
            Err(_) => float_or_string(&plain),
        },
        Some(v) => match i64::try_from(v) {
            Ok(i) => Scalar::Int(i),
            Err(_) => Scalar::UInt(v),
        },
        None => float_or_string(&plain),
    }
}

/// A float, or a string (its text is the caller's: an empty `Str` stands for it).
fn float_or_string(plain: &str) -> Scalar {
    match parse_decimal_float(plain) {
        Some(f) => Scalar::Float(f),
        None => Scalar::Str,
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (go-yaml's `yamlStyleFloat`).
fn parse_decimal_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int_digits = digits(i);
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = digits(i);
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok()
}

/// The JSON object name of a resolved mapping key, as sigs.k8s.io/yaml converts go-yaml's
/// keys: strings stay, integers are written in decimal (`0x10:` is `"16"`), booleans as
/// `true` or `false` (`on:` is `"true"`), floats as Go's `%g` of a float32 (`1e3:` is
/// `"1000"`). A null key cannot be converted (`unsupported map key`), nor can an integer
/// above `i64::MAX`, nor a collection.
pub(super) fn key_from_scalar(value: Scalar) -> Result<String, String> {
    match value {
        Scalar::Str => Err("a string key is named by its own text".into()),
        Scalar::Bool(b) => Ok(b.to_string()),
        Scalar::Int(i) => Ok(i.to_string()),
        Scalar::Float(f) => Ok(go_float32_g(f)),
        Scalar::Null => Err(
            "a null mapping key has no JSON name (Kubernetes: unsupported map key); quote it"
                .into(),
        ),
        Scalar::UInt(u) => Err(format!(
            "the mapping key {u} has no JSON name in Kubernetes (unsupported map key of type uint64); quote it"
        )),
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, with go-yaml's names for the non-finite.
pub(super) fn go_float32_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    let x = f as f32;
    if x.is_infinite() {
        return if x > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let neg = x.is_sign_negative();
    if x == 0.0 {
        return if neg { "-0".into() } else { "0".into() };
    }
    // Rust's `{:e}` prints the shortest digits that read back as the same f32, as Go does.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else {
        let point = exp + 1;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let point = point as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point - digits.len()));
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    }
    out
}
