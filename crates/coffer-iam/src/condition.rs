//! The Condition element: operators, keys, values, and how they hold against a request.

use std::net::IpAddr;

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::context::RequestContext;
use crate::error::PolicyErrorKind;
use crate::json::{self, Json};
use crate::wildcard;

/// Condition key names, for building [`RequestContext::values`] and for documentation.
pub mod keys {
    /// The client IP address (`IpAddress`, `NotIpAddress`).
    pub const SOURCE_IP: &str = "acs:SourceIp";
    /// The `User-Agent` header (string operators).
    pub const USER_AGENT: &str = "acs:UserAgent";
    /// The time of the request (date operators).
    pub const CURRENT_TIME: &str = "acs:CurrentTime";
    /// Whether the request came over HTTPS (`Bool`).
    pub const SECURE_TRANSPORT: &str = "acs:SecureTransport";
    /// The AccessKey id that signed the request (string operators).
    pub const ACCESS_ID: &str = "acs:AccessId";
    /// ListObjects / ListObjectVersions / ListMultipartUploads `prefix` parameter.
    pub const PREFIX: &str = "oss:Prefix";
    /// ListObjects / ListObjectVersions / ListMultipartUploads `delimiter` parameter.
    pub const DELIMITER: &str = "oss:Delimiter";
    /// Coffer extension: the `x-oss-server-side-encryption` the request asks for
    /// (`AES256`, `KMS`, `SM4`).
    pub const SSE: &str = "oss:x-oss-server-side-encryption";
    /// Coffer extension: the `x-oss-server-side-data-encryption` the request asks for (`SM4`).
    pub const SSE_DATA: &str = "oss:x-oss-server-side-data-encryption";
    /// Coffer extension: the `x-oss-server-side-encryption-key-id` (CMK id) the request names.
    pub const SSE_KEY_ID: &str = "oss:x-oss-server-side-encryption-key-id";
}

/// Every condition key a policy may use, in canonical spelling (keys match case-insensitively).
///
/// | key | type | value offered by the request |
/// |---|---|---|
/// | `acs:SourceIp` | IP | [`RequestContext::source_ip`] |
/// | `acs:UserAgent` | string | [`RequestContext::user_agent`] |
/// | `acs:CurrentTime` | date | [`RequestContext::current_time`] (always present) |
/// | `acs:SecureTransport` | boolean | [`RequestContext::secure_transport`] (always present) |
/// | `acs:AccessId` | string | [`RequestContext::access_key_id`] |
/// | `oss:Prefix`, `oss:Delimiter` | string | [`RequestContext::values`] (listing requests) |
/// | `oss:x-oss-server-side-encryption` | string | [`RequestContext::values`] (Coffer extension) |
/// | `oss:x-oss-server-side-data-encryption` | string | [`RequestContext::values`] (Coffer extension) |
/// | `oss:x-oss-server-side-encryption-key-id` | string | [`RequestContext::values`] (Coffer extension) |
pub const SUPPORTED_CONDITION_KEYS: &[&str] = &[
    keys::SOURCE_IP,
    keys::USER_AGENT,
    keys::CURRENT_TIME,
    keys::SECURE_TRANSPORT,
    keys::ACCESS_ID,
    keys::PREFIX,
    keys::DELIMITER,
    keys::SSE,
    keys::SSE_DATA,
    keys::SSE_KEY_ID,
];

/// Every condition operator a policy may use. Each also exists with the suffix `IfExists`
/// (e.g. `StringEqualsIfExists`), which holds when the key is missing.
pub const SUPPORTED_CONDITION_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "IpAddress",
    "NotIpAddress",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    SourceIp,
    UserAgent,
    CurrentTime,
    SecureTransport,
    AccessId,
    Prefix,
    Delimiter,
    Sse,
    SseData,
    SseKeyId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    String,
    Date,
    Bool,
    Ip,
}

impl KeyType {
    fn describe(self) -> &'static str {
        match self {
            KeyType::String => "a string key",
            KeyType::Date => "a date key",
            KeyType::Bool => "a boolean key",
            KeyType::Ip => "an IP address key",
        }
    }
}

impl Key {
    const ALL: [Key; 10] = [
        Key::SourceIp,
        Key::UserAgent,
        Key::CurrentTime,
        Key::SecureTransport,
        Key::AccessId,
        Key::Prefix,
        Key::Delimiter,
        Key::Sse,
        Key::SseData,
        Key::SseKeyId,
    ];

    fn name(self) -> &'static str {
        match self {
            Key::SourceIp => keys::SOURCE_IP,
            Key::UserAgent => keys::USER_AGENT,
            Key::CurrentTime => keys::CURRENT_TIME,
            Key::SecureTransport => keys::SECURE_TRANSPORT,
            Key::AccessId => keys::ACCESS_ID,
            Key::Prefix => keys::PREFIX,
            Key::Delimiter => keys::DELIMITER,
            Key::Sse => keys::SSE,
            Key::SseData => keys::SSE_DATA,
            Key::SseKeyId => keys::SSE_KEY_ID,
        }
    }

    fn from_name(name: &str) -> Option<Key> {
        Key::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    fn ty(self) -> KeyType {
        match self {
            Key::SourceIp => KeyType::Ip,
            Key::CurrentTime => KeyType::Date,
            Key::SecureTransport => KeyType::Bool,
            _ => KeyType::String,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    String,
    Numeric,
    Date,
    Bool,
    Ip,
}

/// How a positive comparison relates the request value to the policy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

impl Op {
    const ALL: [Op; 21] = [
        Op::StringEquals,
        Op::StringNotEquals,
        Op::StringEqualsIgnoreCase,
        Op::StringNotEqualsIgnoreCase,
        Op::StringLike,
        Op::StringNotLike,
        Op::NumericEquals,
        Op::NumericNotEquals,
        Op::NumericLessThan,
        Op::NumericLessThanEquals,
        Op::NumericGreaterThan,
        Op::NumericGreaterThanEquals,
        Op::DateEquals,
        Op::DateNotEquals,
        Op::DateLessThan,
        Op::DateLessThanEquals,
        Op::DateGreaterThan,
        Op::DateGreaterThanEquals,
        Op::Bool,
        Op::IpAddress,
        Op::NotIpAddress,
    ];

    fn name(self) -> &'static str {
        // SUPPORTED_CONDITION_OPERATORS lists the names in the order of ALL.
        SUPPORTED_CONDITION_OPERATORS[self as usize]
    }

    fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    fn category(self) -> Category {
        use Op::*;
        match self {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike => Category::String,
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => Category::Numeric,
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Category::Date,
            Bool => Category::Bool,
            IpAddress | NotIpAddress => Category::Ip,
        }
    }

    /// Negated operators hold when *no* request value matches *any* policy value, and when the
    /// key is missing.
    fn negated(self) -> bool {
        use Op::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
        )
    }

    fn cmp(self) -> Cmp {
        use Op::*;
        match self {
            NumericLessThan | DateLessThan => Cmp::Lt,
            NumericLessThanEquals | DateLessThanEquals => Cmp::Le,
            NumericGreaterThan | DateGreaterThan => Cmp::Gt,
            NumericGreaterThanEquals | DateGreaterThanEquals => Cmp::Ge,
            _ => Cmp::Eq,
        }
    }

    fn applies_to(self, ty: KeyType) -> bool {
        matches!(
            (self.category(), ty),
            (Category::String | Category::Numeric, KeyType::String)
                | (Category::Date, KeyType::Date)
                | (Category::Bool, KeyType::Bool)
                | (Category::Ip, KeyType::Ip)
        )
    }
}

/// An IP address range. A single address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?))
            }
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        // `::ffff:a.b.c.d/n` with n >= 96 is the IPv4 range `a.b.c.d/(n-96)`.
        if let IpAddr::V6(v6) = addr
            && let Some(v4) = v6.to_ipv4_mapped()
            && prefix >= 96
        {
            return Some(Cidr {
                addr: IpAddr::V4(v4),
                prefix: prefix - 96,
            });
        }
        Some(Cidr { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A decimal number: `-?digits(.digits)?([eE][+-]?digits)?`, finite.
fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// ISO 8601 as RFC 3339 (`2019-08-12T17:00:00+08:00`, `2019-08-12T09:00:00Z`, fractions
/// allowed) or a date alone (`2019-08-12`, midnight UTC). Compared at whole seconds.
fn parse_date(s: &str) -> Option<i64> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let d = Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp())
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// As written, or lower-cased for the IgnoreCase operators.
    Str(Vec<String>),
    Num(Vec<f64>),
    Date(Vec<i64>),
    Bool(Vec<bool>),
    Ip(Vec<Cidr>),
}

/// One operator applied to one key: `"StringLike": {"oss:Prefix": ["a/*", "b/*"]}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    /// The operator as written, with any `IfExists` suffix.
    op_name: String,
    op: Op,
    if_exists: bool,
    key: Key,
    /// The values as written (scalars rendered as strings), for `to_json`.
    raw: Vec<String>,
    values: Values,
}

/// An error with its path below the statement (`Condition.IpAddress.acs:SourceIp[0]`).
pub(crate) type ClauseError = (String, PolicyErrorKind);

/// Parses the value of a statement's `Condition` element.
pub(crate) fn parse_condition(value: &Json) -> Result<Vec<Clause>, ClauseError> {
    let base = "Condition".to_owned();
    let Json::Object(ops) = value else {
        return Err((base, wrong_type("an object", value)));
    };
    if ops.is_empty() {
        return Err((base, PolicyErrorKind::Empty));
    }
    let mut clauses = Vec::new();
    for (op_name, keys_json) in ops {
        let op_path = format!("{base}.{op_name}");
        let (base_name, if_exists) = match op_name.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (op_name.as_str(), false),
        };
        let op = Op::from_name(base_name).ok_or_else(|| {
            (
                op_path.clone(),
                PolicyErrorKind::UnsupportedOperator(op_name.clone()),
            )
        })?;
        let Json::Object(key_map) = keys_json else {
            return Err((op_path, wrong_type("an object", keys_json)));
        };
        if key_map.is_empty() {
            return Err((op_path, PolicyErrorKind::Empty));
        }
        for (key_name, vals) in key_map {
            let key_path = format!("{op_path}.{key_name}");
            let key = Key::from_name(key_name).ok_or_else(|| {
                (
                    key_path.clone(),
                    PolicyErrorKind::UnsupportedConditionKey(key_name.clone()),
                )
            })?;
            if !op.applies_to(key.ty()) {
                return Err((
                    key_path,
                    PolicyErrorKind::OperatorNotApplicable {
                        operator: op_name.clone(),
                        key: key_name.clone(),
                        key_type: key.ty().describe(),
                    },
                ));
            }
            let raw = scalar_list(vals, &key_path)?;
            let values = typed_values(op, op_name, &raw, &key_path)?;
            clauses.push(Clause {
                op_name: op_name.clone(),
                op,
                if_exists,
                key,
                raw,
                values,
            });
        }
    }
    Ok(clauses)
}

fn wrong_type(expected: &'static str, found: &Json) -> PolicyErrorKind {
    PolicyErrorKind::WrongType {
        expected,
        found: found.kind(),
    }
}

/// A scalar or a non-empty list of scalars, rendered as strings.
fn scalar_list(v: &Json, path: &str) -> Result<Vec<String>, ClauseError> {
    const EXPECTED: &str = "a string, number, boolean or a list of them";
    let scalar = |v: &Json| match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match v {
        Json::Array(items) => {
            if items.is_empty() {
                return Err((path.to_owned(), PolicyErrorKind::Empty));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    scalar(item).ok_or_else(|| (format!("{path}[{i}]"), wrong_type(EXPECTED, item)))
                })
                .collect()
        }
        other => scalar(other)
            .map(|s| vec![s])
            .ok_or_else(|| (path.to_owned(), wrong_type(EXPECTED, other))),
    }
}

fn typed_values(op: Op, op_name: &str, raw: &[String], path: &str) -> Result<Values, ClauseError> {
    fn each<T>(
        raw: &[String],
        path: &str,
        op_name: &str,
        reason: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, ClauseError> {
        let single = raw.len() == 1;
        raw.iter()
            .enumerate()
            .map(|(i, s)| {
                parse(s).ok_or_else(|| {
                    (
                        if single {
                            path.to_owned()
                        } else {
                            format!("{path}[{i}]")
                        },
                        PolicyErrorKind::InvalidConditionValue {
                            operator: op_name.to_owned(),
                            value: s.clone(),
                            reason,
                        },
                    )
                })
            })
            .collect()
    }
    Ok(match op.category() {
        Category::String => match op {
            Op::StringEqualsIgnoreCase | Op::StringNotEqualsIgnoreCase => {
                Values::Str(raw.iter().map(|s| s.to_lowercase()).collect())
            }
            _ => Values::Str(raw.to_vec()),
        },
        Category::Numeric => Values::Num(each(
            raw,
            path,
            op_name,
            "not a decimal number",
            parse_number,
        )?),
        Category::Date => Values::Date(each(
            raw,
            path,
            op_name,
            "not an ISO 8601 date-time (e.g. 2019-08-12T17:00:00+08:00) or date (2019-08-12)",
            parse_date,
        )?),
        Category::Bool => Values::Bool(each(
            raw,
            path,
            op_name,
            "not `true` or `false`",
            parse_bool,
        )?),
        Category::Ip => Values::Ip(each(
            raw,
            path,
            op_name,
            "not an IPv4 or IPv6 address or CIDR block",
            Cidr::parse,
        )?),
    })
}

/// What the request offers for a key.
enum Offered<'a> {
    Missing,
    Ip(IpAddr),
    Date(i64),
    Bool(bool),
    Str(Vec<&'a str>),
}

fn offered<'a>(key: Key, ctx: &'a RequestContext<'_>) -> Offered<'a> {
    let one = |v: Option<&'a str>| v.map_or(Offered::Missing, |s| Offered::Str(vec![s]));
    match key {
        Key::SourceIp => ctx.source_ip.map_or(Offered::Missing, Offered::Ip),
        Key::CurrentTime => Offered::Date(ctx.current_time.unix_timestamp()),
        Key::SecureTransport => Offered::Bool(ctx.secure_transport),
        Key::UserAgent => one(ctx.user_agent),
        Key::AccessId => one(ctx.access_key_id),
        Key::Prefix | Key::Delimiter | Key::Sse | Key::SseData | Key::SseKeyId => {
            let name = key.name();
            let found: Vec<&str> = ctx
                .values
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect();
            if found.is_empty() {
                Offered::Missing
            } else {
                Offered::Str(found)
            }
        }
    }
}

impl Clause {
    /// Whether the clause holds for the request.
    ///
    /// * Missing key: `…IfExists` operators and negated operators hold; the others do not.
    /// * Positive operators hold when some request value matches some policy value.
    /// * Negated operators hold when no request value matches any policy value.
    pub(crate) fn holds(&self, ctx: &RequestContext<'_>) -> bool {
        let negated = self.op.negated();
        let offered = offered(self.key, ctx);
        if matches!(offered, Offered::Missing) {
            return self.if_exists || negated;
        }
        self.any_match(&offered) != negated
    }

    fn any_match(&self, offered: &Offered<'_>) -> bool {
        let cmp = self.op.cmp();
        match (&self.values, offered) {
            (Values::Str(pol), Offered::Str(req)) => match self.op {
                Op::StringEqualsIgnoreCase | Op::StringNotEqualsIgnoreCase => {
                    req.iter().any(|r| pol.contains(&r.to_lowercase()))
                }
                Op::StringLike | Op::StringNotLike => req
                    .iter()
                    .any(|r| pol.iter().any(|p| wildcard::matches(p, r))),
                _ => req.iter().any(|r| pol.iter().any(|p| p == r)),
            },
            (Values::Num(pol), Offered::Str(req)) => req
                .iter()
                .filter_map(|r| parse_number(r))
                .any(|r| pol.iter().any(|&p| cmp.holds(r, p))),
            (Values::Date(pol), Offered::Date(req)) => pol.iter().any(|&p| cmp.holds(*req, p)),
            (Values::Bool(pol), Offered::Bool(req)) => pol.contains(req),
            (Values::Ip(pol), Offered::Ip(req)) => pol.iter().any(|c| c.contains(*req)),
            // Validation pairs operators with keys of their type; nothing else can arrive.
            _ => false,
        }
    }
}

/// Appends the `Condition` object for `clauses` (non-empty) to `out`.
pub(crate) fn write_condition(out: &mut String, clauses: &[Clause]) {
    out.push('{');
    let mut i = 0;
    let mut first_op = true;
    while i < clauses.len() {
        let op_name = &clauses[i].op_name;
        if !first_op {
            out.push(',');
        }
        first_op = false;
        json::write_str(out, op_name);
        out.push_str(":{");
        let mut first_key = true;
        while i < clauses.len() && clauses[i].op_name == *op_name {
            if !first_key {
                out.push(',');
            }
            first_key = false;
            json::write_str(out, clauses[i].key.name());
            out.push(':');
            json::write_str_list(out, clauses[i].raw.iter().map(String::as_str));
            i += 1;
        }
        out.push('}');
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn operator_names_line_up() {
        for op in Op::ALL {
            assert_eq!(Op::from_name(op.name()), Some(op));
        }
        assert_eq!(Op::ALL.len(), SUPPORTED_CONDITION_OPERATORS.len());
        for k in Key::ALL {
            assert!(SUPPORTED_CONDITION_KEYS.contains(&k.name()));
            assert_eq!(Key::from_name(&k.name().to_uppercase()), Some(k));
        }
        assert_eq!(Key::ALL.len(), SUPPORTED_CONDITION_KEYS.len());
    }

    #[test]
    fn numbers() {
        for (s, v) in [
            ("0", 0.0),
            ("-12", -12.0),
            ("3.25", 3.25),
            ("1e3", 1000.0),
            ("2E-1", 0.2),
        ] {
            assert_eq!(parse_number(s), Some(v), "{s}");
        }
        for s in [
            "", "-", "+1", "1.", ".5", "1e", "0x10", "NaN", "inf", " 1", "1 ", "1e999",
        ] {
            assert_eq!(parse_number(s), None, "{s}");
        }
    }

    #[test]
    fn dates() {
        let t = parse_date("2019-08-12T17:00:00+08:00").unwrap();
        assert_eq!(parse_date("2019-08-12T09:00:00Z"), Some(t));
        assert_eq!(parse_date("2019-08-12T09:00:00.999Z"), Some(t));
        assert_eq!(parse_date("2019-08-12"), Some(t - 9 * 3600));
        // RFC 3339 also allows a space for the `T`.
        assert_eq!(parse_date("2019-08-12 09:00:00Z"), Some(t));
        for s in ["2019-08-12T17:00", "12/08/2019", "2019-13-01", ""] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("192.168.0.0/16").unwrap();
        assert!(c.contains("192.168.255.1".parse().unwrap()));
        assert!(!c.contains("192.169.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:192.168.1.1".parse().unwrap()));
        assert!(!c.contains("2001:db8::1".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let one = Cidr::parse("10.0.0.1").unwrap();
        assert!(one.contains("10.0.0.1".parse().unwrap()));
        assert!(!one.contains("10.0.0.2".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(
            Cidr::parse("::/0")
                .unwrap()
                .contains(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        let mapped = Cidr::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(mapped.contains(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))));
        for s in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0",
            "x",
            "10.0.0.0/8/8",
            "",
        ] {
            assert_eq!(Cidr::parse(s), None, "{s}");
        }
    }
}
