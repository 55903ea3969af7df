//! The KMIP 1.4 messages Coffer sends and the parts of the answers it reads: one batch
//! item per request, AES-256 keys, AES-GCM Encrypt/Decrypt with additional authenticated
//! data (the Authenticated Encryption fields are KMIP 1.4's, hence the protocol version).
//! Tag and enumeration values are those of the KMIP 1.4 specification, §9.1.3.

use zeroize::Zeroizing;

use crate::ttlv::{Item, Value};

/// The tags Coffer writes or reads.
pub mod tag {
    pub const ATTRIBUTE: u32 = 0x420008;
    pub const ATTRIBUTE_NAME: u32 = 0x42000A;
    pub const ATTRIBUTE_VALUE: u32 = 0x42000B;
    pub const BATCH_COUNT: u32 = 0x42000D;
    pub const BATCH_ITEM: u32 = 0x42000F;
    pub const BLOCK_CIPHER_MODE: u32 = 0x420011;
    pub const CRYPTOGRAPHIC_ALGORITHM: u32 = 0x420028;
    pub const CRYPTOGRAPHIC_PARAMETERS: u32 = 0x42002B;
    pub const IV_COUNTER_NONCE: u32 = 0x42003D;
    pub const NAME_TYPE: u32 = 0x420054;
    pub const NAME_VALUE: u32 = 0x420055;
    pub const OBJECT_TYPE: u32 = 0x420057;
    pub const OPERATION: u32 = 0x42005C;
    pub const PROTOCOL_VERSION: u32 = 0x420069;
    pub const PROTOCOL_VERSION_MAJOR: u32 = 0x42006A;
    pub const PROTOCOL_VERSION_MINOR: u32 = 0x42006B;
    pub const REQUEST_HEADER: u32 = 0x420077;
    pub const REQUEST_MESSAGE: u32 = 0x420078;
    pub const REQUEST_PAYLOAD: u32 = 0x420079;
    pub const RESPONSE_MESSAGE: u32 = 0x42007B;
    pub const RESPONSE_PAYLOAD: u32 = 0x42007C;
    pub const RESULT_MESSAGE: u32 = 0x42007D;
    pub const RESULT_REASON: u32 = 0x42007E;
    pub const RESULT_STATUS: u32 = 0x42007F;
    pub const REVOCATION_REASON: u32 = 0x420081;
    pub const REVOCATION_REASON_CODE: u32 = 0x420082;
    pub const TEMPLATE_ATTRIBUTE: u32 = 0x420091;
    pub const UNIQUE_IDENTIFIER: u32 = 0x420094;
    pub const DATA: u32 = 0x4200C2;
    pub const TAG_LENGTH: u32 = 0x4200CE;
    pub const AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA: u32 = 0x4200FE;
    pub const AUTHENTICATED_ENCRYPTION_TAG: u32 = 0x4200FF;
}

/// The operations Coffer uses (KMIP 1.4 §9.1.3.2.27).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create = 0x01,
    Locate = 0x08,
    GetAttributes = 0x0B,
    Activate = 0x12,
    Revoke = 0x13,
    Destroy = 0x14,
    Encrypt = 0x1F,
    Decrypt = 0x20,
}

/// Result reasons Coffer tells apart (KMIP 1.4 §9.1.3.2.29); the rest keep their number.
pub mod reason {
    pub const ITEM_NOT_FOUND: u32 = 0x01;
    pub const AUTHENTICATION_NOT_SUCCESSFUL: u32 = 0x03;
    pub const CRYPTOGRAPHIC_FAILURE: u32 = 0x0A;
    pub const PERMISSION_DENIED: u32 = 0x0C;
    pub const GENERAL_FAILURE: u32 = 0x100;
}

const OBJECT_TYPE_SYMMETRIC_KEY: u32 = 0x02;
const ALGORITHM_AES: u32 = 0x03;
const MODE_GCM: u32 = 0x09;
const USAGE_ENCRYPT_DECRYPT: i32 = 0x04 | 0x08;
const NAME_TYPE_TEXT: u32 = 0x01;
const REVOCATION_CESSATION_OF_OPERATION: u32 = 0x06;
/// The GCM tag length Coffer asks for and accepts, in bytes.
pub const TAG_LEN: usize = 16;

/// A whole request message: a KMIP 1.4 header and one batch item.
pub fn request(operation: Operation, payload: Vec<Item>) -> Item {
    let version = Item::structure(
        tag::PROTOCOL_VERSION,
        vec![
            Item::new(tag::PROTOCOL_VERSION_MAJOR, Value::Integer(1)),
            Item::new(tag::PROTOCOL_VERSION_MINOR, Value::Integer(4)),
        ],
    );
    let header = Item::structure(
        tag::REQUEST_HEADER,
        vec![version, Item::new(tag::BATCH_COUNT, Value::Integer(1))],
    );
    let batch = Item::structure(
        tag::BATCH_ITEM,
        vec![
            Item::new(tag::OPERATION, Value::Enumeration(operation as u32)),
            Item::structure(tag::REQUEST_PAYLOAD, payload),
        ],
    );
    Item::structure(tag::REQUEST_MESSAGE, vec![header, batch])
}

fn text(tag: u32, s: &str) -> Item {
    Item::new(tag, Value::TextString(s.to_owned()))
}

fn bytes(tag: u32, b: &[u8]) -> Item {
    Item::new(tag, Value::ByteString(Zeroizing::new(b.to_vec())))
}

fn attribute(name: &str, value: Value) -> Item {
    Item::structure(
        tag::ATTRIBUTE,
        vec![
            text(tag::ATTRIBUTE_NAME, name),
            Item::new(tag::ATTRIBUTE_VALUE, value),
        ],
    )
}

fn name_attribute(name: &str) -> Item {
    attribute(
        "Name",
        Value::Structure(vec![
            text(tag::NAME_VALUE, name),
            Item::new(tag::NAME_TYPE, Value::Enumeration(NAME_TYPE_TEXT)),
        ]),
    )
}

fn symmetric_key() -> Item {
    Item::new(
        tag::OBJECT_TYPE,
        Value::Enumeration(OBJECT_TYPE_SYMMETRIC_KEY),
    )
}

/// Locate: every symmetric key.
pub fn locate_symmetric_keys() -> Vec<Item> {
    vec![attribute(
        "Object Type",
        Value::Enumeration(OBJECT_TYPE_SYMMETRIC_KEY),
    )]
}

/// Get Attributes: the named attributes of one object.
pub fn get_attributes(uid: &str, names: &[&str]) -> Vec<Item> {
    let mut payload = vec![text(tag::UNIQUE_IDENTIFIER, uid)];
    payload.extend(names.iter().map(|n| text(tag::ATTRIBUTE_NAME, n)));
    payload
}

/// The Attribute Value item of the first attribute called `name` in a Get Attributes answer.
pub fn attribute_value<'a>(payload: &'a Item, name: &str) -> Option<&'a Item> {
    payload
        .children_with(tag::ATTRIBUTE)
        .find(|a| {
            matches!(&a.child(tag::ATTRIBUTE_NAME).map(|n| &n.value),
                Some(Value::TextString(n)) if n == name)
        })
        .and_then(|a| a.child(tag::ATTRIBUTE_VALUE))
}

/// KMIP object states (KMIP 1.4 §9.1.3.2.17).
pub mod state {
    pub const ACTIVE: u32 = 0x02;
    pub const DESTROYED: u32 = 0x05;
}

/// Create: an AES-256 key for Encrypt and Decrypt, named `name`.
pub fn create_aes256(name: &str) -> Vec<Item> {
    let template = Item::structure(
        tag::TEMPLATE_ATTRIBUTE,
        vec![
            attribute("Cryptographic Algorithm", Value::Enumeration(ALGORITHM_AES)),
            attribute("Cryptographic Length", Value::Integer(256)),
            attribute(
                "Cryptographic Usage Mask",
                Value::Integer(USAGE_ENCRYPT_DECRYPT),
            ),
            name_attribute(name),
        ],
    );
    vec![symmetric_key(), template]
}

/// Locate: the symmetric keys named `name`.
pub fn locate_by_name(name: &str) -> Vec<Item> {
    vec![
        attribute("Object Type", Value::Enumeration(OBJECT_TYPE_SYMMETRIC_KEY)),
        name_attribute(name),
    ]
}

/// Activate, Destroy: the object alone.
pub fn object(uid: &str) -> Vec<Item> {
    vec![text(tag::UNIQUE_IDENTIFIER, uid)]
}

/// Revoke for cessation of operation (the key is retired, not compromised).
pub fn revoke(uid: &str) -> Vec<Item> {
    let reason = Item::structure(
        tag::REVOCATION_REASON,
        vec![Item::new(
            tag::REVOCATION_REASON_CODE,
            Value::Enumeration(REVOCATION_CESSATION_OF_OPERATION),
        )],
    );
    vec![text(tag::UNIQUE_IDENTIFIER, uid), reason]
}

fn gcm_parameters() -> Item {
    Item::structure(
        tag::CRYPTOGRAPHIC_PARAMETERS,
        vec![
            Item::new(tag::BLOCK_CIPHER_MODE, Value::Enumeration(MODE_GCM)),
            Item::new(
                tag::CRYPTOGRAPHIC_ALGORITHM,
                Value::Enumeration(ALGORITHM_AES),
            ),
            Item::new(tag::TAG_LENGTH, Value::Integer(TAG_LEN as i32)),
        ],
    )
}

/// What AES-GCM seals or opens on the server: the nonce and additional data are Coffer's.
pub struct GcmInput<'a> {
    pub uid: &'a str,
    pub data: &'a [u8],
    pub nonce: &'a [u8],
    pub aad: &'a [u8],
}

/// Encrypt, in the field order of KMIP 1.4 §4.29.
pub fn encrypt(input: &GcmInput<'_>) -> Vec<Item> {
    vec![
        text(tag::UNIQUE_IDENTIFIER, input.uid),
        gcm_parameters(),
        bytes(tag::DATA, input.data),
        bytes(tag::IV_COUNTER_NONCE, input.nonce),
        bytes(tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA, input.aad),
    ]
}

/// Decrypt, in the field order of KMIP 1.4 §4.30.
pub fn decrypt(input: &GcmInput<'_>, auth_tag: &[u8]) -> Vec<Item> {
    let mut payload = encrypt(input);
    payload.push(bytes(tag::AUTHENTICATED_ENCRYPTION_TAG, auth_tag));
    payload
}

/// A batch item the server did not perform: its result reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: u32,
    pub message: String,
}

/// Why an answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// The server refused the operation.
    Failed(Failure),
    /// Not a response to the request sent.
    Malformed(&'static str),
}

/// The payload of a response's only batch item, or why there is none.
pub fn response_payload(message: &Item, operation: Operation) -> Result<Item, AnswerError> {
    if message.tag != tag::RESPONSE_MESSAGE {
        return Err(AnswerError::Malformed("not a response message"));
    }
    let batch = message
        .child(tag::BATCH_ITEM)
        .ok_or(AnswerError::Malformed("response without a batch item"))?;
    let status = enumeration(batch, tag::RESULT_STATUS)
        .ok_or(AnswerError::Malformed("batch item without a result status"))?;
    if status != 0 {
        return Err(AnswerError::Failed(Failure {
            reason: enumeration(batch, tag::RESULT_REASON).unwrap_or(reason::GENERAL_FAILURE),
            message: text_of(batch, tag::RESULT_MESSAGE).unwrap_or_default(),
        }));
    }
    // A server may omit the operation in a successful item; if present it must match.
    if let Some(op) = enumeration(batch, tag::OPERATION)
        && op != operation as u32
    {
        return Err(AnswerError::Malformed("answer to another operation"));
    }
    Ok(batch
        .child(tag::RESPONSE_PAYLOAD)
        .cloned()
        .unwrap_or_else(|| Item::structure(tag::RESPONSE_PAYLOAD, Vec::new())))
}

pub fn enumeration(item: &Item, tag: u32) -> Option<u32> {
    match item.child(tag)?.value {
        Value::Enumeration(v) => Some(v),
        _ => None,
    }
}

pub fn text_of(item: &Item, tag: u32) -> Option<String> {
    match &item.child(tag)?.value {
        Value::TextString(s) => Some(s.clone()),
        _ => None,
    }
}

pub fn bytes_of(item: &Item, tag: u32) -> Option<&Zeroizing<Vec<u8>>> {
    match &item.child(tag)?.value {
        Value::ByteString(b) => Some(b),
        _ => None,
    }
}

/// Every unique identifier in a payload (Locate answers with several).
pub fn unique_identifiers(payload: &Item) -> Vec<String> {
    payload
        .children_with(tag::UNIQUE_IDENTIFIER)
        .filter_map(|i| match &i.value {
            Value::TextString(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(batch: Vec<Item>) -> Item {
        Item::structure(
            tag::RESPONSE_MESSAGE,
            vec![Item::structure(tag::BATCH_ITEM, batch)],
        )
    }

    #[test]
    fn a_request_carries_version_1_4_and_one_batch_item() {
        let msg = request(Operation::Activate, object("7"));
        let header = msg.child(tag::REQUEST_HEADER).unwrap();
        let version = header.child(tag::PROTOCOL_VERSION).unwrap();
        assert_eq!(
            version.child(tag::PROTOCOL_VERSION_MINOR).unwrap().value,
            Value::Integer(4)
        );
        let batch = msg.child(tag::BATCH_ITEM).unwrap();
        assert_eq!(enumeration(batch, tag::OPERATION), Some(0x12));
        let payload = batch.child(tag::REQUEST_PAYLOAD).unwrap();
        assert_eq!(unique_identifiers(payload), vec!["7".to_owned()]);
    }

    /// The same Encrypt payload as PyKMIP 0.11 writes it for KMIP 1.4
    /// (`EncryptRequestPayload(...).write(stream, kmip_version=KMIP_1_4)`), byte for byte:
    /// a second implementation agrees on tags, types, field order and padding.
    #[test]
    fn an_encrypt_payload_is_byte_for_byte_pykmips() {
        let pykmip = "42007901000000984200940700000001310000000000000042002b0100000030\
                      42001105000000040000000900000000420028050000000400000003000000004200ce\
                      020000000400000010000000004200c208000000200101010101010101010101010101\
                      01010101010101010101010101010101010142003d080000000c020202020202020202\
                      020202000000004200fe08000000036374780000000000";
        let input = GcmInput {
            uid: "1",
            data: &[1; 32],
            nonce: &[2; 12],
            aad: b"ctx",
        };
        let payload = Item::structure(tag::REQUEST_PAYLOAD, encrypt(&input));
        let hex: String = payload
            .encode()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, pykmip);
    }

    #[test]
    fn decrypt_adds_the_tag_after_the_encrypt_fields() {
        let input = GcmInput {
            uid: "1",
            data: &[1; 32],
            nonce: &[2; 12],
            aad: b"ctx",
        };
        let payload = decrypt(&input, &[3; 16]);
        let tags: Vec<u32> = payload.iter().map(|i| i.tag).collect();
        assert_eq!(
            tags,
            [
                tag::UNIQUE_IDENTIFIER,
                tag::CRYPTOGRAPHIC_PARAMETERS,
                tag::DATA,
                tag::IV_COUNTER_NONCE,
                tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
                tag::AUTHENTICATED_ENCRYPTION_TAG
            ]
        );
    }

    #[test]
    fn a_failed_item_gives_its_reason_and_message() {
        let failed = answer(vec![
            Item::new(tag::OPERATION, Value::Enumeration(0x1F)),
            Item::new(tag::RESULT_STATUS, Value::Enumeration(1)),
            Item::new(tag::RESULT_REASON, Value::Enumeration(0x01)),
            text(tag::RESULT_MESSAGE, "Could not locate object: 9"),
        ]);
        assert_eq!(
            response_payload(&failed, Operation::Encrypt),
            Err(AnswerError::Failed(Failure {
                reason: reason::ITEM_NOT_FOUND,
                message: "Could not locate object: 9".into()
            }))
        );
    }

    #[test]
    fn a_success_gives_its_payload_and_checks_the_operation() {
        let ok = answer(vec![
            Item::new(tag::OPERATION, Value::Enumeration(0x08)),
            Item::new(tag::RESULT_STATUS, Value::Enumeration(0)),
            Item::structure(
                tag::RESPONSE_PAYLOAD,
                vec![
                    text(tag::UNIQUE_IDENTIFIER, "3"),
                    text(tag::UNIQUE_IDENTIFIER, "4"),
                ],
            ),
        ]);
        let payload = response_payload(&ok, Operation::Locate).unwrap();
        assert_eq!(unique_identifiers(&payload), ["3", "4"]);
        assert_eq!(
            response_payload(&ok, Operation::Decrypt),
            Err(AnswerError::Malformed("answer to another operation"))
        );
        let request = request(Operation::Locate, Vec::new());
        assert!(response_payload(&request, Operation::Locate).is_err());
    }
}
