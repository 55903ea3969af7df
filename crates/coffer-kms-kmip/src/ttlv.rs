//! KMIP's Tag-Type-Length-Value encoding (KMIP 1.4 §9.1): a 3-byte tag, a 1-byte type, a
//! 4-byte big-endian length, then the value padded with zeros to a multiple of 8 bytes.
//! Only the types Coffer's requests and PyKMIP's answers use are supported; a Big Integer
//! or Interval in an answer is decoded as opaque bytes so an unknown field cannot fail a
//! whole message. Byte strings may hold key material, so they and every encoded message
//! are wiped when dropped.

use zeroize::Zeroizing;

/// The deepest nesting accepted when decoding: KMIP messages Coffer reads are four levels
/// deep; a hostile peer must not be able to exhaust the stack.
const MAX_DEPTH: usize = 16;

/// One TTLV item: a tag and its typed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub tag: u32,
    pub value: Value,
}

/// The value of an item, one variant per TTLV type.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Structure(Vec<Item>),
    Integer(i32),
    LongInteger(i64),
    Enumeration(u32),
    Boolean(bool),
    TextString(String),
    ByteString(Zeroizing<Vec<u8>>),
    /// Seconds since the Unix epoch.
    DateTime(i64),
    /// A type Coffer does not interpret (Big Integer, Interval): its type code and bytes.
    Other(u8, Vec<u8>),
}

/// Byte strings are shown by length only: they may be data keys.
impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Structure(items) => f.debug_list().entries(items).finish(),
            Value::Integer(v) => write!(f, "Integer({v})"),
            Value::LongInteger(v) => write!(f, "LongInteger({v})"),
            Value::Enumeration(v) => write!(f, "Enumeration({v:#x})"),
            Value::Boolean(v) => write!(f, "Boolean({v})"),
            Value::TextString(v) => write!(f, "TextString({v:?})"),
            Value::ByteString(v) => write!(f, "ByteString({} bytes)", v.len()),
            Value::DateTime(v) => write!(f, "DateTime({v})"),
            Value::Other(t, v) => write!(f, "Other({t:#x}, {} bytes)", v.len()),
        }
    }
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed TTLV: {0}")]
pub struct DecodeError(pub &'static str);

impl Item {
    pub fn new(tag: u32, value: Value) -> Item {
        Item { tag, value }
    }

    pub fn structure(tag: u32, items: Vec<Item>) -> Item {
        Item::new(tag, Value::Structure(items))
    }

    /// The encoded bytes of this item (header and padded value). The buffer is allocated
    /// at its final size up front: a growing Vec would leave copies of a data key behind in
    /// the memory it moved out of, where wiping the final buffer cannot reach them.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.encoded_len()));
        self.encode_into(&mut out);
        out
    }

    /// The length of [`Item::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let len = match &self.value {
            Value::Structure(items) => items.iter().map(Item::encoded_len).sum(),
            Value::Integer(_) | Value::Enumeration(_) => 4,
            Value::LongInteger(_) | Value::DateTime(_) | Value::Boolean(_) => 8,
            Value::TextString(v) => v.len(),
            Value::ByteString(v) => v.len(),
            Value::Other(_, v) => v.len(),
        };
        8 + len + padding(len)
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tag.to_be_bytes()[1..]);
        out.push(self.value.type_code());
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let start = out.len();
        match &self.value {
            Value::Structure(items) => items.iter().for_each(|i| i.encode_into(out)),
            Value::Integer(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::LongInteger(v) | Value::DateTime(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Enumeration(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Boolean(v) => out.extend_from_slice(&u64::from(*v).to_be_bytes()),
            Value::TextString(v) => out.extend_from_slice(v.as_bytes()),
            Value::ByteString(v) => out.extend_from_slice(v),
            Value::Other(_, v) => out.extend_from_slice(v),
        }
        let len = out.len() - start;
        // A length past u32 cannot be built from Coffer's requests (a few hundred bytes).
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        out[len_at..start].copy_from_slice(&len32.to_be_bytes());
        out.resize(out.len() + padding(len), 0);
    }

    /// Decodes exactly one item that fills `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Item, DecodeError> {
        let mut reader = Reader { bytes, depth: 0 };
        let item = reader.item()?;
        if !reader.bytes.is_empty() {
            return Err(DecodeError("trailing bytes after the message"));
        }
        Ok(item)
    }

    /// The first child with `tag`, if this is a structure.
    pub fn child(&self, tag: u32) -> Option<&Item> {
        self.children().iter().find(|i| i.tag == tag)
    }

    /// Every child with `tag`.
    pub fn children_with(&self, tag: u32) -> impl Iterator<Item = &Item> {
        self.children().iter().filter(move |i| i.tag == tag)
    }

    fn children(&self) -> &[Item] {
        match &self.value {
            Value::Structure(items) => items,
            _ => &[],
        }
    }
}

impl Value {
    fn type_code(&self) -> u8 {
        match self {
            Value::Structure(_) => 0x01,
            Value::Integer(_) => 0x02,
            Value::LongInteger(_) => 0x03,
            Value::Enumeration(_) => 0x05,
            Value::Boolean(_) => 0x06,
            Value::TextString(_) => 0x07,
            Value::ByteString(_) => 0x08,
            Value::DateTime(_) => 0x09,
            Value::Other(t, _) => *t,
        }
    }
}

/// Zeros that bring `len` to a multiple of 8.
fn padding(len: usize) -> usize {
    (8 - len % 8) % 8
}

/// The length of the whole item (header, value and padding) whose 8-byte header is
/// `header`; the caller bounds it before reading that much.
pub fn framed_len(header: &[u8; 8]) -> usize {
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    8 + len + padding(len)
}

struct Reader<'a> {
    bytes: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError("truncated item"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn item(&mut self) -> Result<Item, DecodeError> {
        let header = self.take(8)?;
        let tag = u32::from_be_bytes([0, header[0], header[1], header[2]]);
        let kind = header[3];
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let raw = self.take(len)?;
        let pad = self.take(padding(len))?;
        if pad.iter().any(|&b| b != 0) {
            return Err(DecodeError("non-zero padding"));
        }
        Ok(Item::new(tag, self.value(kind, raw)?))
    }

    fn value(&mut self, kind: u8, raw: &[u8]) -> Result<Value, DecodeError> {
        Ok(match kind {
            0x01 => Value::Structure(self.structure(raw)?),
            0x02 => Value::Integer(i32::from_be_bytes(fixed(raw)?)),
            0x03 => Value::LongInteger(i64::from_be_bytes(fixed(raw)?)),
            0x05 => Value::Enumeration(u32::from_be_bytes(fixed(raw)?)),
            0x06 => match u64::from_be_bytes(fixed(raw)?) {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => return Err(DecodeError("boolean neither 0 nor 1")),
            },
            0x07 => Value::TextString(
                String::from_utf8(raw.to_vec()).map_err(|_| DecodeError("text not UTF-8"))?,
            ),
            0x08 => Value::ByteString(Zeroizing::new(raw.to_vec())),
            0x09 => Value::DateTime(i64::from_be_bytes(fixed(raw)?)),
            0x04 | 0x0A => Value::Other(kind, raw.to_vec()),
            _ => return Err(DecodeError("unknown item type")),
        })
    }

    fn structure(&mut self, raw: &[u8]) -> Result<Vec<Item>, DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(DecodeError("structures nested too deep"));
        }
        let mut inner = Reader {
            bytes: raw,
            depth: self.depth + 1,
        };
        let mut items = Vec::new();
        while !inner.bytes.is_empty() {
            items.push(inner.item()?);
        }
        Ok(items)
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], DecodeError> {
    raw.try_into()
        .map_err(|_| DecodeError("wrong length for a fixed-size type"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '|')
            .collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn bytes(b: &[u8]) -> Value {
        Value::ByteString(Zeroizing::new(b.to_vec()))
    }

    /// The examples of KMIP 1.4 §9.1.2, byte for byte, both ways.
    #[test]
    fn the_specifications_examples_encode_and_decode() {
        let cases = [
            (
                Value::Integer(8),
                "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00",
            ),
            (
                Value::LongInteger(123_456_789_000_000_000),
                "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00",
            ),
            (
                Value::Enumeration(255),
                "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
            ),
            (
                Value::Boolean(true),
                "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01",
            ),
            (
                Value::TextString("Hello World".into()),
                "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00",
            ),
            (
                bytes(&[1, 2, 3]),
                "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00",
            ),
            // Friday, March 14, 2008, 11:56:40 GMT.
            (
                Value::DateTime(0x47DA_67F8),
                "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8",
            ),
            (
                Value::Structure(vec![
                    Item::new(0x420004, Value::Enumeration(254)),
                    Item::new(0x420005, Value::Integer(255)),
                ]),
                "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 \
                 00 00 | 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
            ),
        ];
        for (value, expected) in cases {
            let item = Item::new(0x420020, value);
            let encoded = item.encode();
            assert_eq!(*encoded, hex(expected), "{item:?}");
            assert_eq!(item.encoded_len(), encoded.len());
            assert_eq!(Item::decode(&encoded).unwrap(), item);
        }
    }

    /// The spec's Interval example (10 days) is kept as opaque bytes and written back as is.
    #[test]
    fn an_interval_survives_as_opaque_bytes() {
        let wire = hex("42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00");
        let item = Item::decode(&wire).unwrap();
        assert_eq!(item.value, Value::Other(0x0A, vec![0x00, 0x0D, 0x2F, 0x00]));
        assert_eq!(*item.encode(), wire);
    }

    #[test]
    fn nested_structures_round_trip() {
        let item = Item::structure(
            0x420078,
            vec![
                Item::structure(
                    0x420077,
                    vec![
                        Item::new(0x42000D, Value::Integer(1)),
                        Item::new(0x420092, Value::DateTime(1_700_000_000)),
                        Item::new(0x420008, Value::Boolean(false)),
                    ],
                ),
                Item::new(0x420094, Value::TextString("k/1".into())),
                Item::new(0x4200C2, bytes(&[7; 33])),
                Item::new(0x420003, Value::LongInteger(-5)),
                Item::structure(0x42000F, vec![]),
            ],
        );
        let encoded = item.encode();
        assert_eq!(encoded.len() % 8, 0);
        assert_eq!(encoded.len(), item.encoded_len());
        assert_eq!(
            encoded.capacity(),
            encoded.len(),
            "allocated once, never grown"
        );
        let decoded = Item::decode(&encoded).unwrap();
        assert_eq!(decoded, item);
        assert_eq!(
            decoded.child(0x420094).map(|i| &i.value),
            Some(&Value::TextString("k/1".into()))
        );
        assert_eq!(decoded.children_with(0x42000F).count(), 1);
        let header: [u8; 8] = encoded[..8].try_into().unwrap();
        assert_eq!(framed_len(&header), encoded.len());
    }

    #[test]
    fn malformed_input_is_refused() {
        let good = Item::new(0x420020, Value::Integer(8)).encode();
        assert!(Item::decode(&good[..good.len() - 1]).is_err(), "truncated");
        let mut bad_pad = good.to_vec();
        bad_pad[15] = 1;
        assert!(Item::decode(&bad_pad).is_err(), "padding");
        let mut bad_len = good.to_vec();
        bad_len[7] = 8;
        assert!(Item::decode(&bad_len).is_err(), "integer of 8 bytes");
        let mut trailing = good.to_vec();
        trailing.extend_from_slice(&good);
        assert!(Item::decode(&trailing).is_err(), "two items");
        let bad_bool = hex("42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02");
        assert!(Item::decode(&bad_bool).is_err(), "boolean 2");
        let unknown = hex("42 00 20 | 0F | 00 00 00 00");
        assert!(Item::decode(&unknown).is_err(), "type 0x0F");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut item = Item::new(0x420020, Value::Integer(1));
        for _ in 0..=MAX_DEPTH {
            item = Item::structure(0x420020, vec![item]);
        }
        assert_eq!(
            Item::decode(&item.encode()),
            Err(DecodeError("structures nested too deep"))
        );
    }

    #[test]
    fn byte_strings_do_not_show_in_debug() {
        let item = Item::new(0x4200C2, bytes(b"secret key bytes"));
        assert!(!format!("{item:?}").contains("secret"));
    }
}
