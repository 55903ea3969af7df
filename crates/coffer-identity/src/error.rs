//! What can go wrong, with error codes modelled on Alibaba Cloud RAM's.

/// Why an identity operation failed. [`code`](Self::code) is the RAM-style error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// `EntityNotExist.User`.
    #[error("the user {0} does not exist")]
    NoSuchUser(String),
    /// `EntityAlreadyExists.User`.
    #[error("the user {0} already exists")]
    UserAlreadyExists(String),
    /// `EntityNotExist.AccessKey`: no such key, or it belongs to another user.
    #[error("the AccessKey {0} does not exist")]
    NoSuchAccessKey(String),
    /// `LimitExceeded.AccessKey`: a user has at most
    /// [`MAX_ACCESS_KEYS_PER_USER`](crate::MAX_ACCESS_KEYS_PER_USER) keys.
    #[error("{0}")]
    LimitExceeded(String),
    /// `EntityNotExist.Policy`.
    #[error("the policy {0} does not exist")]
    NoSuchPolicy(String),
    /// `EntityAlreadyExists.Policy`.
    #[error("the policy {0} already exists")]
    PolicyAlreadyExists(String),
    /// `DeleteConflict.Policy.User`: the policy is still attached to users.
    #[error("{0}")]
    DeleteConflict(String),
    /// `EntityAlreadyExists.User.Policy`: the policy is already attached to the user.
    #[error("the policy {policy} is already attached to the user {user}")]
    AlreadyAttached { policy: String, user: String },
    /// `EntityNotExist.User.Policy`: the policy is not attached to the user.
    #[error("the policy {policy} is not attached to the user {user}")]
    NotAttached { policy: String, user: String },
    /// `MalformedPolicyDocument`: the policy engine refused the document; the text says where
    /// and why.
    #[error("the policy document is malformed: {0}")]
    MalformedPolicy(String),
    /// `InvalidParameter`: a name, description or status that breaks the rules.
    #[error("{0}")]
    InvalidParameter(String),
    /// `Storage`: the identity file could not be read or written, or is damaged.
    #[error("identity storage: {0}")]
    Storage(String),
}

impl IdentityError {
    /// The RAM-style error code.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::NoSuchUser(_) => "EntityNotExist.User",
            IdentityError::UserAlreadyExists(_) => "EntityAlreadyExists.User",
            IdentityError::NoSuchAccessKey(_) => "EntityNotExist.AccessKey",
            IdentityError::LimitExceeded(_) => "LimitExceeded.AccessKey",
            IdentityError::NoSuchPolicy(_) => "EntityNotExist.Policy",
            IdentityError::PolicyAlreadyExists(_) => "EntityAlreadyExists.Policy",
            IdentityError::DeleteConflict(_) => "DeleteConflict.Policy.User",
            IdentityError::AlreadyAttached { .. } => "EntityAlreadyExists.User.Policy",
            IdentityError::NotAttached { .. } => "EntityNotExist.User.Policy",
            IdentityError::MalformedPolicy(_) => "MalformedPolicyDocument",
            IdentityError::InvalidParameter(_) => "InvalidParameter",
            IdentityError::Storage(_) => "Storage",
        }
    }

    pub(crate) fn io(what: &str, e: std::io::Error) -> IdentityError {
        IdentityError::Storage(format!("{what}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_ram() {
        assert_eq!(
            IdentityError::NoSuchUser("a".into()).code(),
            "EntityNotExist.User"
        );
        assert_eq!(
            IdentityError::DeleteConflict(String::new()).code(),
            "DeleteConflict.Policy.User"
        );
        assert_eq!(
            IdentityError::MalformedPolicy("Statement[0].Effect: bad".into()).to_string(),
            "the policy document is malformed: Statement[0].Effect: bad"
        );
    }
}
